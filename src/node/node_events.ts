/**
 * The default event loop on Node (Python's `unix_events` for this
 * platform): `EventLoop`, driven by Node's own libuv loop, and
 * `DefaultEventLoopPolicy`. The scheduler below is how the loop waits: a
 * `setImmediate` to let Node's I/O run; one ref'd interval that keeps the
 * process alive for as long as the loop runs (as a blocked Python
 * `run_forever()` would); one `setTimeout` for the earliest timer, kept
 * armed across wake-ups (re-arming Node timers on every idle moment was the
 * main cost of a loop whose coroutines resume through microtasks); nothing
 * at all once the loop has stopped.
 */
import { isMainThread } from "node:worker_threads";
import type { EventLoopOptions, LoopScheduler } from "../base_events.js";
import { BaseEventLoop } from "../base_events.js";
import type {
  AbstractEventLoop,
  AddrInfo,
  Callback,
  ConnectAcceptedSocketOptions,
  CreateConnectionOptions,
  CreateDatagramEndpointOptions,
  CreateServerOptions,
  CreateUnixConnectionOptions,
  CreateUnixServerOptions,
  ExecArgs,
  ExecutorLike,
  FileLike,
  GetaddrinfoOptions,
  PipeLike,
  SendfileOptions,
  SocketLike,
  StartTlsOptions,
  SubprocessOptions,
} from "../events.js";
import { _setDefaultPolicyFactory, BaseDefaultEventLoopPolicy } from "../events.js";
import type { Awaitable } from "../futures.js";
import type { Address, BaseProtocol, DatagramProtocol, Protocol, SubprocessProtocol } from "../protocols.js";
import { _setIsMainThread } from "../runners.js";
import type { DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport } from "../transports.js";
import { addonAvailable } from "./addon.js";
import * as dns from "./dns.js";
import { ThreadPoolExecutor } from "./executors.js";
import type { FileDescriptorLike } from "./fd_watch.js";
import { FdWatch, fileobjToFd } from "./fd_watch.js";
import * as pipes from "./pipes.js";
import { defaultTransportBackend, type TransportBackend } from "./selector_transport.js";
import { sendfile } from "./sendfile.js";
import type { Server } from "./server.js";
import { SignalHandlers } from "./signals.js";
import * as sockOps from "./sock_ops.js";
import type { Socket } from "./socket.js";
import type { SSLContext } from "./ssl.js";
import * as subprocess from "./subprocess_transport.js";
import * as tcp from "./tcp.js";
import * as tls from "./tls.js";
import * as udp from "./udp.js";
import * as unix from "./unix_events.js";

/** Node's timers take at most 2^31-1 ms; a longer sleep ends early and the loop sleeps again. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function keepAlive(): void {}

const RESOLVED = Promise.resolve();

/**
 * Calls `fn` once the microtask queue has drained, before any I/O or timer
 * callback: a `nextTick` queued from a microtask runs exactly then (Node
 * runs its tick queue after the microtask queue).
 */
export function runAfterMicrotasks(fn: () => void): void {
  RESOLVED.then(() => process.nextTick(fn));
}

/** Waits on Node's timers and check phase; see the module comment. */
export class NodeScheduler implements LoopScheduler {
  readonly clockResolution = 0.001;
  private _keepAlive: ReturnType<typeof setInterval> | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  /** The loop time `_timer` fires at; `Infinity` when none is armed. */
  private _timerDeadline = Number.POSITIVE_INFINITY;
  /** What the timer calls when it fires; `null` once the sleep was cancelled. */
  private _onDeadline: (() => void) | null = null;
  private readonly _fire = (): void => {
    this._timer = null;
    this._timerDeadline = Number.POSITIVE_INFINITY;
    const tick = this._onDeadline;
    this._onDeadline = null;
    tick?.();
  };

  started(): void {
    this._keepAlive ??= setInterval(keepAlive, MAX_TIMER_MS);
  }

  stopped(): void {
    this._onDeadline = null;
    if (this._keepAlive !== null) {
      clearInterval(this._keepAlive);
      this._keepAlive = null;
    }
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
      this._timerDeadline = Number.POSITIVE_INFINITY;
    }
  }

  yieldToHost(tick: () => void): void {
    setImmediate(tick);
  }

  afterMicrotasks(fn: () => void): void {
    runAfterMicrotasks(fn);
  }

  sleep(deadline: number | null, tick: () => void): void {
    this._onDeadline = tick;
    // An armed timer that fires no later than needed stays: when it fires the loop looks again.
    if (deadline === null || this._timerDeadline <= deadline) return;
    if (this._timer !== null) clearTimeout(this._timer);
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil((deadline - this.time()) * 1000)));
    this._timerDeadline = deadline;
    this._timer = setTimeout(this._fire, ms);
  }

  cancelSleep(): void {
    this._onDeadline = null;
  }

  time(): number {
    return performance.now() / 1000;
  }
}

