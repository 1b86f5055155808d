/**
 * TCP connections and servers of the Node loop (the part of CPython's
 * `base_events.py` that makes them): `createConnection` (resolution, every
 * address tried in order, Happy Eyeballs through `staggeredRace`,
 * `localAddr`), `createServer` (one host, several, or every interface),
 * `connectAcceptedSocket`, and the helpers the Unix twins
 * (unix_events.ts) share. A plain connection of a native loop is a raw
 * socket connected through the loop's watchers (`connectRaw`) under a
 * `SelectorSocketTransport` (selector_transport.ts), and a plain server
 * binds raw sockets and accepts on them itself (`SelectorListener`,
 * listeners.ts). TLS and the `net` backend use Node's `net.Socket` /
 * `net.Server` and `SocketTransport` (net_transport.ts). `sendfile` is in
 * sendfile.ts.
 *
 * TLS (`ssl`) is the TLS part's: these functions accept the option shapes
 * and call the hooks it registers with `_setTlsHooks` (a connected socket
 * in, a TLS transport out).
 */
import net from "node:net";
import type { BaseEventLoop } from "../base_events.js";
import { Coro } from "../coroutines.js";
import type {
  AbstractEventLoop,
  AddrInfo,
  ConnectAcceptedSocketOptions,
  CreateConnectionOptions,
  CreateServerOptions,
  CreateUnixServerOptions,
  SocketLike,
} from "../events.js";
import { ExceptionGroup, OSError, osErrorFrom, RuntimeError, ValueError } from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import type { BaseProtocol } from "../protocols.js";
import {
  AF_INET6,
  AF_UNSPEC,
  AI_PASSIVE,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_STREAM,
  SOL_SOCKET,
} from "../socket_constants.js";
import { interleaveAddrinfos, staggeredRace } from "../staggered.js";
import type { Transport } from "../transports.js";
import type { SockAddr } from "./dns.js";
import { type AcceptedTransportFactory, type Listener, NodeListener, SelectorListener } from "./listeners.js";
import { SocketTransport, type SocketTransportOptions, type TransportOwner } from "./net_transport.js";
import { nodeFuture } from "./node_futures.js";
import { canTakeOver, SelectorSocketTransport, socketTransport, takeOver, usesNativeTransports } from "./selector_transport.js";
import { Server } from "./server.js";
import { connectResolved } from "./sock_ops.js";
import { Socket } from "./socket.js";

/** The default backlog of listening sockets, as asyncio's. */
export const DEFAULT_BACKLOG = 100;

/** What the TLS part provides; until it is registered, `ssl` raises a clear error. */
export interface TlsHooks {
  /** Wraps a connected plain socket into a TLS client transport (handshake included), resolving once connectionMade ran. */
  connect(
    loop: AbstractEventLoop,
    sock: net.Socket,
    protocol: BaseProtocol,
    options: CreateConnectionOptions & { serverHostname: string | null },
  ): Coroutine<Transport>;
  /** Wraps an accepted plain socket into a TLS server transport (handshake included), resolving once connectionMade ran. */
  accept(
    loop: AbstractEventLoop,
    sock: net.Socket,
    protocol: BaseProtocol,
    options: ConnectAcceptedSocketOptions,
    server: TransportOwner | null,
  ): Coroutine<Transport>;
  /** The transport factory of a TLS server's accepted connections. */
  acceptor(options: CreateServerOptions | CreateUnixServerOptions): AcceptedTransportFactory;
}

let tlsHooks: TlsHooks | null = null;

/** Called by the TLS module to plug TLS into connections and servers. */
export function _setTlsHooks(hooks: TlsHooks): void {
  tlsHooks = hooks;
}

function requireTls(): TlsHooks {
  if (tlsHooks === null) throw new RuntimeError("ssl needs the TLS backend (src/node/tls.ts), which is not loaded");
  return tlsHooks;
}

/** Checks a server's `ssl` option before anything listens (the TLS hook refuses a wrong context at once). */
export function checkServerSsl(options: CreateServerOptions | CreateUnixServerOptions): void {
  if ((options.ssl ?? null) !== null) requireTls().acceptor(options);
}

