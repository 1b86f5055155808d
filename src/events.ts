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
import type { Context } from "./contextvars.js";
import { copyContext } from "./contextvars.js";
import { RuntimeError } from "./exceptions.js";
import type { Future } from "./futures.js";
import { currentNativeOwner } from "./native_scope.js";
import type { CoroutineLike, Task, TaskOptions } from "./tasks.js";

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
      if (args === null) this._context.run(callback);
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

/** Something that takes `shutdown()`, the shape the loop needs of an executor. */
export interface ExecutorLike {
  shutdown(options?: { wait?: boolean; cancelFutures?: boolean }): unknown;
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
