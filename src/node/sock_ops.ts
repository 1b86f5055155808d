/**
 * The loop's coroutine methods on non-blocking `socket.Socket`s
 * (`sockRecv`, `sockSendall`, `sockConnect`, `sockAccept`, `sockSendfile`,
 * ...), after CPython's `selector_events.py`: try the call at once; when it
 * would block, watch the descriptor (fd_watch.ts) and retry from the
 * reader/writer callback until the future is done; the future's done
 * callback removes the watch, so a cancelled operation leaves the socket
 * usable. The calls go straight to the addon, which returns `-errno`
 * rather than throwing, so "would block" costs no exception.
 */

import { Buffer } from "node:buffer";
import { lookup } from "node:dns";
import { read } from "node:fs";
import { isIP } from "node:net";
import type { BaseEventLoop } from "../base_events.js";
import { Coro } from "../coroutines.js";
import type { Callback, FileLike, SendfileOptions, SocketLike } from "../events.js";
import { ConnectionError, osErrorFrom, SendfileNotAvailableError, ValueError } from "../exceptions.js";
import type { Awaitable, Coroutine, Future } from "../futures.js";
import type { Address } from "../protocols.js";
import { AF_INET, AF_INET6, SO_ERROR, SOCK_STREAM, SOL_SOCKET } from "../socket_constants.js";
import type { NativeAddon } from "./addon.js";
import { addon, errnoError, raiseErrno, sys } from "./addon.js";
import { FdWatch } from "./fd_watch.js";
import { addressText, receiveBuffer, received, Socket } from "./socket.js";

/** CPython's `SENDFILE_FALLBACK_READBUFFER_SIZE`. */
const FALLBACK_READ_SIZE = 256 * 1024;
/** At most this much per sendfile(2) call (Linux moves at most 0x7ffff000 bytes anyway). */
const MAX_SENDFILE_CHUNK = 2 ** 30;

type Side = "reader" | "writer";
/** One try of the operation: settles `fut`, or leaves it pending to be tried again when the descriptor is ready. */
type Attempt<T> = (fut: Future<T>) => void;

/** The socket, checked: one of ours, non-blocking (a blocking call would stall the whole thread). */
function checkSocket(sock: SocketLike, method: string): Socket {
  if (!(sock instanceof Socket)) {
    throw new TypeError(`${method}() takes a socket.Socket of asyncio-ts, not ${Object.prototype.toString.call(sock)}`);
  }
  if (sock.gettimeout() !== 0) throw new ValueError(`the socket must be non-blocking: ${sock}`);
  return sock;
}

/** `-errno` of "try again when ready": EAGAIN/EWOULDBLOCK (BlockingIOError) or EINTR (InterruptedError). */
function mustWait(native: NativeAddon, result: number): boolean {
  return result === -native.EAGAIN || result === -native.EWOULDBLOCK || result === -native.EINTR;
}

function retry<T>(fut: Future<T>, attempt: Attempt<T>): void {
  if (fut.done()) return;
  try {
    attempt(fut);
  } catch (error) {
    fut.setException(error);
  }
}

/**
 * Runs `attempt` now; if it leaves `fut` pending, again whenever `fd` is
 * ready on `side`, until `fut` is done (by the attempt, or cancelled), which
 * removes the watch (CPython's `_sock_read_done`/`_sock_write_done`). The
 * handle holds `sock`, so that a socket waited on is not collected (and
 * closed) while the operation is pending.
 */
function untilDone<T>(loop: BaseEventLoop, sock: Socket, side: Side, fut: Future<T>, attempt: Attempt<T>): Future<T> {
  retry(fut, attempt);
  if (fut.done()) return fut;
  const fd = sock.fileno();
  const watch = FdWatch.of(loop);
  const again = retry as Callback<unknown[]>;
  const handle =
    side === "reader"
      ? watch.addReader(fd, again, [fut, attempt, sock], true)
      : watch.addWriter(fd, again, [fut, attempt, sock], true);
  fut.addDoneCallback(() => {
    if (handle.cancelled()) return;
    if (side === "reader") watch.removeReader(fd);
    else watch.removeWriter(fd);
  });
  return fut;
}

/** A future already failed with `error` (the checks of an `async def` raise when awaited). */
function failed<T>(loop: BaseEventLoop, error: unknown): Future<T> {
  const fut = loop.createFuture<T>();
  fut.setException(error);
  return fut;
}