/** Python's repr of an address: `('127.0.0.1', 8080)`. */
export function formatAddress(address: SockAddr | string): string {
  if (typeof address === "string") return `'${address}'`;
  return `(${address.map((part) => (typeof part === "string" ? `'${part}'` : String(part))).join(", ")})`;
}

/** An OSError of the class `error` maps to, with a message of asyncio's wording. */
export function rewordedError(error: unknown, message: (strerror: string) => string): unknown {
  const mapped = osErrorFrom(error);
  if (!(mapped instanceof OSError)) return mapped;
  const Cls = mapped.constructor as new (errno: number | undefined, strerror: string, options?: object) => OSError;
  const reason = (mapped.strerror.replace(/^\w+ /, "") || String(mapped.code)).toLowerCase();
  return new Cls(mapped.errno, message(reason), { code: mapped.code, syscall: mapped.syscall, cause: error });
}

export function ignoreError(): void {}

/** Whether a Node socket is a Unix socket (libuv's `Pipe` handle) or TCP. */
export function socketKind(sock: net.Socket): "TCP" | "Unix" {
  return (sock as unknown as { _handle?: { constructor?: { name?: string } } })._handle?.constructor?.name === "Pipe"
    ? "Unix"
    : "TCP";
}

// ---- connecting -------------------------------------------------------------

/** One connection attempt: a connected socket, or the attempt's error (asyncio's wording). */
function connectOnce(loop: AbstractEventLoop, family: number, address: SockAddr, laddr: SockAddr | null): Future<net.Socket> {
  let future: Future<net.Socket> | null = null;
  future = nodeFuture<net.Socket>(loop, (settle) => {
    const sock = new net.Socket({ allowHalfOpen: true });
    sock.unref();
    // Node reads nothing before a transport takes the socket (a native one takes its descriptor).
    sock.pause();
    const onError = (error: Error & { syscall?: string }): void => {
      sock.destroy();
      settle.reject(
        error.syscall === "bind" && laddr !== null
          ? rewordedError(error, (reason) => `error while attempting to bind on address ${formatAddress(laddr)}: ${reason}`)
          : rewordedError(error, () => `Connect call failed ${formatAddress(address)}`),
      );
    };
    sock.once("error", onError);
    sock.once("connect", () => {
      sock.removeListener("error", onError);
      // Until a transport owns it, an error must not crash the process; the transport reads `errored`.
      sock.on("error", ignoreError);
      if (future?.done()) sock.destroy();
      else settle.resolve(sock);
    });
    const options: net.TcpSocketConnectOpts = { host: address[0], port: address[1], family: family === AF_INET6 ? 6 : 4 };
    if (laddr !== null) {
      options.localAddress = laddr[0];
      options.localPort = laddr[1];
    }
    sock.connect(options);
    return () => sock.destroy();
  });
  return future;
}

/**
 * Waits for a connection attempt. A task cancelled in the very iteration its
 * attempt succeeded (a Happy Eyeballs loser) gets the cancellation, not the
 * socket: the socket is closed, as `_connect_sock` closes it.
 */
function* awaitSocket(attempt: Future<net.Socket>): Coroutine<net.Socket> {
  try {
    return yield* attempt;
  } catch (error) {
    if (attempt.done() && !attempt.cancelled() && attempt.exception() === null) attempt.result().destroy();
    throw error;
  }
}

/** A connected socket: Node's (TLS, the `net` backend) or a raw one (native transports). */
type Connected = net.Socket | Socket;

/** Closes a connected socket nobody will use (a Happy Eyeballs loser). */
function discard(sock: Connected): void {
  if (sock instanceof Socket) sock.close();
  else sock.destroy();
}

/** One connection attempt to `address`, bound first to `laddr` if given. */
type Connector<S extends Connected> = (
  loop: AbstractEventLoop,
  family: number,
  address: SockAddr,
  laddr: SockAddr | null,
) => Coroutine<S>;

function* connectNode(loop: AbstractEventLoop, family: number, address: SockAddr, laddr: SockAddr | null): Coroutine<net.Socket> {
  return yield* awaitSocket(connectOnce(loop, family, address, laddr));
}

/**
 * One attempt on a raw non-blocking socket, as CPython's `_connect_sock`:
 * bind to `laddr` if given, then connect, readiness from the loop's own
 * watchers. The socket is closed on any failure, cancellation included.
 * `target` names the address in the error (a Unix path is shown as it is).
 */
