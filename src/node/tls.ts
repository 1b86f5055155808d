/**
 * TLS connections of the Node loop (CPython's `sslproto.py` and the TLS
 * parts of `base_events.py`): the client and server handshakes over a
 * connected `net.Socket`, the TLS transport (`SSLTransport`, the stream
 * transport of net_transport.ts around a `tls.TLSSocket`), `startTls`,
 * and the hooks through which `createConnection`, `createServer` and
 * their Unix forms (tcp.ts) hand their sockets over when `ssl` is given.
 *
 * Clients wrap the socket with `tls.connect({ socket })`. Servers feed it
 * to a `tls.Server` with `emit("connection")`, one per `SSLContext`
 * setting, because only a `tls.Server` enforces client certificates
 * (a bare server-side `TLSSocket` does not). The transport is made in
 * the very Node callback that ends the handshake, so no event of the TLS
 * socket falls between the handshake and the transport's listeners.
 * Handshake and shutdown timeouts run on the loop's clock, as in CPython.
 */
import net from "node:net";
import tls from "node:tls";
import { inspect } from "node:util";
import { Coro } from "../coroutines.js";
import type {
  AbstractEventLoop,
  ConnectAcceptedSocketOptions,
  CreateConnectionOptions,
  CreateServerOptions,
  CreateUnixServerOptions,
  SSLOption,
  StartTlsOptions,
  TimerHandle,
} from "../events.js";
import {
  ConnectionAbortedError,
  ConnectionResetError,
  NotImplementedError,
  OSError,
  TimeoutError,
  ValueError,
} from "../exceptions.js";
import type { Coroutine, Future } from "../futures.js";
import { logger } from "../log.js";
import type { BaseProtocol } from "../protocols.js";
import { AF_UNIX } from "../socket_constants.js";
import type { Transport } from "../transports.js";
import { SocketTransport, type TransportOwner } from "./net_transport.js";
import { SelectorSocketTransport } from "./selector_transport.js";
import {
  CERT_NONE,
  CERT_OPTIONAL,
  CERT_REQUIRED,
  createDefaultContext,
  PROTOCOL_TLS_CLIENT,
  PROTOCOL_TLS_SERVER,
  SSLContext,
  SSLObject,
  sslErrorFrom,
  verificationError,
} from "./ssl.js";
import { _setTlsHooks } from "./tcp.js";
import { TransportSocket } from "./trsock.js";

/** Seconds a handshake may take before the connection is aborted (asyncio's `SSL_HANDSHAKE_TIMEOUT`). */
export const SSL_HANDSHAKE_TIMEOUT = 60;
/** Seconds the closing of a TLS connection may take before it is cut (asyncio's `SSL_SHUTDOWN_TIMEOUT`). */
export const SSL_SHUTDOWN_TIMEOUT = 30;

/** Unix socket paths of a connection (Node reports none). */
type UnixPaths = { path: string; peer: string } | null;

/** Everything one TLS connection is made with, checked once. */
interface TlsSettings {
  readonly context: SSLContext;
  readonly serverSide: boolean;
  /** Client side: the name checked against the certificate and sent as SNI; `null` for none. */
  readonly serverHostname: string | null;
  readonly handshakeTimeout: number;
  readonly shutdownTimeout: number;
  readonly unix: UnixPaths;
}

function positiveTimeout(value: number | null | undefined, name: string, fallback: number): number {
  if (value === null || value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0))
    throw new ValueError(`${name} should be a positive number, got ${String(value)}`);
  return value;
}

/** The contexts of `ssl: true` (with and without host-name checks), made once: loading the default trust store is costly. */
const defaultClientContexts: { checking: SSLContext | null; unchecked: SSLContext | null } = { checking: null, unchecked: null };

function defaultClientContext(noHostname: boolean): SSLContext {
  if (!noHostname) return (defaultClientContexts.checking ??= createDefaultContext());
  if (defaultClientContexts.unchecked === null) {
    const context = createDefaultContext();
    context.checkHostname = false;
    defaultClientContexts.unchecked = context;
  }
  return defaultClientContexts.unchecked;
}

/**
 * The client settings of `ssl` (base_events' rules): `true` makes a
 * default context (`createDefaultContext()`, without host-name checks when
 * `serverHostname` is `""`; one shared by every such connection, unlike
 * Python's fresh one per connection, since loading the system's trust store
 * takes tens of milliseconds); a context made for servers is refused; a
 * context that checks host names needs one.
 */