/** Options of `new EventLoop`: the core's, and the backend of plain TCP and Unix transports. */
export interface NodeEventLoopOptions extends EventLoopOptions {
  /**
   * `"native"` (the default): plain TCP and Unix connections get transports
   * on their raw descriptors through the native addon; `"net"`: transports
   * over Node's `net.Socket`. Without the addon, always `"net"`. Defaults to
   * the environment variable `ASYNCIO_TS_TRANSPORTS` (`native` or `net`).
   * TLS always uses Node's `tls`.
   */
  transportBackend?: TransportBackend;
}

/**
 * The default event loop: asyncio's loop, running inside Node's. Each I/O
 * method is a short delegation to the module of its concept (TCP and Unix
 * sockets, TLS, UDP, pipes, subprocesses, signals, file descriptors,
 * executors), so that this class reads as the table of contents of the
 * backend.
 */
export class EventLoop extends BaseEventLoop {
  constructor(options: NodeEventLoopOptions = {}, scheduler: LoopScheduler = new NodeScheduler()) {
    super(scheduler, options);
    const backend = options.transportBackend ?? defaultTransportBackend();
    if (backend !== "native" && backend !== "net") {
      throw new TypeError(`transportBackend must be "native" or "net", not ${JSON.stringify(backend)}`);
    }
    this._transportBackend = backend;
  }

  private readonly _transportBackend: TransportBackend;

  // --- executors (executors.ts) ---

  /** The default executor is a `ThreadPoolExecutor` with `os.availableParallelism()` workers. */
  protected override _newDefaultExecutor(): ExecutorLike {
    return new ThreadPoolExecutor();
  }

  /** Sets the default executor; as in Python it must be a `ThreadPoolExecutor`. */
  override setDefaultExecutor(executor: ExecutorLike): void {
    if (!(executor instanceof ThreadPoolExecutor)) throw new TypeError("executor must be ThreadPoolExecutor");
    super.setDefaultExecutor(executor);
  }

  // --- DNS (dns.ts) ---

  override getaddrinfo(host: string | null, port: number | string | null, options?: GetaddrinfoOptions): Awaitable<AddrInfo[]> {
    return dns.getaddrinfo(this, host, port, options);
  }

  override getnameinfo(
    sockaddr: [string, number] | [string, number, number, number],
    flags?: number,
  ): Awaitable<[string, string]> {
    return dns.getnameinfo(this, sockaddr, flags);
  }

  // --- TCP and Unix sockets, servers, sendfile (tcp.ts, unix_events.ts, server.ts, sendfile.ts) ---

  override createConnection<P extends BaseProtocol>(
    protocolFactory: () => P,
    options?: CreateConnectionOptions,
  ): Awaitable<[Transport, P]> {
    return tcp.createConnection(this, protocolFactory, options);
  }

  override createServer(protocolFactory: () => BaseProtocol, options?: CreateServerOptions): Awaitable<Server> {
    return tcp.createServer(this, protocolFactory, options);
  }

  override createUnixConnection<P extends BaseProtocol>(
    protocolFactory: () => P,
    options?: CreateUnixConnectionOptions,
  ): Awaitable<[Transport, P]> {
    return unix.createUnixConnection(this, protocolFactory, options);
  }

  override createUnixServer(protocolFactory: () => BaseProtocol, options?: CreateUnixServerOptions): Awaitable<Server> {
    return unix.createUnixServer(this, protocolFactory, options);
  }

  override connectAcceptedSocket<P extends BaseProtocol>(
    protocolFactory: () => P,
    sock: SocketLike,
    options?: ConnectAcceptedSocketOptions,
  ): Awaitable<[Transport, P]> {
    return tcp.connectAcceptedSocket(this, protocolFactory, sock, options);
  }

  /** The backend of this loop's plain TCP and Unix transports: `"native"` only when asked for and the addon is there. */
  get transportBackend(): TransportBackend {
    return this._transportBackend === "native" && addonAvailable() ? "native" : "net";
  }

  override sendfile(
    transport: WriteTransport,
    file: FileLike,
    offset?: number,
    count?: number | null,
    options?: SendfileOptions,
  ): Awaitable<number> {
    return sendfile(this, transport, file, offset, count, options);
  }

  // --- TLS (tls.ts) ---

  override startTls(
    transport: Transport,
    protocol: BaseProtocol,
    sslcontext: SSLContext,
    options?: StartTlsOptions,
  ): Awaitable<Transport> {
    return tls.startTls(this, transport, protocol, sslcontext, options);
  }

  // --- UDP (udp.ts) ---

  override createDatagramEndpoint<P extends DatagramProtocol>(
    protocolFactory: () => P,
    options?: CreateDatagramEndpointOptions,
  ): Awaitable<[DatagramTransport, P]> {
    return udp.createDatagramEndpoint(this, protocolFactory, options);
  }