export function* connectRaw(
  loop: AbstractEventLoop,
  family: number,
  address: SockAddr | string,
  laddr: SockAddr | null,
  target: string = formatAddress(address),
): Coroutine<Socket> {
  const sock = new Socket(family, SOCK_STREAM, 0);
  try {
    sock.setblocking(false);
    if (laddr !== null) {
      try {
        sock.bind(laddr);
      } catch (error) {
        throw bindError(error, laddr);
      }
    }
    try {
      yield* connectResolved(loop as BaseEventLoop, sock, address);
    } catch (error) {
      throw rewordedError(error, () => `Connect call failed ${target}`);
    }
    return sock;
  } catch (error) {
    sock.close();
    throw error;
  }
}

/** base_events' `_connect_sock`: binds to a matching local address if asked, then connects; errors go to `errors`. */
function* connectSock<S extends Connected>(
  loop: AbstractEventLoop,
  connect: Connector<S>,
  errors: unknown[][],
  info: AddrInfo,
  laddrInfos: AddrInfo[] | null,
): Coroutine<S> {
  const mine: unknown[] = [];
  errors.push(mine);
  const [family, , , , address] = info;
  try {
    if (laddrInfos === null) return yield* connect(loop, family, address, null);
    const local = laddrInfos.filter((l) => l[0] === family);
    if (local.length === 0) throw new OSError(undefined, `no matching local address with family=${family} found`);
    for (const [, , , , laddr] of local) {
      try {
        return yield* connect(loop, family, address, laddr);
      } catch (error) {
        // A failed bind tries the next local address; a failed connect ends the attempt.
        if (!(error instanceof OSError) || error.syscall !== "bind" || laddr === local[local.length - 1]?.[4]) throw error;
        mine.push(error);
      }
    }
    throw mine.pop();
  } catch (error) {
    if (error instanceof OSError) mine.push(error);
    throw error;
  }
}

/** The error create_connection raises when every attempt failed. */
function connectionFailure(errors: unknown[], allErrors: boolean): unknown {
  if (allErrors) return new ExceptionGroup("createConnection failed", errors);
  if (errors.length === 1) return errors[0];
  const model = String((errors[0] as Error).message);
  if (errors.every((e) => String((e as Error).message) === model)) return errors[0];
  return new OSError(undefined, `Multiple exceptions: ${errors.map((e) => (e as Error).message).join(", ")}`);
}

function* resolve(
  loop: AbstractEventLoop,
  host: string | null,
  port: number | string | null,
  options: CreateConnectionOptions,
): Coroutine<AddrInfo[]> {
  // Through the loop's method, as asyncio does (a loop subclass may resolve differently).
  const infos = yield* loop.getaddrinfo(host, port, {
    family: options.family ?? AF_UNSPEC,
    type: SOCK_STREAM,
    proto: options.proto ?? 0,
    flags: options.flags ?? 0,
  });
  if (infos.length === 0) throw new OSError(undefined, "getaddrinfo() returned empty list");
  return infos;
}

/** Resolves and connects (every address in turn, or Happy Eyeballs): base_events' `create_connection` up to the socket. */
function* openConnection<S extends Connected>(
  loop: AbstractEventLoop,
  options: CreateConnectionOptions,
  connect: Connector<S>,
): Coroutine<S> {
  const host = options.host ?? null;
  const port = options.port ?? null;
  let infos = yield* resolve(loop, host, port, options);
  const laddr = options.localAddr ?? null;
  const laddrInfos = laddr === null ? null : yield* resolve(loop, laddr[0], laddr[1], options);
  const delay = options.happyEyeballsDelay ?? null;
  let interleave = options.interleave ?? null;
  if (delay !== null && interleave === null) interleave = 1;
  if (interleave) infos = interleaveAddrinfos(infos, interleave);
  const errors: unknown[][] = [];
  let sock: S | null = null;
  if (delay === null) {
    for (const info of infos) {
      try {
        sock = yield* connectSock(loop, connect, errors, info, laddrInfos);
        break;
      } catch (error) {
        if (!(error instanceof OSError)) throw error;
      }
    }
  } else {
    const attempts = infos.map(
      (info) => () => new Coro(() => connectSock(loop, connect, errors, info, laddrInfos), "connectSock"),
    );
    [sock] = yield* staggeredRace(attempts, delay, { loop, discard });
  }
  if (sock === null) throw connectionFailure(errors.flat(), options.allErrors === true);
  return sock;
}