/** Receives up to `nbytes` (an empty Buffer at end of stream). */
export function sockRecv(loop: BaseEventLoop, sock: SocketLike, nbytes: number): Awaitable<Buffer> {
  let s: Socket;
  try {
    s = checkSocket(sock, "sockRecv");
    if (!Number.isInteger(nbytes) || nbytes < 0) throw new ValueError(`negative buffersize in recv: ${nbytes}`);
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  return untilDone(loop, s, "reader", loop.createFuture<Buffer>(), (fut) => {
    const buf = receiveBuffer(nbytes);
    const n = native.recv(fd, buf, 0, nbytes, 0);
    if (n >= 0) fut.setResult(received(buf, n));
    else if (!mustWait(native, n)) raiseErrno(n, "recv");
  });
}

/** Receives into `buf`; resolves to the byte count. */
export function sockRecvInto(loop: BaseEventLoop, sock: SocketLike, buf: Uint8Array): Awaitable<number> {
  let s: Socket;
  try {
    s = checkSocket(sock, "sockRecvInto");
    if (!(buf instanceof Uint8Array)) throw new TypeError(`sockRecvInto() needs a Uint8Array, not ${typeof buf}`);
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  return untilDone(loop, s, "reader", loop.createFuture<number>(), (fut) => {
    const n = native.recv(fd, buf, 0, buf.length, 0);
    if (n >= 0) fut.setResult(n);
    else if (!mustWait(native, n)) raiseErrno(n, "recv");
  });
}

/** Receives a datagram of at most `bufsize` bytes: `[data, address]`. */
export function sockRecvfrom(loop: BaseEventLoop, sock: SocketLike, bufsize: number): Awaitable<[Buffer, Address]> {
  let s: Socket;
  try {
    s = checkSocket(sock, "sockRecvfrom");
    if (!Number.isInteger(bufsize) || bufsize < 0) throw new ValueError(`negative buffersize in recvfrom: ${bufsize}`);
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  return untilDone(loop, s, "reader", loop.createFuture<[Buffer, Address]>(), (fut) => {
    const buf = receiveBuffer(bufsize);
    const result = native.recvfrom(fd, buf, 0, bufsize, 0);
    if (typeof result !== "number") fut.setResult([received(buf, result[0]), result[1] as Address]);
    else if (!mustWait(native, result)) raiseErrno(result, "recvfrom");
  });
}

/** Receives a datagram into `buf` (at most `nbytes`, default its length): `[nbytes, address]`. */
export function sockRecvfromInto(
  loop: BaseEventLoop,
  sock: SocketLike,
  buf: Uint8Array,
  nbytes = 0,
): Awaitable<[number, Address]> {
  let s: Socket;
  let length: number;
  try {
    s = checkSocket(sock, "sockRecvfromInto");
    if (!(buf instanceof Uint8Array)) throw new TypeError(`sockRecvfromInto() needs a Uint8Array, not ${typeof buf}`);
    if (!Number.isInteger(nbytes) || nbytes < 0 || nbytes > buf.length) {
      throw new ValueError(`nbytes must be between 0 and the buffer's length ${buf.length}: ${nbytes}`);
    }
    length = nbytes === 0 ? buf.length : nbytes;
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  return untilDone(loop, s, "reader", loop.createFuture<[number, Address]>(), (fut) => {
    const result = native.recvfrom(fd, buf, 0, length, 0);
    if (typeof result !== "number") fut.setResult(result as [number, Address]);
    else if (!mustWait(native, result)) raiseErrno(result, "recvfrom");
  });
}

/**
 * Sends all of `data`, continuing partial writes as the socket drains. If
 * it is cancelled, part of the data may have been sent; the socket stays
 * usable. `data` must not change until the operation is done.
 */
export function sockSendall(loop: BaseEventLoop, sock: SocketLike, data: Uint8Array): Awaitable<void> {
  let s: Socket;
  try {
    s = checkSocket(sock, "sockSendall");
    if (!(data instanceof Uint8Array)) throw new TypeError(`sockSendall() needs a Uint8Array, not ${typeof data}`);
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  let sent = 0;
  return untilDone(loop, s, "writer", loop.createFuture<void>(), (fut) => {
    while (sent < data.length) {
      const n = native.send(fd, data, sent, data.length - sent, 0);
      if (n < 0) {
        if (mustWait(native, n)) return;
        raiseErrno(n, "send");
      }
      sent += n;
    }
    fut.setResult(undefined);
  });
}

/** Sends a datagram to `address`; resolves to the byte count. */
export function sockSendto(loop: BaseEventLoop, sock: SocketLike, data: Uint8Array, address: Address): Awaitable<number> {
  let s: Socket;
  try {
    s = checkSocket(sock, "sockSendto");
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  const family = s.family;
  return untilDone(loop, s, "writer", loop.createFuture<number>(), (fut) => {
    let n: number;
    try {
      n = native.sendto(fd, data, 0, data.length, 0, family, address);
    } catch (error) {
      throw osErrorFrom(error, addressText(address));
    }
    if (n >= 0) fut.setResult(n);
    else if (!mustWait(native, n)) raiseErrno(n, "sendto", addressText(address));
  });
}

/** Accepts a connection: `[socket, address]`, the new socket non-blocking. */
export function sockAccept(loop: BaseEventLoop, sock: SocketLike): Awaitable<[Socket, Address]> {
  let s: Socket;
  try {
    s = checkSocket(sock, "sockAccept");
  } catch (error) {
    return failed(loop, error);
  }
  const native = addon();
  const fd = s.fileno();
  return untilDone(loop, s, "reader", loop.createFuture<[Socket, Address]>(), (fut) => {
    const result = native.accept(fd);
    if (typeof result === "number") {
      if (!mustWait(native, result)) raiseErrno(result, "accept");
      return;
    }
    const conn = new Socket(s.family, s.type, s.proto, result[0]);
    conn.setblocking(false);
    fut.setResult([conn, result[1]]);
  });
}

/** A Future following a Node callback-style lookup (ignored once the future is cancelled). */
function resolveHost(loop: BaseEventLoop, host: string, family: number): Future<string> {
  const fut = loop.createFuture<string>();
  lookup(host, { family: family === AF_INET6 ? 6 : 4 }, (error, address) => {
    if (fut.done() || loop.isClosed()) return;
    loop.callSoonThreadsafe(() => {
      if (fut.done()) return;
      if (error) fut.setException(osErrorFrom(error, host));
      else fut.setResult(address);
    });
  });
  return fut;
}

/**
 * Connects to `address`; an IP socket's host name is resolved first
 * (`getaddrinfo`, through Node's `dns.lookup`, for the socket's family).
 */
export function sockConnect(loop: BaseEventLoop, sock: SocketLike, address: Address): Awaitable<void> {
  return new Coro(() => sockConnectGen(loop, sock, address), "sockConnect");
}

function* sockConnectGen(loop: BaseEventLoop, sock: SocketLike, address: Address): Coroutine<void> {
  const s = checkSocket(sock, "sockConnect");
  let target = address;
  if ((s.family === AF_INET || s.family === AF_INET6) && Array.isArray(address) && isIP(address[0]) === 0) {
    const host = yield* resolveHost(loop, address[0], s.family);
    target = [host, ...address.slice(1)] as Address;
  }
  yield* connectResolved(loop, s, target);
}

/** Connects a non-blocking socket to a resolved address: resolves once connected, or rejects with the connect error. */
export function connectResolved(loop: BaseEventLoop, s: Socket, address: Address): Future<void> {
  const native = addon();
  const fd = s.fileno();
  const fut = loop.createFuture<void>();
  let started = false;
  return untilDone(loop, s, "writer", fut, () => {
    if (!started) {
      started = true;
      const result = native.connect(fd, s.family, address);
      if (result === 0) fut.setResult(undefined);
      else if (result !== -native.EINPROGRESS && result !== -native.EAGAIN && result !== -native.EINTR) {
        raiseErrno(result, "connect", addressText(address));
      }
      return;
    }
    // Writable: the connection attempt is over; SO_ERROR says how it went.
    const err = s.getsockopt(SOL_SOCKET, SO_ERROR) as number;
    if (err === 0) fut.setResult(undefined);
    else throw errnoError(err, "connect", addressText(address));
  });
}

/**
 * Sends a file over a stream socket: sendfile(2) where the platform has it
 * and the file is a regular file, else (with `fallback`, the default)
 * reads and `sockSendall`s it. Resolves to the byte count. The file's
 * position is left after the last byte sent, as in CPython.
 */
export function sockSendfile(
  loop: BaseEventLoop,
  sock: SocketLike,
  file: FileLike,
  offset = 0,
  count: number | null = null,
  options: SendfileOptions = {},
): Awaitable<number> {
  return new Coro(() => sockSendfileGen(loop, sock, file, offset, count, options.fallback ?? true), "sockSendfile");
}

function checkSendfileParams(s: Socket, file: FileLike, offset: number, count: number | null): number {
  if (s.type !== SOCK_STREAM) throw new ValueError(`only SOCK_STREAM type sockets are supported, not ${s}`);
  if (count !== null) {
    if (!Number.isInteger(count)) throw new TypeError(`count must be a positive integer (got ${String(count)})`);
    if (count <= 0) throw new ValueError(`count must be a positive integer (got ${count})`);
  }
  if (!Number.isInteger(offset)) throw new TypeError(`offset must be a non-negative integer (got ${String(offset)})`);
  if (offset < 0) throw new ValueError(`offset must be a non-negative integer (got ${offset})`);
  const fd = typeof file === "number" ? file : (file as { fd?: unknown } | null)?.fd;
  if (typeof fd !== "number" || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`file must be a file descriptor or have an integer fd, not ${String(file)}`);
  }
  return fd;
}

function* sockSendfileGen(
  loop: BaseEventLoop,
  sock: SocketLike,
  file: FileLike,
  offset: number,
  count: number | null,
  fallback: boolean,
): Coroutine<number> {
  const s = checkSocket(sock, "sockSendfile");
  const fd = checkSendfileParams(s, file, offset, count);
  try {
    return yield* sendfileNative(loop, s, fd, offset, count);
  } catch (error) {
    if (!(error instanceof SendfileNotAvailableError) || !fallback) throw error;
  }
  return yield* sendfileFallback(loop, s, fd, offset, count);
}

function sendfileNative(loop: BaseEventLoop, s: Socket, fileFd: number, offset: number, count: number | null): Future<number> {
  const native = addon();
  if (native.HAS_SENDFILE !== 1) return failed(loop, new SendfileNotAvailableError("os.sendfile() is not available"));
  const size = native.regularFileSize(fileFd);
  if (size < 0) return failed(loop, new SendfileNotAvailableError(`not a regular file: fd ${fileFd}`));
  const blocksize = count ?? size;
  const fut = loop.createFuture<number>();
  if (blocksize === 0) {
    fut.setResult(0);
    return fut;
  }
  const fd = s.fileno();
  let position = offset;
  let total = 0;
  const finish = (): void => {
    if (total > 0) native.lseek(fileFd, position);
  };
  fut.addDoneCallback(() => {
    if (fut.cancelled()) finish();
  });
  // One sendfile(2) per writable report, as CPython does, so a large file does not hold the loop.
  return untilDone(loop, s, "writer", fut, () => {
    const left = count === null ? blocksize : count - total;
    if (left <= 0) {
      finish();
      fut.setResult(total);
      return;
    }
    const n = native.sendfile(fd, fileFd, position, Math.min(left, MAX_SENDFILE_CHUNK));
    if (n === 0) {
      finish();
      fut.setResult(total);
    } else if (n > 0) {
      position += n;
      total += n;
    } else if (!mustWait(native, n)) {
      finish();
      fut.setException(sendfileError(native, n, total));
    }
  });
}

/** CPython's rules: a failure before any byte went out means "fall back"; after, it is the error (ENOTCONN as ConnectionError). */
function sendfileError(native: NativeAddon, result: number, total: number): unknown {
  const error = errnoError(-result, "sendfile");
  if (total === 0) return new SendfileNotAvailableError("os.sendfile call failed", { cause: error });
  if (result === -native.ENOTCONN && !(error instanceof ConnectionError)) {
    return new ConnectionError(-result, "socket is not connected", { code: "ENOTCONN", cause: error });
  }
  return error;
}

/** Reads up to `length` bytes from the file's position into `buf` on Node's thread pool; a Future of the byte count. */
function readSome(loop: BaseEventLoop, fd: number, buf: Buffer, length: number): Future<number> {
  const fut = loop.createFuture<number>();
  read(fd, buf, 0, length, null, (error, n) => {
    if (loop.isClosed()) return;
    loop.callSoonThreadsafe(() => {
      if (fut.done()) return;
      if (error) fut.setException(osErrorFrom(error));
      else fut.setResult(n);
    });
  });
  return fut;
}

/** CPython's `_sock_sendfile_fallback`: seek to `offset` (when not 0), then read and `sockSendall` chunk by chunk. */
function* sendfileFallback(
  loop: BaseEventLoop,
  s: Socket,
  fileFd: number,
  offset: number,
  count: number | null,
): Coroutine<number> {
  const native = addon();
  if (offset !== 0) sys(() => native.lseek(fileFd, offset));
  const buf = Buffer.allocUnsafe(count === null ? FALLBACK_READ_SIZE : Math.min(count, FALLBACK_READ_SIZE));
  let total = 0;
  try {
    for (;;) {
      const want = count === null ? buf.length : Math.min(count - total, buf.length);
      if (want <= 0) break;
      const n = yield* readSome(loop, fileFd, buf, want);
      if (n === 0) break;
      yield* sockSendall(loop, s, buf.subarray(0, n));
      total += n;
    }
    return total;
  } finally {
    if (total > 0) {
      try {
        native.lseek(fileFd, offset + total);
      } catch {
        // Not seekable (a pipe or a socket): there is no position to leave.
      }
    }
  }
}