function clientSettings(
  ssl: SSLOption | undefined,
  serverHostname: string | null,
  timeouts: { sslHandshakeTimeout?: number | null; sslShutdownTimeout?: number | null },
  unix: UnixPaths,
): TlsSettings {
  let context: SSLContext;
  if (ssl === true) {
    context = defaultClientContext(!serverHostname);
  } else if (ssl instanceof SSLContext) {
    context = ssl;
  } else {
    throw new TypeError(`ssl must be true or an ssl.SSLContext, not ${inspect(ssl)}`);
  }
  if (context.protocol === PROTOCOL_TLS_SERVER) {
    throw new ValueError(`Cannot create a client socket with a PROTOCOL_TLS_SERVER context: ${context}`);
  }
  const name = serverHostname || null;
  if (name === null && context.checkHostname) {
    throw new ValueError(
      `checkHostname requires serverHostname: ${context} checks host names, so pass serverHostname (or set checkHostname = false)`,
    );
  }
  return {
    context,
    serverSide: false,
    serverHostname: name,
    handshakeTimeout: positiveTimeout(timeouts.sslHandshakeTimeout, "sslHandshakeTimeout", SSL_HANDSHAKE_TIMEOUT),
    shutdownTimeout: positiveTimeout(timeouts.sslShutdownTimeout, "sslShutdownTimeout", SSL_SHUTDOWN_TIMEOUT),
    unix,
  };
}

/** The server settings of `ssl`: an `SSLContext` (not `true`), not one made for clients. */
function serverSettings(
  ssl: unknown,
  timeouts: { sslHandshakeTimeout?: number | null; sslShutdownTimeout?: number | null },
  unix: UnixPaths,
): TlsSettings {
  if (typeof ssl === "boolean") throw new TypeError("ssl argument must be an SSLContext or null");
  if (!(ssl instanceof SSLContext)) throw new TypeError(`ssl must be an ssl.SSLContext, not ${inspect(ssl)}`);
  if (ssl.protocol === PROTOCOL_TLS_CLIENT) {
    throw new ValueError(`Cannot create a server socket with a PROTOCOL_TLS_CLIENT context: ${ssl}`);
  }
  return {
    context: ssl,
    serverSide: true,
    serverHostname: null,
    handshakeTimeout: positiveTimeout(timeouts.sslHandshakeTimeout, "sslHandshakeTimeout", SSL_HANDSHAKE_TIMEOUT),
    shutdownTimeout: positiveTimeout(timeouts.sslShutdownTimeout, "sslShutdownTimeout", SSL_SHUTDOWN_TIMEOUT),
    unix,
  };
}

// ---------------------------------------------------------------------------
// Handshakes
// ---------------------------------------------------------------------------

/** What one handshake reports to: the TLS socket once secure, or the error that ended it. */
interface HandshakeOutcome {
  secure(socket: tls.TLSSocket): void;
  fail(error: unknown): void;
  /** The connection closed: fails with `makeError()` if the handshake is still running (the error is made only then). */
  closed(makeError: () => unknown): void;
}

function clientSocket(raw: net.Socket, settings: TlsSettings, outcome: HandshakeOutcome): tls.TLSSocket {
  const { context, serverHostname } = settings;
  const options: tls.ConnectionOptions = {
    socket: raw,
    secureContext: context._secureContext(),
    // CERT_OPTIONAL on a client is CERT_REQUIRED: a server always sends its certificate.
    rejectUnauthorized: context.verifyMode !== CERT_NONE,
    checkServerIdentity: context.checkHostname
      ? (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(serverHostname ?? "", cert)
      : () => undefined,
  };
  // SNI carries host names only (RFC 6066); an IP address is still checked against the certificate.
  if (serverHostname !== null && net.isIP(serverHostname) === 0) options.servername = serverHostname;
  const alpn = context._alpnProtocols;
  if (alpn !== null) options.ALPNProtocols = [...alpn];
  const socket = tls.connect(options);
  socket.once("secureConnect", () => outcome.secure(socket));
  socket.on("error", (error) => outcome.fail(sslErrorFrom(error, serverHostname)));
  socket.once("close", () =>
    outcome.closed(() => new ConnectionResetError(undefined, "Connection lost during the TLS handshake")),
  );
  return socket;
}

/** A `tls.Server` (never listening) per context and version of its settings; fed sockets with `emit("connection")`. */
const tlsServers = new WeakMap<SSLContext, { version: number; server: tls.Server }>();
/** The handshakes in progress on the server side, by the plain socket underneath. */
const serverHandshakes = new WeakMap<net.Socket, HandshakeOutcome>();

function outcomeOf(socket: tls.TLSSocket): HandshakeOutcome | undefined {
  // A TLSSocket made around a net.Socket keeps it as `_parent` (Node's own name for it).
  const parent = (socket as unknown as { _parent?: net.Socket })._parent;
  return parent === undefined ? undefined : serverHandshakes.get(parent);
}

function tlsServerFor(context: SSLContext): tls.Server {
  const cached = tlsServers.get(context);
  if (cached !== undefined && cached.version === context._settingsVersion) return cached.server;
  let server: tls.Server;
  try {
    server = tls.createServer({
      ...context._secureContextOptions(),
      requestCert: context.verifyMode !== CERT_NONE,
      // CERT_OPTIONAL: a certificate is asked for, and checked below only if one came.
      rejectUnauthorized: context.verifyMode === CERT_REQUIRED,
      ALPNProtocols: context._alpnProtocols === null ? undefined : [...context._alpnProtocols],
      // The loop's timer (sslHandshakeTimeout) bounds the handshake, not Node's.
      handshakeTimeout: 0,
    });
  } catch (error) {
    throw sslErrorFrom(error);
  }
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    const outcome = outcomeOf(socket);
    if (outcome === undefined) {
      socket.destroy();
      return;
    }
    if (context.verifyMode === CERT_OPTIONAL && !socket.authorized && socket.getPeerX509Certificate() !== undefined) {
      outcome.fail(verificationError(String(socket.authorizationError)));
      return;
    }
    outcome.secure(socket);
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => outcomeOf(socket)?.fail(sslErrorFrom(error)));
  tlsServers.set(context, { version: context._settingsVersion, server });
  return server;
}