/** The native transport of a socket connected here (closed if the protocol factory or connectionMade fails). */
export function* rawTransport<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  sock: Socket,
  protocolFactory: () => P,
  what: string,
): Coroutine<[Transport, P]> {
  try {
    return yield* socketTransport(loop, sock, protocolFactory, what);
  } finally {
    sock.close(); // a no-op once the transport took the descriptor
  }
}

/** A Node socket for the `sock` option: a `net.Socket` as it is, anything with `fileno()` opened by descriptor. */
export function adoptSocket(sock: SocketLike, what: string): net.Socket {
  if (sock instanceof net.Socket) {
    if (sock.destroyed) throw new ValueError(`${what}: the socket is closed: ${String(sock)}`);
    return sock;
  }
  const fileno = (sock as { fileno?: () => number }).fileno;
  if (typeof fileno !== "function") {
    throw new TypeError(`${what}: sock must be a net.Socket or have fileno(), not ${sock?.constructor?.name ?? typeof sock}`);
  }
  return new net.Socket({ fd: takeDescriptor(sock, fileno), allowHalfOpen: true, readable: true, writable: true });
}

/**
 * The descriptor of a socket handed to Node, which owns it from then on: a
 * `socket.Socket` gives it away (`detach()`), so that closing or collecting
 * that object can never close the descriptor under Node's handle.
 */
function takeDescriptor(sock: SocketLike, fileno: () => number): number {
  const detach = (sock as { detach?: () => number }).detach;
  return typeof detach === "function" ? detach.call(sock) : fileno.call(sock);
}

export function* connected(loop: AbstractEventLoop, sock: net.Socket): Coroutine<void> {
  if (!sock.connecting) return;
  yield* nodeFuture<void>(loop, (settle) => {
    sock.once("connect", () => settle.resolve(undefined));
    sock.once("error", (error) => settle.reject(error));
    return undefined;
  });
}

/** base_events' `_create_connection_transport`: the protocol, the transport, and the wait for connectionMade. */
export function* connectionTransport<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  sock: net.Socket,
  protocolFactory: () => P,
  kind: "TCP" | "Unix",
  unix: { path: string; peer: string } | null,
  server: TransportOwner | null = null,
): Coroutine<[Transport, P]> {
  let protocol: P;
  try {
    protocol = protocolFactory();
  } catch (error) {
    sock.destroy();
    throw error;
  }
  const waiter = loop.createFuture<void>();
  const transport = newTransport(loop, sock, protocol, { kind, waiter, unix, server });
  try {
    yield* waiter;
  } catch (error) {
    transport.close();
    throw error;
  }
  return [transport, protocol];
}

/**
 * The backend dispatch: a native transport on the socket's descriptor
 * (selector_transport.ts) when the loop uses them and the socket can be
 * taken over, else the transport over the Node socket.
 */
function newTransport(
  loop: AbstractEventLoop,
  sock: net.Socket,
  protocol: BaseProtocol,
  options: SocketTransportOptions,
): SocketTransport | SelectorSocketTransport {
  if (usesNativeTransports(loop) && canTakeOver(sock)) {
    return new SelectorSocketTransport(loop, takeOver(sock), protocol, { waiter: options.waiter, server: options.server });
  }
  return new SocketTransport(loop, sock, protocol, options);
}

export function* tlsTransport<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  sock: net.Socket,
  protocolFactory: () => P,
  options: CreateConnectionOptions,
  defaultHostname: string | null,
): Coroutine<[Transport, P]> {
  const hooks = requireTls();
  const protocol = protocolFactory();
  const serverHostname = options.serverHostname ?? defaultHostname;
  const transport = yield* hooks.connect(loop, sock, protocol, { ...options, serverHostname });
  return [transport, protocol];
}

