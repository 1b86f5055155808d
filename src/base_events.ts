/**
 * `BaseEventLoop`: the scheduling core of every loop (Python's
 * `asyncio.base_events`). It owns the ready queue and the timer heap, runs
 * iterations (`_runOnce`, "the only place where callbacks are actually
 * called"), implements run/stop/close, the exception handler, debug mode
 * and the task factory. It imports nothing from Node's I/O modules: how the
 * loop waits for time and for the host's I/O is the `LoopScheduler` given
 * by the backend.
 *
 * How iterations are chained: JavaScript cannot block, so the loop lives
 * inside the host's event loop. While callbacks are ready, iterations follow
 * each other as microtasks (an iteration that woke native coroutines, which
 * resume in microtasks, lets the microtask queue drain before the next one,
 * so they run within the iteration that woke them); every few milliseconds the loop
 * yields to the host's macrotask queue so that Node's I/O and timers run.
 * With nothing ready it sleeps until the next timer or until a callback is
 * scheduled from outside (`callSoon` from a Node callback wakes it).
 */
import { Deque, TimerHeap } from "./collections.js";
import type { ExecutorFunction } from "./concurrent_futures.js";
import type { Context } from "./contextvars.js";
import type { Callback, ExceptionContext, ExceptionHandler, ExecutorLike, Runnable, TaskFactory } from "./events.js";
import { _getThreadRunningLoop, _setRunningLoop, AbstractEventLoop, Handle, shortRepr, TimerHandle } from "./events.js";
import { errorRepr, NotImplementedError, RuntimeError, ValueError } from "./exceptions.js";
import type { Awaitable } from "./futures.js";
import { Future, isFuture, wrapFuture } from "./futures.js";
import { logger } from "./log.js";
import { _takeNativeWakeup } from "./native_scope.js";
import type { AwaitableLike, CoroutineLike, TaskOptions } from "./tasks.js";
import { ensureFuture, Task } from "./tasks.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Compact the timer heap when it holds more than this many timers... */
const MIN_SCHEDULED_TIMER_HANDLES = 100;
/** ...and more than this fraction of them is cancelled. */
const MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5;
/** How long iterations may chain through microtasks before the loop yields to the host (ms). */
const HOST_YIELD_INTERVAL_MS = 2;
/** How many chained iterations run between two looks at the clock. */
const ITERATIONS_PER_CLOCK_CHECK = 64;

/**
 * What a backend provides to drive the loop: the host's ways to wait
 * (CPython's selector, reduced to what a loop inside another loop needs).
 */
export interface LoopScheduler {
  /** The loop starts running: keep the host process alive until `stopped()`. */
  started(): void;
  /** The loop stopped (or closed): from now on nothing of it keeps the host process alive. */
  stopped(): void;
  /** Calls `tick` after the host has run its pending I/O callbacks (a macrotask). */
  yieldToHost(tick: () => void): void;
  /** Calls `fn` once the microtask queue has drained, before any I/O or timer callback. */
  afterMicrotasks(fn: () => void): void;
  /**
   * Calls `tick` at loop time `deadline` (`null`: no deadline, the loop
   * waits to be woken), unless `cancelSleep()` or another `sleep()` comes
   * first.
   */
  sleep(deadline: number | null, tick: () => void): void;
  /** Forgets the pending `sleep()`: its `tick` must not be called. */
  cancelSleep(): void;
  /** The loop's clock in seconds (monotonic). */
  time(): number;
  /** Granularity of the host's timers, in seconds. */
  readonly clockResolution: number;
}

/** Options of the loop constructors. */
export interface EventLoopOptions {
  /** Debug mode; default: on when the environment variable `ASYNCIO_DEBUG` is non-empty. */
  debug?: boolean;
}

function debugFromEnvironment(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.ASYNCIO_DEBUG;
  return value !== undefined && value !== "";
}

function checkCallback(callback: unknown, method: string): void {
  if (typeof callback !== "function") {
    throw new TypeError(`a function was expected by ${method}(), got ${shortRepr(callback)}`);
  }
}