function serverSocket(raw: net.Socket, settings: TlsSettings, outcome: HandshakeOutcome): null {
  const server = tlsServerFor(settings.context);
  if (raw.destroyed) {
    outcome.fail(new ConnectionResetError(undefined, "the connection closed before the TLS handshake"));
    return null;
  }
  serverHandshakes.set(raw, outcome);
  // A client certificate that fails verification makes Node close the connection without an event.
  raw.once("close", () =>
    outcome.closed(
      () =>
        new ConnectionAbortedError(
          undefined,
          "the connection closed during the TLS handshake (by the peer, or for its certificate)",
        ),
    ),
  );
  server.emit("connection", raw);
  return null;
}

/**
 * Runs the handshake of `raw` and calls `onSecure` with the TLS socket in
 * the Node callback that completes it. The future settles with the
 * handshake: an `SSLError` (or `SSLCertVerificationError`), a connection
 * error, or `ConnectionAbortedError` after `handshakeTimeout` seconds.
 * Cancelling it aborts the handshake. On failure both sockets are destroyed.
 */
function handshake(
  loop: AbstractEventLoop,
  raw: net.Socket,
  settings: TlsSettings,
  onSecure: (socket: tls.TLSSocket) => void,
): Future<void> {
  const future = loop.createFuture<void>();
  // The TLS socket takes allowHalfOpen from `raw`: a peer's end of file during the handshake must end it
  // (Node then reports ECONNRESET), not leave it half-open. The transport sets its own afterwards.
  raw.allowHalfOpen = false;
  let socket: tls.TLSSocket | null = null;
  let timer: TimerHandle | null = null;
  let settled = false;
  const settle = (error: unknown, secure: tls.TLSSocket | null): void => {
    if (settled) return;
    settled = true;
    timer?.cancel();
    serverHandshakes.delete(raw);
    if (secure !== null && !future.done() && !loop.isClosed()) {
      socket = secure;
      onSecure(secure);
      future.setResult(undefined);
      return;
    }
    (secure ?? socket)?.destroy();
    raw.destroy();
    if (!future.done() && !loop.isClosed()) future.setException(error);
  };
  const outcome: HandshakeOutcome = {
    secure: (s) => settle(null, s),
    fail: (e) => settle(e, null),
    closed: (makeError) => {
      if (!settled) settle(makeError(), null);
    },
  };
  future.addDoneCallback((f) => {
    if (f.cancelled()) settle(null, null);
  });
  timer = loop.callLater(settings.handshakeTimeout, () =>
    outcome.fail(
      new ConnectionAbortedError(
        undefined,
        `SSL handshake is taking longer than ${settings.handshakeTimeout} seconds: aborting the connection`,
      ),
    ),
  );
  try {
    socket = settings.serverSide ? serverSocket(raw, settings, outcome) : clientSocket(raw, settings, outcome);
  } catch (error) {
    outcome.fail(sslErrorFrom(error));
  }
  return future;
}

// ---------------------------------------------------------------------------
// The transport
// ---------------------------------------------------------------------------