export function checkSslOptions(options: {
  ssl?: unknown;
  serverHostname?: unknown;
  sslHandshakeTimeout?: unknown;
  sslShutdownTimeout?: unknown;
}): void {
  const ssl = options.ssl ?? null;
  if (ssl !== null && ssl !== false) return;
  if ((options.serverHostname ?? null) !== null) throw new ValueError("serverHostname is only meaningful with ssl");
  if ((options.sslHandshakeTimeout ?? null) !== null) throw new ValueError("sslHandshakeTimeout is only meaningful with ssl");
  if ((options.sslShutdownTimeout ?? null) !== null) throw new ValueError("sslShutdownTimeout is only meaningful with ssl");
}

function* createConnectionCoroutine<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: CreateConnectionOptions,
): Coroutine<[Transport, P]> {
  checkSslOptions(options);
  const host = options.host ?? null;
  const port = options.port ?? null;
  const ssl = options.ssl ?? null;
  if (ssl !== null && ssl !== false && (options.serverHostname ?? null) === null && host === null) {
    throw new ValueError("You must set serverHostname when using ssl without a host");
  }
  let sock: net.Socket;
  if (host !== null || port !== null) {
    if ((options.sock ?? null) !== null) throw new ValueError("host/port and sock can not be specified at the same time");
    if ((ssl === null || ssl === false) && usesNativeTransports(loop)) {
      return yield* rawTransport(loop, yield* openConnection(loop, options, connectRaw), protocolFactory, "createConnection()");
    }
    sock = yield* openConnection(loop, options, connectNode);
  } else {
    if ((options.sock ?? null) === null) throw new ValueError("host and port was not specified and no sock specified");
    if ((ssl === null || ssl === false) && options.sock instanceof Socket && usesNativeTransports(loop)) {
      return yield* socketTransport(loop, options.sock, protocolFactory, "createConnection()");
    }
    sock = adoptSocket(options.sock as SocketLike, "createConnection()");
    yield* connected(loop, sock);
  }
  if (ssl !== null && ssl !== false) return yield* tlsTransport(loop, sock, protocolFactory, options, host);
  const kind = socketKind(sock);
  return yield* connectionTransport(loop, sock, protocolFactory, kind, kind === "Unix" ? { path: "", peer: "" } : null);
}

/**
 * Python's `loop.create_connection`: resolves `host`/`port`, connects to
 * each address in turn (or in a staggered race with `happyEyeballsDelay`)
 * and resolves to `[transport, protocol]` once `connectionMade` ran.
 */
export function createConnection<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  options: CreateConnectionOptions = {},
): Coro<[Transport, P]> {
  return new Coro(() => createConnectionCoroutine(loop, protocolFactory, options), "createConnection");
}

/** Python's `loop.connect_accepted_socket`: a transport for a socket accepted elsewhere. */
export function connectAcceptedSocket<P extends BaseProtocol>(
  loop: AbstractEventLoop,
  protocolFactory: () => P,
  sock: SocketLike,
  options: ConnectAcceptedSocketOptions = {},
): Coro<[Transport, P]> {
  return new Coro(function* connectAcceptedSocketCoroutine(): Coroutine<[Transport, P]> {
    checkSslOptions(options);
    if ((options.ssl ?? null) === null && sock instanceof Socket && usesNativeTransports(loop)) {
      return yield* socketTransport(loop, sock, protocolFactory, "connectAcceptedSocket()");
    }
    const nodeSock = adoptSocket(sock, "connectAcceptedSocket()");
    if ((options.ssl ?? null) !== null) {
      const protocol = protocolFactory();
      const transport = yield* requireTls().accept(loop, nodeSock, protocol, options, null);
      return [transport, protocol];
    }
    const kind = socketKind(nodeSock);
    return yield* connectionTransport(loop, nodeSock, protocolFactory, kind, kind === "Unix" ? { path: "", peer: "" } : null);
  }, "connectAcceptedSocket");
}

// ---- servers ----------------------------------------------------------------

/** The Node versions whose `net.Server.listen` takes `reusePort` (22.12+, 23.1+). */
export function nodeHasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

function checkReuseOptions(options: CreateServerOptions): void {
  if (options.reuseAddress === false) {
    throw new ValueError("reuseAddress: false is not possible on Node: libuv always sets SO_REUSEADDR on listening TCP sockets");
  }
  if (options.reusePort === true && !nodeHasReusePort()) {
    throw new ValueError(
      `reusePort needs Node >= 22.12 (net.Server listen option reusePort); this is Node ${process.versions.node}, which would ignore it`,
    );
  }
}

