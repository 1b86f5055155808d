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
  ConnectAcceptedSocketOptions,
  CreateConnectionOptions,
  CreateServerOptions,
  CreateUnixConnectionOptions,
  CreateUnixServerOptions,
  FileLike,
  GetaddrinfoOptions,
  SendfileOptions,
  SocketLike,
  StartTlsOptions,
} from "../events.js";
import { _setDefaultPolicyFactory, BaseDefaultEventLoopPolicy } from "../events.js";
import type { Awaitable } from "../futures.js";
import type { BaseProtocol } from "../protocols.js";
import type { Transport, WriteTransport } from "../transports.js";
import * as dns from "./dns.js";
import { sendfile } from "./sendfile.js";
import type { Server } from "./server.js";
import type { SSLContext } from "./ssl.js";
import * as tcp from "./tcp.js";
import * as tls from "./tls.js";
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

/**
 * The default event loop: asyncio's loop, running inside Node's. Each I/O
 * method is a short delegation to the module of its concept (TCP and Unix
 * sockets, TLS, UDP, pipes, subprocesses, signals, file descriptors,
 * executors), so that this class reads as the table of contents of the
 * backend.
 */
export class EventLoop extends BaseEventLoop {
  constructor(options: EventLoopOptions = {}, scheduler: LoopScheduler = new NodeScheduler()) {
    super(scheduler, options);
  }

  // --- executors (executors.ts) ---

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

  // --- pipes (pipes.ts) ---

  // --- subprocesses (subprocess_transport.ts) ---

  // --- signals (signals.ts) ---

  // --- file descriptors and raw sockets (fd_watch.ts, sock_ops.ts) ---
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