function checkTime(value: unknown, what: string, method: string): asserts value is number {
  if (typeof value !== "number") throw new TypeError(`${method}() ${what} must be a number of seconds, not ${typeof value}`);
  if (Number.isNaN(value)) throw new ValueError(`${method}() ${what} is NaN`);
}

const RESOLVED = Promise.resolve();

/**
 * Logs through the logger, and through the console if the logger itself
 * throws: reporting an error must never raise one (`callExceptionHandler`
 * promises never to throw).
 */
function lastResortLog(message: string, error: unknown): void {
  try {
    logger.error(message, error);
  } catch {
    console.error(message, error);
  }
}

/** Stops the loop once the future given to `runUntilComplete` is done. */
function runUntilCompleteCallback(future: Future<unknown>): void {
  future.getLoop().stop();
}

/** The scheduling core shared by every loop (Python's `BaseEventLoop`). */
export class BaseEventLoop extends AbstractEventLoop {
  slowCallbackDuration = 0.1;
  readonly _tasks = new Set<Task<unknown>>();
  protected readonly _scheduler: LoopScheduler;
  private readonly _ready = new Deque<Runnable>();
  private readonly _scheduled = new TimerHeap<TimerHandle>();
  private _timerCancelledCount = 0;
  private _closed = false;
  /** Set by `stop()`: the current iteration is the last one of this run. */
  private _stopping = false;
  private _running = false;
  /** True while the loop waits in `scheduler.sleep` (nothing ready): `callSoon` must wake it. */
  private _sleeping = false;
  private _iterationsSinceClockCheck = 0;
  private _lastHostYield = 0;
  private _debug: boolean;
  private _exceptionHandler: ExceptionHandler | null = null;
  private _taskFactory: TaskFactory | null = null;
  protected _defaultExecutor: ExecutorLike | null = null;
  /** Set by `shutdownDefaultExecutor()`: the default executor may not be used (nor made) again. */
  private _executorShutdownCalled = false;
  private _finishRun: ((error?: unknown) => void) | null = null;
  /** The handle running now (debug mode: its creation stack goes into error reports). */
  private _currentHandle: Handle | null = null;
  private readonly _tick = (): void => this._iterate();

  constructor(scheduler: LoopScheduler, options: EventLoopOptions = {}) {
    super();
    this._scheduler = scheduler;
    this._debug = options.debug ?? debugFromEnvironment();
  }

  // ---- running and stopping -------------------------------------------

  /**
   * Runs iterations until `stop()` is called. Resolves when the loop has
   * stopped; rejects at once if the loop is closed or already running, or if
   * another loop runs in this thread.
   */
  runForever(): Promise<void> {
    try {
      this._checkClosed();
      this._checkNotRunning();
    } catch (error) {
      return Promise.reject(error);
    }
    this._running = true;
    _setRunningLoop(this);
    this._lastHostYield = performance.now();
    this._scheduler.started();
    return new Promise<void>((resolve, reject) => {
      this._finishRun = (error?: unknown) => (error === undefined ? resolve() : reject(error));
      this._chainTick();
    });
  }

  /**
   * Runs the loop until `future` is done and returns its result (a
   * coroutine or Promise is wrapped with `ensureFuture` first).
   */
  async runUntilComplete<T>(future: AwaitableLike<T>): Promise<T> {
    this._checkClosed();
    this._checkNotRunning();
    const newTask = !isFuture(future);
    const fut = ensureFuture(future, { loop: this });
    if (newTask && fut instanceof Task) fut._logDestroyPending = false;
    fut.addDoneCallback(runUntilCompleteCallback);
    try {
      await this.runForever();
    } catch (error) {
      if (newTask && fut.done() && !fut.cancelled()) fut.exception();
      throw error;
    } finally {
      fut.removeDoneCallback(runUntilCompleteCallback);
    }
    if (!fut.done()) throw new RuntimeError("Event loop stopped before Future completed.");
    return fut.result();
  }

  /**
   * Stops the loop after the current iteration; if the loop is not running,
   * the next `runForever()` runs one iteration and stops.
   */
  stop(): void {
    this._stopping = true;
    if (this._sleeping) this._wake();
  }