export function acceptorFor(
  options: CreateServerOptions | CreateUnixServerOptions,
  kind: "TCP" | "Unix",
  unixPath: string,
): AcceptedTransportFactory {
  if ((options.ssl ?? null) !== null) return requireTls().acceptor(options);
  return (loop: AbstractEventLoop, sock: net.Socket, protocol: BaseProtocol, server: TransportOwner): void => {
    // A TCP server's `sock` may be a listening Unix socket: each connection says what it is.
    const actual = kind === "Unix" ? "Unix" : socketKind(sock);
    newTransport(loop, sock, protocol, {
      kind: actual,
      server,
      unix: actual === "Unix" ? { path: unixPath, peer: "" } : null,
    });
  };
}

export function newListener(): net.Server {
  return net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
}

/** The bind error of asyncio's wording, naming the address. */
function bindError(error: unknown, address: SockAddr): unknown {
  return rewordedError(error, (reason) => `error while attempting to bind on address ${formatAddress(address)}: ${reason}`);
}

/** Listens on one resolved address with a Node `net.Server`. */
function listenOnNode(loop: AbstractEventLoop, info: AddrInfo, options: CreateServerOptions): Future<net.Server> {
  const [family, , , , address] = info;
  return nodeFuture<net.Server>(loop, (settle) => {
    const listener = newListener();
    listener.once("error", (error) => {
      listener.close();
      settle.reject(bindError(error, address));
    });
    const listenOptions: net.ListenOptions & { reusePort?: boolean } = {
      host: address[0],
      port: address[1],
      backlog: options.backlog ?? DEFAULT_BACKLOG,
    };
    if (family === AF_INET6) listenOptions.ipv6Only = options.ipv6Only ?? true;
    if (options.reusePort === true) listenOptions.reusePort = true;
    listener.listen(listenOptions, () => {
      listener.removeAllListeners("error");
      settle.resolve(listener);
    });
    return () => listener.close();
  });
}

/**
 * Binds a raw socket to one resolved address, as CPython's create_server
 * does: SO_REUSEADDR unless `reuseAddress: false`, SO_REUSEPORT on
 * request, IPV6_V6ONLY on IPv6 sockets. It listens once the server starts
 * serving.
 */
function bindRaw(info: AddrInfo, options: CreateServerOptions): Socket {
  const [family, , proto, , address] = info;
  const sock = new Socket(family, SOCK_STREAM, proto);
  try {
    if (options.reuseAddress ?? true) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reusePort === true) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
    if (family === AF_INET6) sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, (options.ipv6Only ?? true) ? 1 : 0);
    sock.bind(address);
  } catch (error) {
    sock.close();
    throw bindError(error, address);
  }
  return sock;
}

/** Whether a server gets raw listening sockets (native transports, no TLS) rather than `net.Server`s. */
export function servesNatively(loop: AbstractEventLoop, options: CreateServerOptions | CreateUnixServerOptions): boolean {
  return usesNativeTransports(loop) && (options.ssl ?? null) === null;
}

/** A `sock` given to a server: a listening `net.Server`, a raw `socket.Socket`, or any socket with `fileno()`. */
export function* adoptListener(
  loop: AbstractEventLoop,
  sock: SocketLike,
  options: CreateServerOptions | CreateUnixServerOptions,
  kind: "TCP" | "Unix",
): Coroutine<Listener> {
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  if (sock instanceof net.Server) {
    if (!sock.listening) throw new ValueError("sock must be a listening net.Server");
    return nodeListener(loop, sock, options, kind);
  }
  if (sock instanceof Socket && servesNatively(loop, options)) {
    if (sock.fileno() < 0) throw new ValueError(`sock is closed: ${sock}`);
    if (sock.type !== SOCK_STREAM) throw new ValueError(`A Stream Socket was expected, got ${sock}`);
    return new SelectorListener(loop, new Socket(sock.family, sock.type, sock.proto, sock.detach()), backlog);
  }
  const fileno = (sock as { fileno?: () => number }).fileno;
  if (typeof fileno !== "function") {
    throw new TypeError(`sock must be a listening net.Server or have fileno(), not ${sock?.constructor?.name ?? typeof sock}`);
  }
  const fd = takeDescriptor(sock, fileno);
  const server = yield* nodeFuture<net.Server>(loop, (settle) => {
    const listener = newListener();
    listener.once("error", (error) => settle.reject(error));
    listener.listen({ fd, backlog }, () => settle.resolve(listener));
    return () => listener.close();
  });
  return nodeListener(loop, server, options, kind);
}

