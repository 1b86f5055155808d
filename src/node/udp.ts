/**
 * UDP endpoints (CPython's `create_datagram_endpoint` and
 * `_SelectorDatagramTransport`) on Node's `dgram`. A `dgram.Socket` is
 * bound (to the wildcard address when no `localAddr` is given, so that
 * `sockname` is known at once), connected when a `remoteAddr` is given,
 * and wrapped in a `UDPTransport`. Node's events never call the protocol
 * directly: each datagram, error and the end are scheduled on the loop, so
 * the protocol sees them inside loop iterations, after `connectionMade`.
 *
 * Node sends asynchronously: a datagram counts in the write buffer from
 * `sendto()` until Node's send callback, which is where flow control
 * (`pauseWriting`/`resumeWriting`) comes from. ICMP errors Node reports on
 * a connected socket (`ECONNREFUSED` from `recvmsg` on Linux) and failed
 * sends reach `errorReceived`; the endpoint stays open, as in CPython.
 * Unix datagram sockets are refused with a clear error: `dgram` has no
 * `AF_UNIX`.
 */
import dgram from "node:dgram";
import dns from "node:dns";
import net from "node:net";
import { Coro } from "../coroutines.js";
import type { AbstractEventLoop, CreateDatagramEndpointOptions } from "../events.js";
import { NotImplementedError, OSError, osErrorFrom, RuntimeError, ValueError } from "../exceptions.js";
import type { Future } from "../futures.js";
import type { Address, DatagramProtocol } from "../protocols.js";
import { AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, AI_ADDRCONFIG, AI_V4MAPPED, IPPROTO_UDP } from "../socket_constants.js";
import type { WriteBufferLimits } from "../transports.js";
import { countLostWrite, DatagramTransport } from "../transports.js";
import { WriteFlow } from "./flow_control.js";
import { restoreBufferScavenging } from "./v8_heap.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** After this many writes to a lost connection, each further one is logged (CPython's constant). */

/** What CPython counts per buffered datagram besides its payload (3.13: so empty datagrams count too). */
const DATAGRAM_HEADER_SIZE = 8;

type InetAddress = [string, number] | [string, number, number, number];

/** `[host, port]` (IPv4) or `[host, port, flowinfo, scopeId]` (IPv6), as Python's socket addresses. */
function toAddress(info: { address: string; port: number; family: string | number }): InetAddress {
  const v6 = info.family === "IPv6" || info.family === 6;
  return v6 ? [info.address, info.port, 0, 0] : [info.address, info.port];
}

function sameAddress(a: Address, b: Address): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

function formatAddress(addr: Address): string {
  return JSON.stringify(addr);
}

