/**
 * Python's `socket` module, for what the event loop needs: `Socket` over a
 * BSD socket descriptor (through the native addon), `socket()`,
 * `socketpair()`, `fromFd()`, and the module's constants. Exported as the
 * namespace `socket`.
 *
 * It lives in the Node backend rather than in the core because every method
 * is a system call through the addon; an interface in front of a single
 * implementation would add nothing.
 *
 * Blocking is Python's: a blocking socket (the default) blocks the calling
 * thread in `recv`, `accept`, `connect`, ..., and in JavaScript that is the
 * whole event loop. Use `setblocking(false)` and the loop's `sock*` methods
 * (`loop.sockRecv`, ...) to wait without blocking. `settimeout(t)` works as
 * in Python (the thread blocks for at most `t` seconds per call).
 */
import { Buffer } from "node:buffer";
import { TimeoutError, ValueError } from "../exceptions.js";
import type { Address } from "../protocols.js";
import {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  SO_ERROR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../socket_constants.js";
import { addon, errnoError, raiseErrno, sys } from "./addon.js";
import { releaseDescriptor } from "./fd_watch.js";

export * from "../socket_constants.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** `listen()`'s default backlog: Python's `min(SOMAXCONN, 128)`. */
const DEFAULT_BACKLOG = 128;

/** Sockets dropped without `close()` release their descriptor when collected, as Python's do. */
const leaked = new FinalizationRegistry<number>((fd) => {
  releaseDescriptor(fd);
  try {
    addon().close(fd);
  } catch {
    // Already closed behind our back: nothing left to release.
  }
});

const FAMILY_NAMES: Record<number, string> = { [AF_INET]: "AF_INET", [AF_INET6]: "AF_INET6", [AF_UNIX]: "AF_UNIX" };
const TYPE_NAMES: Record<number, string> = { [SOCK_STREAM]: "SOCK_STREAM", [SOCK_DGRAM]: "SOCK_DGRAM" };

/** Python's repr of an address: `('127.0.0.1', 8080)`. */
function addressRepr(address: Address | Uint8Array | null): string {
  if (address === null) return "None";
  if (typeof address === "string") return `'${address}'`;
  if (address instanceof Uint8Array) return `b'${Buffer.from(address).toString("latin1")}'`;
  return `(${address.map((part) => (typeof part === "string" ? `'${part}'` : String(part))).join(", ")})`;
}

/** `host:port`, `[host]:port` or the path, for error messages. */
export function addressText(address: Address | Uint8Array): string {
  if (typeof address === "string") return address;
  if (address instanceof Uint8Array) return Buffer.from(address).toString("latin1");
  return address[0].includes(":") ? `[${address[0]}]:${address[1]}` : `${address[0]}:${address[1]}`;
}

function checkBufsize(bufsize: number, method: string): void {
  if (!Number.isInteger(bufsize) || bufsize < 0) throw new ValueError(`negative buffersize in ${method}: ${bufsize}`);
}

/**
 * A socket (Python's `socket.socket`). Construct it as Python does:
 * `new Socket(family, type, proto)` makes a new socket, `new Socket(family,
 * type, proto, fileno)` adopts an open descriptor (family, type and proto
 * are then read from it when omitted). Closed by `close()`, by `using`, or
 * when collected.
 *
 * @example
 * ```ts
 * const { socket } = asyncio;
 * const [rsock, wsock] = socket.socketpair();
 * rsock.setblocking(false);
 * const loop = asyncio.getRunningLoop();
 * loop.callSoon(() => wsock.send(Buffer.from("abc")));
 * const data = await loop.sockRecv(rsock, 100); // <Buffer 61 62 63>
 * rsock.close();
 * wsock.close();
 * ```
 */
export class Socket {
  private _fd: number;
  private readonly _family: number;
  private readonly _type: number;
  private readonly _proto: number;
  /** Python's timeout: `null` blocking, `0` non-blocking, else seconds per blocking call. */
  private _timeout: number | null = null;

  constructor(family = -1, type = -1, proto = -1, fileno?: number) {
    const native = addon();
    if (fileno !== undefined) {
      if (!Number.isInteger(fileno) || fileno < 0) throw new ValueError(`negative file descriptor: ${fileno}`);
      const [f, t, p] = sys(() => native.sockinfo(fileno));
      this._fd = fileno;
      this._family = family === -1 ? f : family;
      this._type = type === -1 ? t : type;
      this._proto = proto === -1 ? p : proto;
      if (!native.getblocking(fileno)) this._timeout = 0;
    } else {
      const f = family === -1 ? AF_INET : family;
      const t = type === -1 ? SOCK_STREAM : type;
      const p = proto === -1 ? 0 : proto;
      this._fd = sys(() => native.socket(f, t, p));
      this._family = f;
      this._type = t;
      this._proto = p;
      if ((t & SOCK_NONBLOCK) !== 0) this._timeout = 0;
    }
    this._type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    leaked.register(this, this._fd, this);
  }

  /** The descriptor, or -1 once closed or detached. */
  fileno(): number {
    return this._fd;
  }

  /** The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`). */
  get family(): number {
    return this._family;
  }

  /** The socket type (`SOCK_STREAM`, `SOCK_DGRAM`), without the `SOCK_NONBLOCK`/`SOCK_CLOEXEC` flags. */
  get type(): number {
    return this._type;
  }

  get proto(): number {
    return this._proto;
  }

  /** `setblocking(false)` is `settimeout(0)`, `setblocking(true)` is `settimeout(null)`. */
  setblocking(flag: boolean): void {
    this.settimeout(flag ? null : 0);
  }

  /** False only in non-blocking mode (timeout 0). */
  getblocking(): boolean {
    return this._timeout !== 0;
  }

  /**
   * `null`: blocking; `0`: non-blocking (calls that would block throw
   * `BlockingIOError`); `t > 0`: each call blocks at most `t` seconds, then
   * throws `TimeoutError("timed out")`.
   */
  settimeout(timeout: number | null): void {
    if (timeout !== null && (typeof timeout !== "number" || !(timeout >= 0))) {
      throw new ValueError(`Timeout value out of range: ${timeout}`);
    }
    sys(() => addon().setblocking(this._fd, timeout === null));
    this._timeout = timeout;
  }

  gettimeout(): number | null {
    return this._timeout;
  }

  bind(address: Address | Uint8Array): void {
    sys(() => addon().bind(this._fd, this._family, address), addressText(address));
  }

  listen(backlog = DEFAULT_BACKLOG): void {
    sys(() => addon().listen(this._fd, Math.max(0, backlog)));
  }

  /** Accepts a connection: `[socket, address]`. The new socket is blocking, as in Python. */
  accept(): [Socket, Address] {
    for (;;) {
      const result = addon().accept(this._fd);
      if (typeof result !== "number") {
        const conn = new Socket(this._family, this._type, this._proto, result[0]);
        return [conn, result[1]];
      }
      this._waitOrRaise(result, false, "accept");
    }
  }

  /** Connects to `address`; a non-blocking socket throws `BlockingIOError` (`EINPROGRESS`) while it connects. */
  connect(address: Address | Uint8Array): void {
    const err = this._connect(address);
    if (err !== 0) throw errnoError(err, "connect", addressText(address));
  }

  /** `connect()` that returns the error number instead of throwing (0 on success); Python's `connect_ex`. */
  connectEx(address: Address | Uint8Array): number {
    return this._connect(address);
  }

  private _connect(address: Address | Uint8Array): number {
    const native = addon();
    const result = sys(() => native.connect(this._fd, this._family, address), addressText(address));
    if (result === 0) return 0;
    const blockedInProgress = result === -native.EINPROGRESS || result === -native.EINTR;
    if (!blockedInProgress || this._timeout === 0) return -result;
    // A blocking connect interrupted, or one with a timeout: wait for it to finish, then read its outcome.
    if (!this._wait(true)) throw new TimeoutError("timed out");
    return this.getsockopt(SOL_SOCKET, SO_ERROR) as number;
  }

  /** Receives up to `bufsize` bytes (an empty Buffer at end of stream). */
  recv(bufsize: number, flags = 0): Buffer {
    checkBufsize(bufsize, "recv");
    const buf = receiveBuffer(bufsize);
    return received(buf, this.recvInto(buf, bufsize, flags));
  }

  /** Receives into `buffer` (at most `nbytes`, default its length); returns the byte count. */
  recvInto(buffer: Uint8Array, nbytes = 0, flags = 0): number {
    const length = this._intoLength(buffer, nbytes, "recv_into");
    for (;;) {
      const n = addon().recv(this._fd, buffer, 0, length, flags);
      if (n >= 0) return n;
      this._waitOrRaise(n, false, "recv");
    }
  }

  /** `[data, address]`; the address is `null` when the sender has none (an unbound Unix socket). */
  recvfrom(bufsize: number, flags = 0): [Buffer, Address | null] {
    checkBufsize(bufsize, "recvfrom");
    const buf = receiveBuffer(bufsize);
    const [n, address] = this.recvfromInto(buf, bufsize, flags);
    return [received(buf, n), address];
  }

  /** `[nbytes, address]`, receiving into `buffer`. */
  recvfromInto(buffer: Uint8Array, nbytes = 0, flags = 0): [number, Address | null] {
    const length = this._intoLength(buffer, nbytes, "recvfrom_into");
    for (;;) {
      const result = addon().recvfrom(this._fd, buffer, 0, length, flags);
      if (typeof result !== "number") return result;
      this._waitOrRaise(result, false, "recvfrom");
    }
  }

  /** Sends what the kernel takes now; returns the byte count. */
  send(data: Uint8Array, flags = 0): number {
    for (;;) {
      const n = addon().send(this._fd, data, 0, data.length, flags);
      if (n >= 0) return n;
      this._waitOrRaise(n, true, "send");
    }
  }

  /** Sends all of `data` (blocking until it is taken); a non-blocking socket may throw `BlockingIOError` midway. */
  sendall(data: Uint8Array, flags = 0): void {
    let offset = 0;
    while (offset < data.length) {
      const n = addon().send(this._fd, data, offset, data.length - offset, flags);
      if (n >= 0) offset += n;
      else this._waitOrRaise(n, true, "send");
    }
  }

  /** `sendto(data, address)` or `sendto(data, flags, address)`, as in Python. */
  sendto(data: Uint8Array, flagsOrAddress: number | Address | Uint8Array, address?: Address | Uint8Array): number {
    const flags = address === undefined ? 0 : (flagsOrAddress as number);
    const to = address === undefined ? (flagsOrAddress as Address | Uint8Array) : address;
    for (;;) {
      const n = sys(() => addon().sendto(this._fd, data, 0, data.length, flags, this._family, to), addressText(to));
      if (n >= 0) return n;
      this._waitOrRaise(n, true, "sendto");
    }
  }

  /** `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`. */
  shutdown(how: number): void {
    sys(() => addon().shutdown(this._fd, how));
  }

  getsockname(): Address | null {
    return sys(() => addon().getsockname(this._fd));
  }

  getpeername(): Address | null {
    return sys(() => addon().getpeername(this._fd));
  }

  /** Sets an option to an integer (or to raw bytes). */
  setsockopt(level: number, option: number, value: number | boolean | Uint8Array): void {
    const v = typeof value === "boolean" ? Number(value) : value;
    sys(() => addon().setsockopt(this._fd, level, option, v));
  }

  /** An integer option, or with `buflen` the option's raw bytes (at most `buflen`). */
  getsockopt(level: number, option: number, buflen = 0): number | Buffer {
    return sys(() => addon().getsockopt(this._fd, level, option, buflen));
  }

  /** Closes the descriptor; idempotent. Closing a socket the loop still watches leaves the watch to `removeReader`. */
  close(): void {
    const fd = this._fd;
    if (fd < 0) return;
    this._fd = -1;
    leaked.unregister(this);
    releaseDescriptor(fd);
    sys(() => addon().close(fd));
  }

  /** Gives the descriptor away without closing it: returns it, and this socket becomes closed (fd -1). */
  detach(): number {
    const fd = this._fd;
    this._fd = -1;
    leaked.unregister(this);
    if (fd >= 0) releaseDescriptor(fd);
    return fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Python's repr: `<socket.socket fd=12, family=AF_INET, type=SOCK_STREAM, proto=0, laddr=('127.0.0.1', 8080)>`. */
  toString(): string {
    const family = FAMILY_NAMES[this._family] ?? String(this._family);
    const type = TYPE_NAMES[this._type] ?? String(this._type);
    let text = `<socket.socket${this._fd < 0 ? " [closed]" : ""} fd=${this._fd}, family=${family}, type=${type}, proto=${this._proto}`;
    if (this._fd >= 0) {
      const native = addon();
      try {
        const laddr = native.getsockname(this._fd);
        if (laddr !== null && laddr !== "") text += `, laddr=${addressRepr(laddr)}`;
        const raddr = native.getpeername(this._fd);
        if (raddr !== null && raddr !== "") text += `, raddr=${addressRepr(raddr)}`;
      } catch {
        // Not connected (or not bound): Python leaves the address out too.
      }
    }
    return `${text}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }

  private _intoLength(buffer: Uint8Array, nbytes: number, method: string): number {
    if (!(buffer instanceof Uint8Array)) throw new TypeError(`${method}() argument 1 must be a Uint8Array, not ${typeof buffer}`);
    if (!Number.isInteger(nbytes) || nbytes < 0) throw new ValueError(`negative buffersize in ${method}: ${nbytes}`);
    if (nbytes > buffer.length) throw new ValueError(`buffer too small for requested bytes: ${nbytes} > ${buffer.length}`);
    return nbytes === 0 ? buffer.length : nbytes;
  }

  /**
   * After a call failed with `-errno`: retry at once on `EINTR` (PEP 475),
   * wait for readiness when it would block on a socket with a timeout
   * (`TimeoutError` when it runs out), else throw the call's `OSError`.
   */
  private _waitOrRaise(result: number, writable: boolean, syscall: string): void {
    const native = addon();
    if (result === -native.EINTR) return;
    const wouldBlock = result === -native.EAGAIN || result === -native.EWOULDBLOCK;
    if (!wouldBlock || this._timeout === 0 || this._timeout === null) raiseErrno(result, syscall);
    if (!this._wait(writable)) throw new TimeoutError("timed out");
  }

  /** Blocks until the descriptor is ready, for at most the socket's timeout; false when it ran out. */
  private _wait(writable: boolean): boolean {
    const ms = this._timeout === null ? -1 : Math.ceil(this._timeout * 1000);
    return sys(() => addon().waitfd(this._fd, writable, ms)) === 1;
  }
}

/** Receives larger than this get a buffer of their own; smaller ones go through the shared scratch buffer. */
const SCRATCH_MAX = 4 * 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * Where a receive of up to `bufsize` bytes lands before `received()` copies
 * out what came: a receive into a fresh `bufsize` buffer (the bench's
 * 256 KiB for a 1 KiB message) made the garbage collector the main cost.
 */
export function receiveBuffer(bufsize: number): Buffer {
  if (bufsize > SCRATCH_MAX) return Buffer.allocUnsafe(bufsize);
  if (scratch.length < bufsize) scratch = Buffer.allocUnsafeSlow(bufsize);
  return scratch;
}

/** The `n` bytes received into `buf` (from `receiveBuffer`), as a Buffer of exactly that size. */
export function received(buf: Buffer, n: number): Buffer {
  if (buf !== scratch) return n < buf.length / 2 ? Buffer.from(buf.subarray(0, n)) : buf.subarray(0, n);
  const out = Buffer.allocUnsafe(n);
  buf.copy(out, 0, 0, n);
  return out;
}

/** A new socket: `socket(AF_INET6, SOCK_DGRAM)`. */
export function socket(family = AF_INET, type = SOCK_STREAM, proto = 0): Socket {
  return new Socket(family, type, proto);
}

/** A pair of connected sockets (`AF_UNIX` by default), as Python's `socket.socketpair()`. */
export function socketpair(family = AF_UNIX, type = SOCK_STREAM, proto = 0): [Socket, Socket] {
  const [a, b] = sys(() => addon().socketpair(family, type, proto));
  return [new Socket(family, type, proto, a), new Socket(family, type, proto, b)];
}

/** A socket on a duplicate of `fd` (the original stays open and yours), as Python's `socket.fromfd`. */
export function fromFd(fd: number, family: number, type: number, proto = 0): Socket {
  const copy = sys(() => addon().dup(fd));
  return new Socket(family, type, proto, copy);
}