  isRunning(): boolean {
    return this._running;
  }

  isClosed(): boolean {
    return this._closed;
  }

  /**
   * Closes the loop: pending callbacks are dropped and the default executor
   * is shut down without waiting. Refused while running; idempotent.
   */
  close(): void {
    if (this._running) throw new RuntimeError("Cannot close a running event loop");
    if (this._closed) return;
    if (this._debug) logger.debug(`Close ${this}`);
    this._closed = true;
    this._ready.clear();
    this._scheduled.clear();
    this._timerCancelledCount = 0;
    const executor = this._defaultExecutor;
    this._defaultExecutor = null;
    if (executor !== null) executor.shutdown({ wait: false });
    _reportPendingTasksWhenCollected(this._tasks);
    this._tasks.clear();
    this._scheduler.stopped();
  }

  /**
   * JavaScript gives no hook on async generators (Python's `firstiter`/
   * `finalizer`), so the loop knows of none to close; this resolves at once.
   */
  shutdownAsyncgens(): Awaitable<void> {
    const done = this.createFuture<void>();
    done.setResult(undefined);
    return done;
  }

  /** Shuts the default executor down, waiting up to `timeout` seconds (forever: `null`). */
  shutdownDefaultExecutor(timeout: number | null = null): Awaitable<void> {
    this._executorShutdownCalled = true;
    const done = this.createFuture<void>();
    const executor = this._defaultExecutor;
    this._defaultExecutor = null;
    if (executor === null) {
      done.setResult(undefined);
      return done;
    }
    const timer =
      timeout === null
        ? null
        : this.callLater(timeout, () => {
            logger.warn(`The executor did not finish joining its workers within ${timeout} seconds.`);
            if (!done.done()) done.setResult(undefined);
          });
    Promise.resolve(executor.shutdown({ wait: true })).then(
      () => {
        timer?.cancel();
        if (!done.done() && !this._closed) done.setResult(undefined);
      },
      (error: unknown) => {
        timer?.cancel();
        if (!done.done() && !this._closed) done.setException(error);
      },
    );
    return done;
  }

  // ---- executors --------------------------------------------------------

  /**
   * Runs `func(...args)` in `executor`, or in the default executor when
   * `null` (made on first use by the backend: a `ThreadPoolExecutor` on
   * Node), and returns a future of this loop for its result.
   */
  override runInExecutor<A extends unknown[], T>(
    executor: ExecutorLike | null,
    func: ExecutorFunction<A, T>,
    ...args: A
  ): Future<Awaited<T>> {
    this._checkClosed();
    if (executor === null) {
      if (this._executorShutdownCalled) throw new RuntimeError("Executor shutdown has been called");
      executor = this._defaultExecutor ??= this._newDefaultExecutor();
    }
    return wrapFuture(executor.submit(func, ...args), { loop: this });
  }

  /** Sets the executor `runInExecutor(null, ...)` uses. */
  override setDefaultExecutor(executor: ExecutorLike): void {
    const candidate = executor as Partial<ExecutorLike> | null;
    if (candidate === null || typeof candidate.submit !== "function" || typeof candidate.shutdown !== "function") {
      throw new TypeError(`executor must be an Executor (with submit and shutdown), not ${shortRepr(executor)}`);
    }
    this._defaultExecutor = executor;
  }

  /** Makes the default executor; a loop without a backend has none. */
  protected _newDefaultExecutor(): ExecutorLike {
    throw new NotImplementedError(
      `${this.constructor.name} has no default executor: runInExecutor(null, ...) needs an EventLoop (the Node loop) or setDefaultExecutor()`,
    );
  }

  private _checkClosed(): void {
    if (this._closed) throw new RuntimeError("Event loop is closed");
  }

  private _checkNotRunning(): void {
    if (this._running) throw new RuntimeError("This event loop is already running");
    if (_getThreadRunningLoop() !== null) {
      throw new RuntimeError("Cannot run the event loop while another loop is running");
    }
  }