/** The TLS entries of `getExtraInfo`, as CPython's SSL transport has them. */
function tlsExtra(socket: tls.TLSSocket, raw: net.Socket, settings: TlsSettings): Record<string, unknown> {
  const sslObject = new SSLObject(socket, settings.context, settings.serverSide, settings.serverHostname);
  return {
    // The plain socket underneath: its descriptor and addresses.
    socket: new TransportSocket(raw, settings.unix),
    sslcontext: settings.context,
    ssl_object: sslObject,
    peercert: sslObject.getpeercert(),
    cipher: sslObject.cipher(),
    compression: sslObject.compression(),
  };
}

/** Options of `new SSLTransport`. */
interface SSLTransportOptions {
  server?: TransportOwner | null;
  waiter?: Future<void> | null;
  /** `false` for `startTls`: the protocol already had its `connectionMade`. */
  callConnectionMade?: boolean;
}

/**
 * A TLS connection as a transport (CPython's `_SSLProtocolTransport`):
 * the stream transport over a `tls.TLSSocket`, with the TLS entries of
 * `getExtraInfo` (`sslcontext`, `ssl_object`, `peercert`, `cipher`,
 * `compression`), no half-close (as in CPython), and a closing bounded by
 * `sslShutdownTimeout` (after which `connectionLost` gets a `TimeoutError`).
 */
export class SSLTransport extends SocketTransport {
  private readonly _shutdownTimeout: number;
  private _shutdownTimer: TimerHandle | null = null;

  constructor(
    loop: AbstractEventLoop,
    socket: tls.TLSSocket,
    raw: net.Socket,
    protocol: BaseProtocol,
    settings: TlsSettings,
    options: SSLTransportOptions = {},
  ) {
    super(loop, socket, protocol, {
      kind: "TLS",
      server: options.server ?? null,
      waiter: options.waiter ?? null,
      extra: tlsExtra(socket, raw, settings),
      canWriteEof: false,
      unix: settings.unix,
      callConnectionMade: options.callConnectionMade ?? true,
      mapError: (error: unknown) => sslErrorFrom(error, settings.serverHostname),
      closesOnEof: "ssl",
    });
    this._shutdownTimeout = settings.shutdownTimeout;
    // TCP_NODELAY, as asyncio sets it on every TCP transport.
    if (settings.unix === null) raw.setNoDelay(true);
    socket.once("close", () => {
      this._shutdownTimer?.cancel();
      this._shutdownTimer = null;
    });
  }

  /** TLS has no half-close here, as in CPython's SSL transports (`canWriteEof()` is false). */
  override writeEof(): never {
    throw new NotImplementedError("TLS transports cannot write end of file (half-close): close() sends TLS close_notify instead");
  }

  /** Sends TLS close_notify after the buffered data, then closes; cut with `TimeoutError` after `sslShutdownTimeout` seconds. */
  override close(): void {
    const wasClosing = this.isClosing();
    super.close();
    const socket = this._sock;
    if (wasClosing || socket.destroyed || this._loop.isClosed()) return;
    this._shutdownTimer = this._loop.callLater(this._shutdownTimeout, () => {
      this._shutdownTimer = null;
      if (!socket.destroyed) socket.destroy(new TimeoutError("SSL shutdown timed out"));
    });
  }
}

/**
 * Stands for an accepted connection in its server while it handshakes (as
 * CPython's plain transport underneath does), so that `waitClosed()` waits
 * for it and `closeClients()`/`abortClients()` end it.
 */
class HandshakingConnection {
  constructor(private readonly _handshake: Future<void>) {}
  close(): void {
    this._handshake.cancel();
  }
  abort(): void {
    this._handshake.cancel();
  }
}

/** Handshake, then the transport; resolves once `connectionMade` ran (CPython's `_create_connection_transport` with ssl). */
function* tlsTransport(
  loop: AbstractEventLoop,
  raw: net.Socket,
  protocol: BaseProtocol,
  settings: TlsSettings,
  options: SSLTransportOptions,
): Coroutine<SSLTransport> {
  const waiter = options.callConnectionMade === false ? null : loop.createFuture<void>();
  const server = options.server ?? null;
  // startTls keeps the old transport in its server meanwhile; an accepted connection needs a stand-in.
  const standIn = server !== null && options.callConnectionMade !== false;
  let placeholder: SocketTransport | null = null;
  let transport: SSLTransport | null = null;
  const done = handshake(loop, raw, settings, (socket) => {
    transport = new SSLTransport(loop, socket, raw, protocol, settings, { ...options, waiter });
  });
  if (standIn) {
    // The server only closes or aborts its clients: the stand-in has exactly those.
    placeholder = new HandshakingConnection(done) as unknown as SocketTransport;
    server._attach(placeholder);
  }
  try {
    yield* done;
    if (waiter !== null) yield* waiter;
  } catch (error) {
    (transport as SSLTransport | null)?.close();
    throw error;
  } finally {
    // Detached after the transport attached itself: the server never sees zero clients in between.
    if (placeholder !== null) server?._detach(placeholder);
  }
  return transport as unknown as SSLTransport;
}