/** A `net.Server` as a server's listener; a Unix one reports its path (Node knows it from `address()`). */
export function nodeListener(
  loop: AbstractEventLoop,
  server: net.Server,
  options: CreateServerOptions | CreateUnixServerOptions,
  kind: "TCP" | "Unix",
  unixPath: string | null = null,
): NodeListener {
  let path = unixPath;
  if (kind === "Unix" && path === null) {
    const address = server.address();
    path = typeof address === "string" ? address : "";
  }
  return new NodeListener(loop, server, acceptorFor(options, kind, path ?? ""), path);
}

function hostsOf(host: string | string[] | null | undefined): (string | null)[] {
  if (host === null || host === undefined || host === "") return [null];
  if (typeof host === "string") return [host];
  if (Array.isArray(host)) return host.map((h) => (h === "" ? null : h));
  throw new TypeError(`host must be a string, an array of strings or null, not ${typeof host}`);
}

function* listenAll(loop: AbstractEventLoop, options: CreateServerOptions): Coroutine<Listener[]> {
  const port = options.port ?? null;
  const seen = new Set<string>();
  const infos: AddrInfo[] = [];
  for (const host of hostsOf(options.host)) {
    const found = yield* loop.getaddrinfo(host, port, {
      family: options.family ?? AF_UNSPEC,
      type: SOCK_STREAM,
      flags: options.flags ?? AI_PASSIVE,
    });
    for (const info of found) {
      const key = JSON.stringify([info[0], info[4]]);
      if (!seen.has(key)) infos.push(info);
      seen.add(key);
    }
  }
  const native = servesNatively(loop, options);
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  const listeners: Listener[] = [];
  try {
    for (const info of infos) {
      try {
        listeners.push(
          native
            ? new SelectorListener(loop, bindRaw(info, options), backlog)
            : nodeListener(loop, yield* listenOnNode(loop, info, options), options, "TCP"),
        );
      } catch (error) {
        // An address family the host lacks is skipped, as asyncio does (bpo-30945).
        if (error instanceof OSError && (error.code === "EADDRNOTAVAIL" || error.code === "EAFNOSUPPORT")) continue;
        throw error;
      }
    }
  } catch (error) {
    for (const listener of listeners) listener.close();
    throw error;
  }
  return listeners;
}

function* createServerCoroutine(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  options: CreateServerOptions,
): Coroutine<Server> {
  if (typeof protocolFactory !== "function") throw new TypeError("protocolFactory must be a function");
  checkServerSsl(options);
  if ((options.ssl ?? null) === null && (options.sslHandshakeTimeout ?? null) !== null) {
    throw new ValueError("sslHandshakeTimeout is only meaningful with ssl");
  }
  if ((options.ssl ?? null) === null && (options.sslShutdownTimeout ?? null) !== null) {
    throw new ValueError("sslShutdownTimeout is only meaningful with ssl");
  }
  if (!servesNatively(loop, options)) checkReuseOptions(options);
  let listeners: Listener[];
  if ((options.host ?? null) !== null || (options.port ?? null) !== null) {
    if ((options.sock ?? null) !== null) throw new ValueError("host/port and sock can not be specified at the same time");
    listeners = yield* listenAll(loop, options);
  } else {
    if ((options.sock ?? null) === null) throw new ValueError("Neither host/port nor sock were specified");
    listeners = [yield* adoptListener(loop, options.sock as SocketLike, options, "TCP")];
  }
  const server = new Server(loop, listeners, protocolFactory);
  if (options.startServing ?? true) yield* server.startServing();
  return server;
}

/** Python's `loop.create_server`: listens on every address of `host` (all interfaces for `null`/`""`). */
export function createServer(
  loop: AbstractEventLoop,
  protocolFactory: () => BaseProtocol,
  options: CreateServerOptions = {},
): Coro<Server> {
  return new Coro(() => createServerCoroutine(loop, protocolFactory, options), "createServer");
}