  // ---- scheduling callbacks -------------------------------------------

  /** Schedules `callback(...args)` for the next iteration; callbacks run in FIFO order. */
  callSoon<A extends unknown[]>(callback: Callback<A>, ...args: A): Handle {
    return this._callSoon(callback as Callback<unknown[]>, args, "callSoon");
  }

  /**
   * `callSoon` for code outside the loop's callbacks (Node callbacks, other
   * threads' messages). Every `callSoon` wakes an idle loop here, so the two
   * differ only in name.
   */
  callSoonThreadsafe<A extends unknown[]>(callback: Callback<A>, ...args: A): Handle {
    return this._callSoon(callback as Callback<unknown[]>, args, "callSoonThreadsafe");
  }

  private _callSoon(callback: Callback<unknown[]>, args: unknown[], method: string): Handle {
    this._checkClosed();
    if (this._debug) checkCallback(callback, method);
    return this._push(new Handle(callback, args.length === 0 ? null : args, this));
  }

  _callSoonInContext(context: Context, callback: Callback<unknown[]>, args: unknown[] | null): Handle {
    this._checkClosed();
    return this._push(new Handle(callback, args, this, context));
  }

  _scheduleReady(item: Runnable): void {
    this._checkClosed();
    this._push(item);
  }

  /** Appends to the ready queue and wakes a sleeping loop. */
  private _push<R extends Runnable>(item: R): R {
    this._ready.push(item);
    if (this._sleeping) this._wake();
    return item;
  }

  /** Schedules `callback(...args)` to run after `delay` seconds. */
  callLater<A extends unknown[]>(delay: number, callback: Callback<A>, ...args: A): TimerHandle {
    checkTime(delay, "delay", "callLater");
    return this._callAt(this.time() + delay, callback as Callback<unknown[]>, args);
  }

  /** Schedules `callback(...args)` to run at loop time `when` (see `time()`). */
  callAt<A extends unknown[]>(when: number, callback: Callback<A>, ...args: A): TimerHandle {
    checkTime(when, "when", "callAt");
    return this._callAt(when, callback as Callback<unknown[]>, args);
  }

  private _callAt(when: number, callback: Callback<unknown[]>, args: unknown[]): TimerHandle {
    this._checkClosed();
    if (this._debug) checkCallback(callback, "callAt");
    const timer = new TimerHandle(when, callback, args.length === 0 ? null : args, this);
    this._scheduled.push(timer);
    timer._scheduled = true;
    if (this._sleeping) this._wake();
    return timer;
  }

  _timerHandleCancelled(handle: TimerHandle): void {
    if (handle._scheduled) this._timerCancelledCount++;
  }

  /** The loop's monotonic clock, in seconds. */
  time(): number {
    return this._scheduler.time();
  }

  // ---- futures and tasks ----------------------------------------------

  createFuture<T = unknown>(): Future<T> {
    return new Future<T>({ loop: this });
  }