/** Server side: failures are the peer's business, logged in debug mode only for OSErrors, as CPython does. */
function reportAcceptFailure(loop: AbstractEventLoop, error: unknown, raw: net.Socket): void {
  if (error instanceof OSError) {
    if (loop.getDebug()) logger.debug(`SSL handshake failed on ${raw.remoteAddress ?? "a Unix socket"}:`, error);
    return;
  }
  loop.callExceptionHandler({ message: "SSL handshake failed", exception: error, socket: raw });
}

/** Settings checked once the socket is connected: a refusal closes the socket, as CPython closes it. */
function closingOnError(sock: net.Socket, check: () => TlsSettings): TlsSettings {
  try {
    return check();
  } catch (error) {
    sock.destroy();
    throw error;
  }
}

function unixPathsOf(options: object): UnixPaths {
  const path = (options as { path?: unknown }).path;
  return typeof path === "string" ? { path, peer: "" } : null;
}

_setTlsHooks({
  connect(loop, sock, protocol, options: CreateConnectionOptions & { serverHostname: string | null }) {
    const path = (options as { path?: unknown }).path;
    const isUnix = typeof path === "string" || sock.remoteAddress === undefined;
    const unix = isUnix ? { path: "", peer: typeof path === "string" ? path : "" } : null;
    const settings = closingOnError(sock, () => clientSettings(options.ssl, options.serverHostname, options, unix));
    return tlsTransport(loop, sock, protocol, settings, {});
  },
  accept(loop, sock, protocol, options: ConnectAcceptedSocketOptions, server) {
    const settings = closingOnError(sock, () => serverSettings(options.ssl, options, null));
    return tlsTransport(loop, sock, protocol, settings, { server });
  },
  acceptor(options: CreateServerOptions | CreateUnixServerOptions) {
    const settings = serverSettings(options.ssl, options, unixPathsOf(options));
    return (loop, sock, protocol, server) => {
      const task = loop.createTask(tlsTransport(loop, sock, protocol, settings, { server }));
      task.addDoneCallback((t) => {
        if (!t.cancelled() && t.exception() !== null) reportAcceptFailure(loop, t.exception(), sock);
      });
    };
  },
});

// ---------------------------------------------------------------------------
// startTls
// ---------------------------------------------------------------------------

function* startTlsCoroutine(
  loop: AbstractEventLoop,
  transport: Transport,
  protocol: BaseProtocol,
  sslcontext: SSLContext,
  options: StartTlsOptions,
): Coroutine<Transport> {
  if (!(sslcontext instanceof SSLContext)) {
    throw new TypeError(`sslcontext is expected to be an instance of ssl.SSLContext, got ${inspect(sslcontext)}`);
  }
  if (!(transport instanceof SocketTransport) && !(transport instanceof SelectorSocketTransport)) {
    throw new TypeError(`transport ${String(transport)} is not supported by startTls()`);
  }
  const old = transport.getExtraInfo<TransportSocket>("socket");
  const unix = old?.family === AF_UNIX ? { path: String(old.getsockname()), peer: String(old.getpeername()) } : null;
  const settings = options.serverSide
    ? serverSettings(sslcontext, options, unix)
    : clientSettings(sslcontext, options.serverHostname ?? null, options, unix);
  const { sock, server } = transport._detachForTls();
  try {
    return yield* tlsTransport(loop, sock, protocol, settings, { server, callConnectionMade: false });
  } finally {
    server?._detach(transport);
  }
}

/**
 * Python's `loop.start_tls`: upgrades the live connection of `transport`
 * to TLS (client side, or server side with `serverSide: true`) and resolves
 * to the new transport, which delivers to `protocol` (its
 * `connectionMade` is not called again). The old transport must not be
 * used afterwards. Data that arrived before the call and was not yet
 * delivered is read by the TLS layer.
 */
export function startTls(
  loop: AbstractEventLoop,
  transport: Transport,
  protocol: BaseProtocol,
  sslcontext: SSLContext,
  options: StartTlsOptions = {},
): Coro<Transport> {
  return new Coro(() => startTlsCoroutine(loop, transport, protocol, sslcontext, options), "startTls");
}
