/**
 * The event loop's interface and what schedules on it (Python's
 * `asyncio.events`): `Handle` and `TimerHandle`, `AbstractEventLoop`, the
 * policy classes, and the module functions that find the current loop
 * (`getRunningLoop`, `getEventLoop`, `setEventLoop`, `newEventLoop`).
 *
 * The running loop is tracked per thread (a module variable: each worker
 * thread loads its own copy of this module). Code in a native async
 * function resumes outside the loop's callbacks; it finds its loop through
 * the task that owns it (see `native_scope.ts`).
 */
import type { ConcurrentFuture, ExecutorFunction } from "./concurrent_futures.js";
import type { Context } from "./contextvars.js";
import { copyContext } from "./contextvars.js";
import { NotImplementedError, RuntimeError } from "./exceptions.js";
import type { Awaitable, Future } from "./futures.js";
import { currentNativeOwner } from "./native_scope.js";
import type { Socket } from "./node/socket.js";
import type { SSLContext } from "./node/ssl.js";
import type { Address, BaseProtocol, DatagramProtocol, Protocol, SubprocessProtocol } from "./protocols.js";
import type { CoroutineLike, Task, TaskOptions } from "./tasks.js";
import type { DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport } from "./transports.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** The `context` argument of exception handlers, with asyncio's keys. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  future?: Future<unknown>;
  task?: Task<unknown>;
  handle?: Handle;
  protocol?: unknown;
  transport?: unknown;
  socket?: unknown;
  /** Where the object involved was created (debug mode). */
  sourceTraceback?: string;
  /** Where the handle that was running was created (debug mode). */
  handleTraceback?: string;
  [key: string]: unknown;
}

/** A loop's exception handler: `(loop, context)`, as in Python. */
export type ExceptionHandler = (loop: AbstractEventLoop, context: ExceptionContext) => void;

/** A task factory: `(loop, coro, options)`, returning a `Task`. */
export type TaskFactory = <T>(loop: AbstractEventLoop, coro: CoroutineLike<T>, options: TaskOptions) => Task<T>;

/** A callback scheduled with `callSoon`, `callLater` or `callAt`. */
export type Callback<A extends unknown[]> = (...args: A) => unknown;

/** The name of a function as asyncio's reprs show it. */
export function callbackName(fn: unknown): string {
  if (typeof fn !== "function") return String(fn);
  const name = (fn as { name?: string }).name;
  return name === undefined || name === "" ? "<anonymous>" : name.replace(/^bound /, "");
}

/** A scheduled callback, returned by `callSoon` (Python's `asyncio.Handle`). */
export class Handle {
  _callback: Callback<unknown[]> | null;
  _args: unknown[] | null;
  _cancelled = false;
  _loop: AbstractEventLoop;
  _context: Context;
  /** Where the handle was created; set in debug mode only. */
  _sourceTraceback: string | undefined = undefined;

  constructor(callback: Callback<unknown[]>, args: unknown[] | null, loop: AbstractEventLoop, context?: Context) {
    this._callback = callback;
    this._args = args;
    this._loop = loop;
    this._context = context ?? copyContext();
    if (loop.getDebug()) this._sourceTraceback = creationStack();
  }