  /** Schedules `coro` as a task of this loop (through the task factory, if one is set). */
  createTask<T>(coro: CoroutineLike<T>, options: TaskOptions = {}): Task<T> {
    this._checkClosed();
    const { signal, ...taskOptions } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      // Checked before the task exists: a refused createTask() must not leave a scheduled task behind.
      throw new TypeError(`signal must be an AbortSignal, not ${shortRepr(signal)}`);
    }
    let task: Task<T>;
    if (this._taskFactory === null) {
      task = new Task(coro, { ...taskOptions, loop: this });
    } else {
      task = this._taskFactory(this, coro, taskOptions);
      if (taskOptions.name !== undefined) task.setName(taskOptions.name);
    }
    if (signal !== undefined) task._linkAbortSignal(signal);
    return task;
  }

  /** Sets the factory `createTask` uses (`null`: plain `Task`). */
  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== "function") {
      throw new TypeError(`task factory must be a function or null, not ${shortRepr(factory)}`);
    }
    this._taskFactory = factory;
  }

  getTaskFactory(): TaskFactory | null {
    return this._taskFactory;
  }

  // ---- errors -----------------------------------------------------------

  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw new TypeError(`A function or null is expected, got ${shortRepr(handler)}`);
    }
    this._exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this._exceptionHandler;
  }

  /**
   * Logs `context` the way asyncio does: the message, then each other key
   * as `key: value`, then the exception's stack.
   */
  defaultExceptionHandler(context: ExceptionContext): void {
    const message = context.message || "Unhandled exception in event loop";
    const current = this._currentHandle;
    const lines = [message];
    const keys = Object.keys(context).sort();
    if (context.sourceTraceback === undefined && current?._sourceTraceback !== undefined) {
      keys.push("handleTraceback");
    }
    for (const key of keys) {
      if (key === "message" || key === "exception") continue;
      if (key === "sourceTraceback") {
        lines.push(`Object created at (most recent call first):\n${context.sourceTraceback}`);
      } else if (key === "handleTraceback") {
        lines.push(`Handle created at (most recent call first):\n${context.handleTraceback ?? current?._sourceTraceback}`);
      } else if (key === "futureRepr") {
        lines.push(`future: ${String(context[key])}`);
      } else {
        lines.push(`${key}: ${shortRepr(context[key])}`);
      }
    }
    const exception = context.exception;
    if (exception !== undefined) {
      lines.push(exception instanceof Error && exception.stack !== undefined ? exception.stack : errorRepr(exception));
    }
    logger.error(lines.join("\n"));
  }

  /** Passes `context` to the exception handler (or the default one); never throws. */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this._exceptionHandler;
    if (handler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch (error) {
        lastResortLog("Exception in default exception handler", error);
      }
      return;
    }
    try {
      handler(this, context);
    } catch (error) {
      try {
        this.defaultExceptionHandler({ message: "Unhandled error in exception handler", exception: error, context });
      } catch (nested) {
        lastResortLog(
          "Exception in default exception handler while handling an unexpected error in custom exception handler",
          nested,
        );
      }
    }
  }

  // ---- debug ------------------------------------------------------------

  getDebug(): boolean {
    return this._debug;
  }

  setDebug(enabled: boolean): void {
    this._debug = Boolean(enabled);
  }

  // ---- iterations -------------------------------------------------------

  /** One iteration, then chooses how the next one is scheduled. */
  private _iterate(): void {
    this._sleeping = false;
    try {
      this._runOnce();
    } catch (error) {
      this._endRun(error);
      return;
    }
    if (_takeNativeWakeup()) this._scheduler.afterMicrotasks(this._finishIterationBound);
    else this._finishIteration();
  }

  /** After an iteration: stop, or schedule the next one. */
  private _finishIteration(): void {
    if (this._stopping) this._endRun();
    else this._scheduleNext();
  }

  /**
   * The iteration woke native continuations (see `_markNativeWakeup`). They
   * resume a few microtask hops later and belong to this iteration, as task
   * steps do in CPython: what comes next (stop, the next iteration, sleep,
   * or a turn for the host) is decided once the microtask queue has
   * drained (`LoopScheduler.afterMicrotasks`). Deciding earlier would find
   * nothing ready, sleep, and be woken by the continuation's next
   * `callSoon`: a native task looping on `await sleep(0)` then starved the
   * host and lagged one iteration behind.
   */
  private readonly _finishIterationBound = (): void => this._finishIteration();

  private _endRun(error?: unknown): void {
    this._stopping = false;
    this._running = false;
    this._sleeping = false;
    this._currentHandle = null;
    _setRunningLoop(null);
    this._scheduler.cancelSleep();
    this._scheduler.stopped();
    const finish = this._finishRun;
    this._finishRun = null;
    finish?.(error);
  }

  private _scheduleNext(): void {
    if (this._ready.length > 0) {
      if (++this._iterationsSinceClockCheck < ITERATIONS_PER_CLOCK_CHECK) {
        this._chainTick();
        return;
      }
      this._iterationsSinceClockCheck = 0;
      const now = performance.now();
      if (now - this._lastHostYield < HOST_YIELD_INTERVAL_MS) {
        this._chainTick();
      } else {
        this._lastHostYield = now;
        this._scheduler.yieldToHost(this._tick);
      }
      return;
    }
    this._iterationsSinceClockCheck = 0;
    this._lastHostYield = performance.now();
    const next = this._scheduled.peek();
    this._sleeping = true;
    this._scheduler.sleep(next === undefined ? null : next._when, this._tick);
  }

  /**
   * Runs the next iteration as a microtask. A `then` on a settled Promise is
   * about three times cheaper than Node's `queueMicrotask`, which wraps
   * every callback for async_hooks; `_iterate` never throws.
   */
  private _chainTick(): void {
    RESOLVED.then(this._tick);
  }

  /** Leaves `scheduler.sleep` early: something became ready. */
  private _wake(): void {
    this._sleeping = false;
    this._scheduler.cancelSleep();
    this._chainTick();
  }

  /**
   * One iteration (CPython's `_run_once`): drop cancelled timers, move due
   * timers to the ready queue, then run the callbacks that were ready when
   * the iteration started; callbacks they schedule wait for the next one.
   */
  private _runOnce(): void {
    const scheduled = this._scheduled;
    if (scheduled.length > 0) {
      this._dropCancelledTimers();
      // `<=`: at large clock values `time + resolution` rounds to `time`, and a timer due now must still run.
      const endTime = this.time() + this._scheduler.clockResolution;
      for (let timer = scheduled.peek(); timer !== undefined && timer._when <= endTime; timer = scheduled.peek()) {
        scheduled.pop();
        timer._scheduled = false;
        this._ready.push(timer);
      }
    }
    const ready = this._ready;
    const ntodo = ready.length;
    for (let i = 0; i < ntodo; i++) {
      const handle = ready.shift() as Runnable;
      if (handle._cancelled === true) continue;
      if (this._debug) this._runTimed(handle);
      else handle._run();
    }
  }

  private _dropCancelledTimers(): void {
    const scheduled = this._scheduled;
    const count = scheduled.length;
    if (count > MIN_SCHEDULED_TIMER_HANDLES && this._timerCancelledCount / count > MIN_CANCELLED_TIMER_HANDLES_FRACTION) {
      scheduled.removeIf((timer) => {
        if (!timer._cancelled) return false;
        timer._scheduled = false;
        return true;
      });
      this._timerCancelledCount = 0;
      return;
    }
    for (let timer = scheduled.peek(); timer?._cancelled === true; timer = scheduled.peek()) {
      this._timerCancelledCount--;
      scheduled.pop();
      timer._scheduled = false;
    }
  }

  /** Runs `handle` and logs it when it took longer than `slowCallbackDuration` (debug mode). */
  private _runTimed(handle: Runnable): void {
    if (handle instanceof Handle) this._currentHandle = handle;
    const start = performance.now();
    try {
      handle._run();
    } finally {
      this._currentHandle = null;
    }
    const seconds = (performance.now() - start) / 1000;
    if (seconds >= this.slowCallbackDuration) logger.warn(`Executing ${handle} took ${seconds.toFixed(3)} seconds`);
  }

  override toString(): string {
    return `<${this.constructor.name} running=${this._running} closed=${this._closed} debug=${this._debug}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

const destroyedPending = new FinalizationRegistry<{ loop: AbstractEventLoop; repr: string; sourceTraceback: string | undefined }>(
  (held) => {
    const context: ExceptionContext = { message: "Task was destroyed but it is pending!", futureRepr: held.repr };
    if (held.sourceTraceback !== undefined) context.sourceTraceback = held.sourceTraceback;
    held.loop.callExceptionHandler(context);
  },
);

/**
 * When a loop closes, its pending tasks can never run again; once they are
 * garbage-collected, each is reported ("Task was destroyed but it is pending!").
 */
function _reportPendingTasksWhenCollected(tasks: Set<Task<unknown>>): void {
  for (const task of tasks) {
    if (task.done() || !task._logDestroyPending) continue;
    destroyedPending.register(task, { loop: task._loop, repr: String(task), sourceTraceback: task._sourceTraceback });
  }
}