  // --- pipes (pipes.ts) ---

  override connectReadPipe<P extends Protocol>(protocolFactory: () => P, pipe: PipeLike): Awaitable<[ReadTransport, P]> {
    return pipes.connectReadPipe(this, protocolFactory, pipe);
  }

  override connectWritePipe<P extends BaseProtocol>(protocolFactory: () => P, pipe: PipeLike): Awaitable<[WriteTransport, P]> {
    return pipes.connectWritePipe(this, protocolFactory, pipe);
  }

  // --- subprocesses (subprocess_transport.ts) ---

  override subprocessExec<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    program: string,
    ...args: ExecArgs
  ): Awaitable<[SubprocessTransport, P]> {
    return subprocess.subprocessExec(this, protocolFactory, program, ...args);
  }

  override subprocessShell<P extends SubprocessProtocol>(
    protocolFactory: () => P,
    cmd: string,
    options?: SubprocessOptions,
  ): Awaitable<[SubprocessTransport, P]> {
    return subprocess.subprocessShell(this, protocolFactory, cmd, options);
  }

  // --- signals (signals.ts) ---

  private _signalHandlers: SignalHandlers | null = null;

  override addSignalHandler<A extends unknown[]>(sig: number | string, callback: Callback<A>, ...args: A): void {
    this._signalHandlers ??= new SignalHandlers(this);
    this._signalHandlers.add(sig, callback, args);
  }

  override removeSignalHandler(sig: number | string): boolean {
    this._signalHandlers ??= new SignalHandlers(this);
    return this._signalHandlers.remove(sig);
  }

  // --- file descriptors and raw sockets (fd_watch.ts, sock_ops.ts) ---

  override addReader<A extends unknown[]>(fd: FileDescriptorLike, callback: Callback<A>, ...args: A): void {
    FdWatch.of(this).addReader(fileobjToFd(fd), callback as Callback<unknown[]>, args);
  }
  override removeReader(fd: FileDescriptorLike): boolean {
    return FdWatch.of(this).removeReader(fileobjToFd(fd));
  }
  override addWriter<A extends unknown[]>(fd: FileDescriptorLike, callback: Callback<A>, ...args: A): void {
    FdWatch.of(this).addWriter(fileobjToFd(fd), callback as Callback<unknown[]>, args);
  }
  override removeWriter(fd: FileDescriptorLike): boolean {
    return FdWatch.of(this).removeWriter(fileobjToFd(fd));
  }
  override sockRecv(sock: SocketLike, nbytes: number): Awaitable<Buffer> {
    return sockOps.sockRecv(this, sock, nbytes);
  }
  override sockRecvInto(sock: SocketLike, buf: Uint8Array): Awaitable<number> {
    return sockOps.sockRecvInto(this, sock, buf);
  }
  override sockRecvfrom(sock: SocketLike, bufsize: number): Awaitable<[Buffer, Address]> {
    return sockOps.sockRecvfrom(this, sock, bufsize);
  }
  override sockRecvfromInto(sock: SocketLike, buf: Uint8Array, nbytes?: number): Awaitable<[number, Address]> {
    return sockOps.sockRecvfromInto(this, sock, buf, nbytes);
  }
  override sockSendall(sock: SocketLike, data: Uint8Array): Awaitable<void> {
    return sockOps.sockSendall(this, sock, data);
  }
  override sockSendto(sock: SocketLike, data: Uint8Array, address: Address): Awaitable<number> {
    return sockOps.sockSendto(this, sock, data, address);
  }
  override sockConnect(sock: SocketLike, address: Address): Awaitable<void> {
    return sockOps.sockConnect(this, sock, address);
  }
  override sockAccept(sock: SocketLike): Awaitable<[Socket, Address]> {
    return sockOps.sockAccept(this, sock);
  }
  override sockSendfile(
    sock: SocketLike,
    file: FileLike,
    offset?: number,
    count?: number | null,
    options?: SendfileOptions,
  ): Awaitable<number> {
    return sockOps.sockSendfile(this, sock, file, offset, count, options);
  }

  // --- closing ---

  /**
   * Closes the loop, then removes its signal handlers (as CPython's unix
   * loop does) and releases its descriptor watchers (the descriptors stay
   * open, as in CPython).
   */
  override close(): void {
    super.close();
    this._signalHandlers?.removeAll();
    FdWatch.closeFor(this);
  }
}

/** The default policy: an `EventLoop` per thread, created on demand in the main thread only. */
export class DefaultEventLoopPolicy extends BaseDefaultEventLoopPolicy {
  protected _loopFactory(): AbstractEventLoop {
    return new EventLoop();
  }

  protected _isMainThread(): boolean {
    return isMainThread;
  }
}

_setDefaultPolicyFactory(() => new DefaultEventLoopPolicy());
_setIsMainThread(isMainThread);