  /** Prevents the callback from running; a no-op once it ran. */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    if (this._loop.getDebug()) this._repr = this.toString();
    this._callback = null;
    this._args = null;
  }

  cancelled(): boolean {
    return this._cancelled;
  }

  /** The context the callback runs in. */
  getContext(): Context {
    return this._context;
  }

  /** Runs the callback in its context; an error goes to the loop's exception handler. */
  _run(): void {
    const callback = this._callback as Callback<unknown[]>;
    const args = this._args;
    try {
      // No arguments (a watcher's reader, most callSoon calls): no rest array, no spread.
      if (args === null || args.length === 0) this._context._run0(callback);
      else if (args.length === 1) this._context._run1(callback, args[0]);
      else this._context.run(callback, ...args);
    } catch (exception) {
      const context: ExceptionContext = { message: `Exception in callback ${this._format()}`, exception, handle: this };
      if (this._sourceTraceback !== undefined) context.sourceTraceback = this._sourceTraceback;
      this._loop.callExceptionHandler(context);
    }
  }

  /** Kept after `cancel()` in debug mode so that the repr still names the callback. */
  private _repr: string | undefined;

  _format(): string {
    if (this._callback === null) return "<cancelled>";
    const args = (this._args ?? []).map(shortRepr).join(", ");
    return `${callbackName(this._callback)}(${args})`;
  }

  protected _reprInfo(): string[] {
    const info: string[] = [];
    if (this._cancelled) info.push("cancelled");
    if (this._callback !== null) info.push(this._format());
    return info;
  }

  toString(): string {
    if (this._repr !== undefined) return this._repr;
    return `<${this.constructor.name} ${this._reprInfo().join(" ")}>`.replace(" >", ">");
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * What the ready queue holds: a `Handle`, or a `Task` whose next step is
 * due. A task is its own step handle, which spares an allocation per step
 * on the hottest path of the loop.
 */
export interface Runnable {
  /** Only handles are ever cancelled; a task's step is not. */
  readonly _cancelled?: boolean;
  _run(): void;
}

let timerSequence = 0;

/** A callback scheduled for a time, returned by `callLater`/`callAt`. */
export class TimerHandle extends Handle {
  _when: number;
  readonly _seq = timerSequence++;
  /** True while the handle sits in the loop's timer heap. */
  _scheduled = false;

  constructor(when: number, callback: Callback<unknown[]>, args: unknown[] | null, loop: AbstractEventLoop, context?: Context) {
    super(callback, args, loop, context);
    this._when = when;
  }

  /** The loop time at which the callback is due. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (!this._cancelled) this._loop._timerHandleCancelled(this);
    super.cancel();
  }

  protected override _reprInfo(): string[] {
    const info = super._reprInfo();
    info.splice(this._cancelled ? 1 : 0, 0, `when=${this._when}`);
    return info;
  }
}

/** A short repr of a callback argument (for handle reprs and error messages). */
export function shortRepr(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === "function") return callbackName(value);
  if (value !== null && typeof value === "object") {
    const custom = (value as { [inspectSymbol]?: () => string })[inspectSymbol];
    if (typeof custom === "function") return custom.call(value);
    return `<${value.constructor?.name ?? "Object"}>`;
  }
  return String(value);
}

/** The current stack, without this function's own frame, for debug-mode tracebacks. */
export function creationStack(): string {
  const stack = new Error().stack ?? "";
  return stack.split("\n").slice(2).join("\n");
}

/**
 * What the loop needs of an executor (`runInExecutor`, the default
 * executor): `submit` and `shutdown`, the shape of `Executor`
 * (`concurrent_futures.ts`).
 */
export interface ExecutorLike {
  submit<A extends unknown[], T>(fn: ExecutorFunction<A, T>, ...args: A): ConcurrentFuture<Awaited<T>>;
  shutdown(options?: { wait?: boolean; cancelFutures?: boolean }): unknown;
}

// ---------------------------------------------------------------------------
// The I/O side of the loop interface: option shapes and result types.
// ---------------------------------------------------------------------------

/** One result of `getaddrinfo`: `[family, type, proto, canonname, sockaddr]`. */
export type AddrInfo = [
  family: number,
  type: number,
  proto: number,
  canonname: string,
  sockaddr: [string, number] | [string, number, number, number],
];

/** Options of `getaddrinfo` (Python's keyword arguments; numbers as in the `socket` module). */
export interface GetaddrinfoOptions {
  family?: number;
  type?: number;
  proto?: number;
  flags?: number;
}

/** `ssl`: `true` for a default verifying client context, or an `SSLContext`; omitted or `null`/`false` for plain text. */
export type SSLOption = SSLContext | boolean | null;

/**
 * An existing socket handed to the loop (`sock` options): a Node `net.Socket`
 * / `dgram.Socket`, or a `socket.Socket` of this package.
 */
export type SocketLike = object;

/** A file for `sendfile`: a `fs.promises.FileHandle` (anything with `fd`) or a file descriptor. */
export type FileLike = { readonly fd: number } | number;

/** Options of `createConnection` (Python's `create_connection` keywords). */
export interface CreateConnectionOptions {
  host?: string | null;
  port?: number | string | null;
  ssl?: SSLOption;
  family?: number;
  proto?: number;
  flags?: number;
  sock?: SocketLike | null;
  localAddr?: [string, number] | null;
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
  /** Seconds to wait for one attempt before starting the next in parallel (RFC 8305); `null`: one at a time. */
  happyEyeballsDelay?: number | null;
  /** Interleave address families, taking this many of the first family first (default 1 with `happyEyeballsDelay`). */
  interleave?: number | null;
  /** Accepted for Python compatibility: exceptions of every attempt are grouped when true. */
  allErrors?: boolean;
}

/** Options of `createServer`. */
export interface CreateServerOptions {
  /** A host, several hosts, or `null`/`""` for every interface. */
  host?: string | string[] | null;
  port?: number | string | null;
  family?: number;
  flags?: number;
  sock?: SocketLike | null;
  backlog?: number;
  ssl?: SSLContext | null;
  reuseAddress?: boolean | null;
  reusePort?: boolean | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
  /** Start accepting at once (default `true`); else call `startServing()` or `serveForever()`. */
  startServing?: boolean;
  /** Keep dual-stack sockets IPv6-only (Python's default for IPv6 servers on several hosts). */
  ipv6Only?: boolean;
}

/** Options of `createUnixConnection`. */
export interface CreateUnixConnectionOptions {
  path?: string | null;
  ssl?: SSLOption;
  sock?: SocketLike | null;
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** Options of `createUnixServer`. */
export interface CreateUnixServerOptions {
  path?: string | null;
  sock?: SocketLike | null;
  backlog?: number;
  ssl?: SSLContext | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
  startServing?: boolean;
  /** Remove the socket file when the server closes (default `true`). */
  cleanupSocket?: boolean;
}

/** Options of `connectAcceptedSocket`. */
export interface ConnectAcceptedSocketOptions {
  ssl?: SSLContext | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** Options of `createDatagramEndpoint`. */
export interface CreateDatagramEndpointOptions {
  localAddr?: [string, number] | string | null;
  remoteAddr?: [string, number] | string | null;
  family?: number;
  proto?: number;
  flags?: number;
  reusePort?: boolean | null;
  allowBroadcast?: boolean | null;
  sock?: SocketLike | null;
}

/** Options of `startTls`. */
export interface StartTlsOptions {
  serverSide?: boolean;
  serverHostname?: string | null;
  sslHandshakeTimeout?: number | null;
  sslShutdownTimeout?: number | null;
}

/** Options of `sendfile`/`sockSendfile`. */
export interface SendfileOptions {
  /** Copy through the transport when no zero-copy path exists (default `true`); else `SendfileNotAvailableError`. */
  fallback?: boolean;
}

/** What a child's stdin/stdout/stderr is connected to: `PIPE`, `STDOUT` (stderr only), `DEVNULL`, a descriptor, or inherited (`null`). */
export type StdioOption = number | null | undefined;

/** Options of `subprocessExec`/`subprocessShell`. */
export interface SubprocessOptions {
  stdin?: StdioOption;
  stdout?: StdioOption;
  stderr?: StdioOption;
  cwd?: string | URL;
  env?: Record<string, string | undefined>;
  /** Extra file descriptors to pass to the child (Python's `pass_fds`). */
  passFds?: number[];
  /** Start the child in a new session (Python's `start_new_session`). */
  startNewSession?: boolean;
  /** Accepted as in Python: must be `0` (unbuffered), since the pipes are streams of bytes. */
  bufsize?: number;
}

/** A pipe for `connectReadPipe`/`connectWritePipe`: a file descriptor or a Node stream backed by one. */
export type PipeLike = number | NodeJS.ReadableStream | NodeJS.WritableStream;

/** A server made by `createServer`/`createUnixServer` (Python's `asyncio.Server`). */
export abstract class AbstractServer {
  /** Stops listening; connections already accepted stay open. */
  abstract close(): void;
  /** Closes every connection accepted by this server (flushing writes). */
  abstract closeClients(): void;
  /** Aborts every connection accepted by this server. */
  abstract abortClients(): void;
  abstract getLoop(): AbstractEventLoop;
  /** Whether the server accepts connections. */
  abstract isServing(): boolean;
  /** Starts accepting connections (when created with `startServing: false`). */
  abstract startServing(): Awaitable<void>;
  /** Accepts connections until cancelled; the cancellation closes the server. */
  abstract serveForever(): Awaitable<void>;
  /** Waits until the server is closed and every accepted connection has ended. */
  abstract waitClosed(): Awaitable<void>;
  /** The listening sockets (empty once closed). */
  abstract readonly sockets: readonly SocketLike[];
  /** `await using server = ...`: closes the server and waits for it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }
}

/** The arguments of `subprocessExec` after the program: the arguments, optionally followed by options. */
export type ExecArgs = [...args: string[]] | [...args: string[], options: SubprocessOptions];

function notImplemented(loop: AbstractEventLoop, method: string): never {
  throw new NotImplementedError(
    `${loop.constructor.name} has no I/O backend: ${method}() needs an EventLoop (the Node loop), not a bare ${loop.constructor.name}`,
  );
}

/**
 * The interface every event loop offers (Python's `AbstractEventLoop`).
 * `BaseEventLoop` implements scheduling; the Node backend adds I/O.
 */
export abstract class AbstractEventLoop {
  /** Callbacks running longer than this many seconds are logged in debug mode. */
  abstract slowCallbackDuration: number;

  abstract runForever(): Promise<void>;
  abstract runUntilComplete<T>(future: import("./tasks.js").AwaitableLike<T>): Promise<T>;
  abstract stop(): void;
  abstract isRunning(): boolean;
  abstract isClosed(): boolean;
  abstract close(): void;
  abstract shutdownAsyncgens(): import("./futures.js").Awaitable<void>;
  abstract shutdownDefaultExecutor(timeout?: number | null): import("./futures.js").Awaitable<void>;

  abstract callSoon<A extends unknown[]>(callback: Callback<A>, ...args: A): Handle;
  abstract callSoonThreadsafe<A extends unknown[]>(callback: Callback<A>, ...args: A): Handle;
  abstract callLater<A extends unknown[]>(delay: number, callback: Callback<A>, ...args: A): TimerHandle;
  abstract callAt<A extends unknown[]>(when: number, callback: Callback<A>, ...args: A): TimerHandle;
  abstract time(): number;

  abstract createFuture<T = unknown>(): Future<T>;
  abstract createTask<T>(coro: CoroutineLike<T>, options?: TaskOptions): Task<T>;
  abstract setTaskFactory(factory: TaskFactory | null): void;
  abstract getTaskFactory(): TaskFactory | null;

  abstract setExceptionHandler(handler: ExceptionHandler | null): void;
  abstract getExceptionHandler(): ExceptionHandler | null;
  abstract defaultExceptionHandler(context: ExceptionContext): void;
  abstract callExceptionHandler(context: ExceptionContext): void;

  abstract getDebug(): boolean;
  abstract setDebug(enabled: boolean): void;

  /** Schedules `callback(arg)` in exactly `context` (not a copy); used by futures and tasks. */
  abstract _callSoonInContext(context: Context, callback: Callback<unknown[]>, args: unknown[] | null): Handle;
  /** Puts `item` on the ready queue as it is (a task scheduling its own next step). */
  abstract _scheduleReady(item: Runnable): void;
  /** Told by a `TimerHandle` that it was cancelled, to count cancelled timers. */
  abstract _timerHandleCancelled(handle: TimerHandle): void;
  /** The pending tasks of this loop (held strongly until done). */
  abstract readonly _tasks: Set<Task<unknown>>;

  // I/O. A loop without an I/O backend (a bare `BaseEventLoop`) raises
  // `NotImplementedError`, as Python's `AbstractEventLoop` does; `EventLoop`
  // implements every one of these on Node.

  /**
   * Runs `func(...args)` in `executor` (the default executor, a
   * `ThreadPoolExecutor` made on first use, when `null`) and returns an
   * asyncio future of its result.
   */
  runInExecutor<A extends unknown[], T>(
    _executor: ExecutorLike | null,
    _func: ExecutorFunction<A, T>,
    ..._args: A
  ): Future<Awaited<T>> {
    return notImplemented(this, "runInExecutor");
  }
  /** Sets the executor `runInExecutor(null, ...)` and `toThread` use (a `ThreadPoolExecutor`). */
  setDefaultExecutor(_executor: ExecutorLike): void {
    notImplemented(this, "setDefaultExecutor");
  }

  /** Resolves a host and port: `[family, type, proto, canonname, sockaddr][]`. */
  getaddrinfo(_host: string | null, _port: number | string | null, _options?: GetaddrinfoOptions): Awaitable<AddrInfo[]> {
    return notImplemented(this, "getaddrinfo");
  }
  /** Looks up the host and service names of an address: `[host, port]`. */
  getnameinfo(_sockaddr: [string, number] | [string, number, number, number], _flags?: number): Awaitable<[string, string]> {
    return notImplemented(this, "getnameinfo");
  }

  createConnection<P extends BaseProtocol>(
    _protocolFactory: () => P,
    _options?: CreateConnectionOptions,
  ): Awaitable<[Transport, P]> {
    return notImplemented(this, "createConnection");
  }
  createServer(_protocolFactory: () => BaseProtocol, _options?: CreateServerOptions): Awaitable<AbstractServer> {
    return notImplemented(this, "createServer");
  }
  createUnixConnection<P extends BaseProtocol>(
    _protocolFactory: () => P,
    _options?: CreateUnixConnectionOptions,
  ): Awaitable<[Transport, P]> {
    return notImplemented(this, "createUnixConnection");
  }
  createUnixServer(_protocolFactory: () => BaseProtocol, _options?: CreateUnixServerOptions): Awaitable<AbstractServer> {
    return notImplemented(this, "createUnixServer");
  }
  connectAcceptedSocket<P extends BaseProtocol>(
    _protocolFactory: () => P,
    _sock: SocketLike,
    _options?: ConnectAcceptedSocketOptions,
  ): Awaitable<[Transport, P]> {
    return notImplemented(this, "connectAcceptedSocket");
  }
  createDatagramEndpoint<P extends DatagramProtocol>(
    _protocolFactory: () => P,
    _options?: CreateDatagramEndpointOptions,
  ): Awaitable<[DatagramTransport, P]> {
    return notImplemented(this, "createDatagramEndpoint");
  }
  /** Upgrades a live connection to TLS; the old transport must not be used afterwards. */
  startTls(
    _transport: Transport,
    _protocol: BaseProtocol,
    _sslcontext: SSLContext,
    _options?: StartTlsOptions,
  ): Awaitable<Transport> {
    return notImplemented(this, "startTls");
  }
  /** Sends `count` bytes (all when omitted) of `file` from `offset` through `transport`; resolves to the bytes sent. */
  sendfile(
    _transport: WriteTransport,
    _file: FileLike,
    _offset?: number,
    _count?: number | null,
    _options?: SendfileOptions,
  ): Awaitable<number> {
    return notImplemented(this, "sendfile");
  }

  connectReadPipe<P extends Protocol>(_protocolFactory: () => P, _pipe: PipeLike): Awaitable<[ReadTransport, P]> {
    return notImplemented(this, "connectReadPipe");
  }
  connectWritePipe<P extends BaseProtocol>(_protocolFactory: () => P, _pipe: PipeLike): Awaitable<[WriteTransport, P]> {
    return notImplemented(this, "connectWritePipe");
  }
  subprocessExec<P extends SubprocessProtocol>(
    _protocolFactory: () => P,
    _program: string,
    ..._args: ExecArgs
  ): Awaitable<[SubprocessTransport, P]> {
    return notImplemented(this, "subprocessExec");
  }
  subprocessShell<P extends SubprocessProtocol>(
    _protocolFactory: () => P,
    _cmd: string,
    _options?: SubprocessOptions,
  ): Awaitable<[SubprocessTransport, P]> {
    return notImplemented(this, "subprocessShell");
  }

  /** Calls `callback(...args)` inside the loop whenever signal `sig` arrives. */
  addSignalHandler<A extends unknown[]>(_sig: number | string, _callback: Callback<A>, ..._args: A): void {
    notImplemented(this, "addSignalHandler");
  }
  /** Removes the handler of `sig`; `true` if there was one. */
  removeSignalHandler(_sig: number | string): boolean {
    return notImplemented(this, "removeSignalHandler");
  }

  /** Calls `callback(...args)` inside the loop whenever `fd` is readable. */
  addReader<A extends unknown[]>(_fd: number | { fileno(): number }, _callback: Callback<A>, ..._args: A): void {
    notImplemented(this, "addReader");
  }
  removeReader(_fd: number | { fileno(): number }): boolean {
    return notImplemented(this, "removeReader");
  }
  /** Calls `callback(...args)` inside the loop whenever `fd` is writable. */
  addWriter<A extends unknown[]>(_fd: number | { fileno(): number }, _callback: Callback<A>, ..._args: A): void {
    notImplemented(this, "addWriter");
  }
  removeWriter(_fd: number | { fileno(): number }): boolean {
    return notImplemented(this, "removeWriter");
  }
  sockRecv(_sock: SocketLike, _nbytes: number): Awaitable<Buffer> {
    return notImplemented(this, "sockRecv");
  }
  sockRecvInto(_sock: SocketLike, _buf: Uint8Array): Awaitable<number> {
    return notImplemented(this, "sockRecvInto");
  }
  sockRecvfrom(_sock: SocketLike, _bufsize: number): Awaitable<[Buffer, Address]> {
    return notImplemented(this, "sockRecvfrom");
  }
  sockRecvfromInto(_sock: SocketLike, _buf: Uint8Array, _nbytes?: number): Awaitable<[number, Address]> {
    return notImplemented(this, "sockRecvfromInto");
  }
  sockSendall(_sock: SocketLike, _data: Uint8Array): Awaitable<void> {
    return notImplemented(this, "sockSendall");
  }
  sockSendto(_sock: SocketLike, _data: Uint8Array, _address: Address): Awaitable<number> {
    return notImplemented(this, "sockSendto");
  }
  sockConnect(_sock: SocketLike, _address: Address): Awaitable<void> {
    return notImplemented(this, "sockConnect");
  }
  /** Accepts a connection on a listening non-blocking `socket.Socket`: `[conn, address]`. */
  sockAccept(_sock: SocketLike): Awaitable<[Socket, Address]> {
    return notImplemented(this, "sockAccept");
  }
  sockSendfile(
    _sock: SocketLike,
    _file: FileLike,
    _offset?: number,
    _count?: number | null,
    _options?: SendfileOptions,
  ): Awaitable<number> {
    return notImplemented(this, "sockSendfile");
  }
}

/** The interface of event loop policies (Python's `AbstractEventLoopPolicy`). */
export abstract class AbstractEventLoopPolicy {
  /** The current thread's loop. */
  abstract getEventLoop(): AbstractEventLoop;
  /** Makes `loop` the current thread's loop. */
  abstract setEventLoop(loop: AbstractEventLoop | null): void;
  /** A new loop of this policy's kind. */
  abstract newEventLoop(): AbstractEventLoop;
}

/**
 * The default policy's rules, independent of the loop class: one loop per
 * thread, created on demand only in the main thread, as the seeds describe.
 */
export abstract class BaseDefaultEventLoopPolicy extends AbstractEventLoopPolicy {
  private _loop: AbstractEventLoop | null = null;
  private _setCalled = false;

  /** Makes the loop `newEventLoop()` returns. */
  protected abstract _loopFactory(): AbstractEventLoop;
  /** Whether this code runs in the process's main thread. */
  protected abstract _isMainThread(): boolean;

  getEventLoop(): AbstractEventLoop {
    if (this._loop === null && !this._setCalled && this._isMainThread()) this.setEventLoop(this.newEventLoop());
    if (this._loop === null) {
      throw new RuntimeError(
        "There is no current event loop in this thread: a worker thread must create one with newEventLoop() and setEventLoop()",
      );
    }
    return this._loop;
  }

  setEventLoop(loop: AbstractEventLoop | null): void {
    this._setCalled = true;
    if (loop !== null && !(loop instanceof AbstractEventLoop)) {
      throw new TypeError(`loop must be an instance of AbstractEventLoop or null, not ${shortRepr(loop)}`);
    }
    this._loop = loop;
  }

  newEventLoop(): AbstractEventLoop {
    return this._loopFactory();
  }
}

let runningLoop: AbstractEventLoop | null = null;
let policy: AbstractEventLoopPolicy | null = null;
let defaultPolicyFactory: (() => AbstractEventLoopPolicy) | null = null;

/** Called by the backend module to say which policy is the default. */
export function _setDefaultPolicyFactory(factory: () => AbstractEventLoopPolicy): void {
  defaultPolicyFactory = factory;
}

/** Marks `loop` as this thread's running loop (`null`: none); used by the loop itself. */
export function _setRunningLoop(loop: AbstractEventLoop | null): void {
  runningLoop = loop;
}

/** The loop running in this thread, without the native-scope fallback. */
export function _getThreadRunningLoop(): AbstractEventLoop | null {
  return runningLoop;
}

/**
 * The running loop, or `null`: the loop running in this thread, else the
 * loop of the task whose native async function is executing.
 */
export function _getRunningLoop(): AbstractEventLoop | null {
  if (runningLoop !== null) return runningLoop;
  const loop = currentNativeOwner()?._loop;
  return loop === undefined || loop.isClosed() ? null : loop;
}

/** The running event loop; `RuntimeError` when no loop is running. */
export function getRunningLoop(): AbstractEventLoop {
  const loop = _getRunningLoop();
  if (loop === null) {
    throw new RuntimeError(
      "no running event loop (an async function called directly starts before the loop runs: pass the function itself, run(main), not run(main()))",
    );
  }
  return loop;
}

/** The current policy (the default one unless `setEventLoopPolicy` chose another). */
export function getEventLoopPolicy(): AbstractEventLoopPolicy {
  if (policy === null) {
    if (defaultPolicyFactory === null) throw new RuntimeError("no default event loop policy is installed");
    policy = defaultPolicyFactory();
  }
  return policy;
}

/** Sets the policy; `null` restores the default. */
export function setEventLoopPolicy(newPolicy: AbstractEventLoopPolicy | null): void {
  if (newPolicy !== null && !(newPolicy instanceof AbstractEventLoopPolicy)) {
    throw new TypeError(`policy must be an instance of AbstractEventLoopPolicy or null, not ${shortRepr(newPolicy)}`);
  }
  policy = newPolicy;
}

/** The running loop if there is one, else the policy's loop for this thread. */
export function getEventLoop(): AbstractEventLoop {
  return _getRunningLoop() ?? getEventLoopPolicy().getEventLoop();
}

/** Sets this thread's current loop through the policy. */
export function setEventLoop(loop: AbstractEventLoop | null): void {
  getEventLoopPolicy().setEventLoop(loop);
}

/** A new loop from the policy. */
export function newEventLoop(): AbstractEventLoop {
  return getEventLoopPolicy().newEventLoop();
}