/** Whether this Node's `dgram` honours `reusePort` (added in v22.12.0 and v23.1.0). */
export function dgramSupportsReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * A UDP endpoint (CPython's `_SelectorDatagramTransport`).
 *
 * Invariants: `_connLost > 0` once `connectionLost` is scheduled (it is
 * called exactly once); `_bufferSize` is the payload plus header bytes of
 * the datagrams handed to Node and not yet reported sent.
 */
export class UDPTransport extends DatagramTransport {
  private readonly _loop: AbstractEventLoop;
  private readonly _sock: dgram.Socket;
  private _protocol: DatagramProtocol;
  /** The connected peer, or the `remoteAddr` every datagram goes to (with `allowBroadcast`). */
  private readonly _address: InetAddress | null;
  private readonly _connected: boolean;
  private _closing = false;
  private _connLost = 0;
  private _bufferSize = 0;
  private _pending = 0;
  private readonly _flow: WriteFlow;
  private readonly _onMessage = (data: Buffer, rinfo: dgram.RemoteInfo): void => {
    this._schedule(this._deliver, data, toAddress(rinfo));
  };
  private readonly _onError = (error: Error): void => {
    this._schedule(this._deliverError, osErrorFrom(error) as Error);
  };

  /** @internal Made by `createDatagramEndpoint`; `early` holds datagrams that arrived before the transport existed. */
  constructor(
    loop: AbstractEventLoop,
    sock: dgram.Socket,
    protocol: DatagramProtocol,
    address: InetAddress | null,
    connected: boolean,
    waiter: Future<void> | null,
    early: [Buffer, dgram.RemoteInfo][] = [],
  ) {
    super({ socket: sock, sockname: socknameOf(sock), peername: connected ? address : null });
    this._loop = loop;
    this._sock = sock;
    this._protocol = protocol;
    this._address = address;
    this._connected = connected;
    this._flow = new WriteFlow(loop, this);
    restoreBufferScavenging();
    loop.callSoon(protocol.connectionMade.bind(protocol), this);
    if (waiter !== null) loop.callSoon(setResultUnlessCancelled, waiter);
    for (const [data, rinfo] of early) this._onMessage(data, rinfo);
    sock.on("message", this._onMessage);
    sock.on("error", this._onError);
    sock.unref();
  }

  /** Schedules `fn` on the loop unless the loop is closed (then the event has nobody to go to). */
  private _schedule<A extends unknown[]>(fn: (...args: A) => void, ...args: A): void {
    if (this._loop.isClosed()) return;
    this._loop.callSoon(fn as (...a: unknown[]) => void, ...args);
  }

  private readonly _deliver = (data: Buffer, addr: Address): void => {
    if (this._closing || this._connLost > 0) return;
    this._protocol.datagramReceived(data, addr);
  };

  private readonly _deliverError = (error: Error): void => {
    if (this._connLost > 0) return;
    this._protocol.errorReceived(error);
  };

  getWriteBufferSize(): number {
    return this._bufferSize;
  }

  /** Sets the high- and low-water marks of the send queue (bytes), as `WriteTransport.setWriteBufferLimits`. */
  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    this._flow.setLimits(limits);
  }

  /** The `[low, high]` water marks of the send queue. */
  getWriteBufferLimits(): [number, number] {
    return this._flow.limits();
  }

  isClosing(): boolean {
    return this._closing;
  }

  setProtocol(protocol: DatagramProtocol): void {
    this._protocol = protocol;
  }

  getProtocol(): DatagramProtocol {
    return this._protocol;
  }

  /**
   * Sends one datagram. On a connected endpoint (or one made with
   * `remoteAddr`) `addr` must be omitted, `null`, or that address:
   * anything else is a `ValueError`. A send that fails goes to
   * `errorReceived`.
   */
  sendto(data: Uint8Array, addr: Address | null = null): void {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError(`data argument must be a bytes-like object (Uint8Array), not ${typeof data}`);
    }
    if (this._address !== null) {
      if (addr !== null && addr !== undefined && !sameAddress(addr, this._address)) {
        throw new ValueError(`Invalid address: must be null or ${formatAddress(this._address)}`);
      }
      addr = this._address;
    }
    if (this._connLost > 0) {
      this._connLost = countLostWrite(this._connLost);
      return;
    }
    if (addr === null || addr === undefined) throw new ValueError("sendto() needs an address on an unconnected endpoint");
    if (typeof addr === "string") throw new ValueError(`a UDP endpoint sends to [host, port], not to the path ${addr}`);
    this._send(Buffer.from(data), addr);
  }

  private _send(data: Buffer, addr: InetAddress): void {
    const size = data.length + DATAGRAM_HEADER_SIZE;
    this._bufferSize += size;
    this._pending++;
    const done = (error: Error | null): void => this._sent(size, error);
    try {
      if (this._connected) this._sock.send(data, done);
      else this._sock.send(data, addr[1], addr[0], done);
    } catch (error) {
      this._sent(size, error as Error);
      return;
    }
    this._flow.maybePause();
  }

  /** Node's send callback: the datagram left the queue (or failed: `errorReceived`). */
  private _sent(size: number, error: Error | null): void {
    this._bufferSize -= size;
    this._pending--;
    if (this._connLost > 0) return;
    // Most sends need nothing afterwards: no handle for them.
    if (error || this._flow.paused || this._closing)
      this._schedule(this._afterSend, error ? (osErrorFrom(error) as Error) : null);
  }

  /** In the loop, after a send callback: the error, flow control, and the end of a close() that waited. */
  private readonly _afterSend = (error: Error | null): void => {
    if (this._connLost > 0) return;
    if (error !== null) this._protocol.errorReceived(error);
    this._flow.maybeResume();
    if (this._closing && this._pending === 0) this._scheduleConnectionLost(null);
  };

  /** Closes after the queued datagrams are sent; received datagrams are no longer delivered. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    if (this._pending === 0) this._scheduleConnectionLost(null);
  }

  /** Closes at once: queued datagrams may be dropped; `connectionLost(null)` follows. */
  abort(): void {
    this._forceClose(null);
  }

  private _forceClose(exc: Error | null): void {
    if (this._connLost > 0) return;
    this._closing = true;
    this._scheduleConnectionLost(exc);
  }

  /** The one place `connectionLost` is scheduled: `_connLost` goes from 0 to 1 here. */
  private _scheduleConnectionLost(exc: Error | null): void {
    this._connLost++;
    if (this._loop.isClosed()) this._release();
    else this._loop.callSoon(this._callConnectionLost, exc);
  }

  private _release(): void {
    this._sock.off("message", this._onMessage);
    this._sock.off("error", this._onError);
    this._sock.on("error", ignoreError);
    this._sock.close();
  }

  private readonly _callConnectionLost = (exc: Error | null): void => {
    try {
      this._protocol.connectionLost(exc);
    } finally {
      this._release();
    }
  };

  override toString(): string {
    const state = this._connLost > 0 ? " closed" : this._closing ? " closing" : "";
    const name = this._extra.sockname as InetAddress | null;
    const where = name === null ? "" : ` sockname=${formatAddress(name)}`;
    const peer = this._address === null ? "" : ` peer=${formatAddress(this._address)}`;
    return `<UDPTransport${state}${where}${peer} bufsize=${this._bufferSize}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function ignoreError(): void {}

function setResultUnlessCancelled(waiter: Future<void>): void {
  if (!waiter.cancelled()) waiter.setResult(undefined);
}

function socknameOf(sock: dgram.Socket): InetAddress | null {
  try {
    return toAddress(sock.address());
  } catch {
    return null;
  }
}

// ---- creating endpoints ----------------------------------------------------

/** One candidate of `createDatagramEndpoint`: an address family with its local and remote addresses. */
interface Candidate {
  family: number;
  local: InetAddress | null;
  remote: InetAddress | null;
}

/** The `getaddrinfo` flags `dns.lookup` understands, as its hints. */
function lookupHints(flags: number): number {
  return (flags & AI_ADDRCONFIG ? dns.ADDRCONFIG : 0) | (flags & AI_V4MAPPED ? dns.V4MAPPED : 0);
}

function familyOfHost(host: string): number {
  return net.isIPv6(host) ? AF_INET6 : AF_INET;
}

/** Resolves `[host, port]` to socket addresses of `family` (`AF_UNSPEC`: any), with `dns.lookup` unless numeric. */
function* resolve(
  loop: AbstractEventLoop,
  addr: unknown,
  family: number,
  flags: number,
  what: string,
): Generator<unknown, InetAddress[]> {
  if (!Array.isArray(addr) || addr.length !== 2) {
    throw new TypeError(`${what} must be a [host, port] array, not ${JSON.stringify(addr)}`);
  }
  const [host, port] = addr as [unknown, unknown];
  const portNumber = typeof port === "string" ? Number(port) : port;
  if (typeof portNumber !== "number" || !Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    throw new ValueError(`${what} port must be an integer in 0..65535, not ${JSON.stringify(port)}`);
  }
  const hostName = host === null || host === "" ? (family === AF_INET6 ? "::" : "0.0.0.0") : host;
  if (typeof hostName !== "string") throw new TypeError(`${what} host must be a string, not ${typeof host}`);
  const make = (address: string, v: number): InetAddress =>
    v === AF_INET6 ? [address, portNumber, 0, 0] : [address, portNumber];
  if (net.isIP(hostName) !== 0) {
    const v = familyOfHost(hostName);
    return family === AF_UNSPEC || family === v ? [make(hostName, v)] : [];
  }
  const done = loop.createFuture<dns.LookupAddress[]>();
  const lookupFamily = family === AF_INET ? 4 : family === AF_INET6 ? 6 : 0;
  dns.lookup(hostName, { all: true, family: lookupFamily, hints: lookupHints(flags) }, (error, addresses) => {
    if (done.done() || loop.isClosed()) return;
    if (error) done.setException(osErrorFrom(error, hostName));
    else done.setResult(addresses);
  });
  const found = yield* done;
  return found.map((a) => make(a.address, a.family === 6 ? AF_INET6 : AF_INET));
}

/** CPython's pairing: one candidate per family that has every address asked for. */
function* candidates(loop: AbstractEventLoop, options: CreateDatagramEndpointOptions): Generator<unknown, Candidate[]> {
  const { localAddr = null, remoteAddr = null, family = AF_UNSPEC, flags = 0 } = options;
  if (localAddr === null && remoteAddr === null) {
    if (family === AF_UNSPEC) throw new ValueError("unexpected address family");
    return [{ family, local: null, remote: null }];
  }
  const locals = localAddr === null ? null : yield* resolve(loop, localAddr, family, flags, "localAddr");
  const remotes = remoteAddr === null ? null : yield* resolve(loop, remoteAddr, family, flags, "remoteAddr");
  if (locals?.length === 0 || remotes?.length === 0) throw new OSError(undefined, "getaddrinfo() returned empty list");
  const result: Candidate[] = [];
  for (const fam of [AF_INET, AF_INET6]) {
    const local = locals === null ? null : (locals.find((a) => familyOfHost(a[0]) === fam) ?? undefined);
    const remote = remotes === null ? null : (remotes.find((a) => familyOfHost(a[0]) === fam) ?? undefined);
    if (local !== undefined && remote !== undefined) result.push({ family: fam, local, remote });
  }
  if (result.length === 0) throw new ValueError("can not get address information");
  return result;
}

function checkOptions(options: CreateDatagramEndpointOptions): void {
  const { localAddr = null, remoteAddr = null, family = AF_UNSPEC, sock = null } = options;
  if (sock !== null) {
    const modifiers = (["localAddr", "remoteAddr", "family", "proto", "flags", "reusePort", "allowBroadcast"] as const).filter(
      (k) => options[k] !== undefined && options[k] !== null && options[k] !== 0 && options[k] !== false,
    );
    if (modifiers.length > 0) {
      throw new ValueError(`socket modifier keyword arguments can not be used when sock is specified. (${modifiers.join(", ")})`);
    }
    if (!(sock instanceof dgram.Socket)) {
      throw new ValueError(`A datagram socket (a dgram.Socket) was expected, got ${String(sock)}`);
    }
    return;
  }
  if (family === AF_UNIX || typeof localAddr === "string" || typeof remoteAddr === "string") {
    throw new NotImplementedError(
      "Unix datagram sockets (AF_UNIX, SOCK_DGRAM) are not supported: Node's dgram module has no AF_UNIX support",
    );
  }
  if (family !== AF_UNSPEC && family !== AF_INET && family !== AF_INET6) {
    throw new ValueError(`unexpected address family ${family}`);
  }
  const proto = options.proto ?? 0;
  if (proto !== 0 && proto !== IPPROTO_UDP) {
    throw new ValueError(`proto must be 0 or IPPROTO_UDP (${IPPROTO_UDP}) for a UDP endpoint, not ${proto}`);
  }
  if (options.reusePort && !dgramSupportsReusePort()) {
    throw new ValueError(
      `reusePort is not supported by Node.js ${process.version}: its dgram module honours it from v22.12.0 and v23.1.0`,
    );
  }
}

/** Waits for a Node callback-style step on `sock`: `error` before it rejects the future. */
function* step(
  loop: AbstractEventLoop,
  sock: dgram.Socket,
  start: (done: () => void) => void,
  what: string,
): Generator<unknown, void> {
  const done = loop.createFuture<void>();
  const onError = (error: Error): void => {
    if (!done.done() && !loop.isClosed()) done.setException(osErrorFrom(error, what));
  };
  sock.once("error", onError);
  try {
    start(() => {
      if (!done.done() && !loop.isClosed()) done.setResult(undefined);
    });
  } catch (error) {
    onError(error as Error);
  }
  try {
    yield* done;
  } finally {
    sock.off("error", onError);
  }
}

/** Opens, binds and (unless broadcasting) connects a socket for `c`; the socket is closed if any step fails. */
function* openSocket(
  loop: AbstractEventLoop,
  c: Candidate,
  options: CreateDatagramEndpointOptions,
  early: [Buffer, dgram.RemoteInfo][],
): Generator<unknown, dgram.Socket> {
  const type = c.family === AF_INET6 ? "udp6" : "udp4";
  // `reusePort` is missing from @types/node 20; Node honours it from v22.12 (checked in checkOptions).
  const socketOptions: dgram.SocketOptions & { reusePort?: boolean } = { type, reusePort: options.reusePort === true };
  const sock = dgram.createSocket(socketOptions);
  sock.on("message", (data, rinfo) => early.push([data, rinfo]));
  try {
    const local = c.local ?? [c.family === AF_INET6 ? "::" : "0.0.0.0", 0];
    yield* step(
      loop,
      sock,
      (done) => sock.bind({ port: local[1], address: local[0], exclusive: true }, done),
      formatAddress(local),
    );
    if (options.allowBroadcast) sock.setBroadcast(true);
    const remote = c.remote;
    if (remote !== null && !options.allowBroadcast) {
      yield* step(loop, sock, (done) => sock.connect(remote[1], remote[0], done), formatAddress(remote));
    }
  } catch (error) {
    sock.removeAllListeners("message");
    sock.on("error", ignoreError);
    sock.close();
    throw error;
  }
  sock.removeAllListeners("message");
  return sock;
}

function* endpoint<P extends DatagramProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: CreateDatagramEndpointOptions,
): Generator<unknown, [UDPTransport, P]> {
  checkOptions(options);
  let sock: dgram.Socket;
  let address: InetAddress | null = null;
  const early: [Buffer, dgram.RemoteInfo][] = [];
  if (options.sock !== undefined && options.sock !== null) {
    sock = options.sock as dgram.Socket;
    const peer = remoteOf(sock);
    address = peer;
  } else {
    const errors: unknown[] = [];
    let opened: dgram.Socket | null = null;
    for (const c of yield* candidates(loop, options)) {
      try {
        opened = yield* openSocket(loop, c, options, early);
        address = c.remote;
        break;
      } catch (error) {
        if (!(error instanceof OSError)) throw error;
        errors.push(error);
      }
    }
    if (opened === null) throw errors[0];
    sock = opened;
  }
  const connected = address !== null && !options.allowBroadcast && remoteOf(sock) !== null;
  let protocol: P;
  try {
    protocol = protocolFactory();
  } catch (error) {
    sock.close();
    throw error;
  }
  const waiter = loop.createFuture<void>();
  const transport = new UDPTransport(loop, sock, protocol, address, connected, waiter, early);
  try {
    yield* waiter;
  } catch (error) {
    transport.close();
    throw error;
  }
  return [transport, protocol];
}

function remoteOf(sock: dgram.Socket): InetAddress | null {
  try {
    return toAddress(sock.remoteAddress());
  } catch {
    return null;
  }
}

/**
 * The loop's `createDatagramEndpoint` (see `AbstractEventLoop`): resolves
 * `[transport, protocol]` once `connectionMade` has run.
 */
export function createDatagramEndpoint<P extends DatagramProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: CreateDatagramEndpointOptions = {},
): Coro<[UDPTransport, P]> {
  if (loop.isClosed()) throw new RuntimeError("Event loop is closed");
  return new Coro(() => endpoint(loop, protocolFactory, options), "createDatagramEndpoint");
}
