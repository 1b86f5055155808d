/**
 * `Task` (Python's `asyncio.Task`): a future that runs a coroutine, and the
 * module functions around it (`createTask`, `currentTask`, `allTasks`,
 * `ensureFuture`, `sleep`, eager task factories).
 *
 * A task runs either kind of coroutine:
 * - a generator coroutine is stepped by `_step`, which is CPython's
 *   `Task.__step` almost line by line: the generator yields the future it
 *   waits on (through the future's iterator), the task adds `_wakeup` as the
 *   future's done callback, and a bare `yield` gives up one loop iteration;
 * - a native async function is called once inside a native scope (see
 *   `native_scope.ts`); each asyncio awaitable it awaits reports itself to
 *   the task (`_awaitFuture`), so that `cancel()` can cancel it and the
 *   `CancelledError` surfaces at the `await`. The task finishes when the
 *   function's promise settles.
 * Cancellation always throws `CancelledError` into the coroutine, so that
 * `finally` blocks run and may themselves await.
 */
import type { Context } from "./contextvars.js";
import { copyContext } from "./contextvars.js";
import { Coro, isGeneratorFunction, isGeneratorObject } from "./coroutines.js";
import type { AbstractEventLoop, Callback } from "./events.js";
import { callbackName, getEventLoop, getRunningLoop, shortRepr } from "./events.js";
import { CancelledError, errorRepr, InvalidStateError, RuntimeError, ValueError } from "./exceptions.js";
import type { Awaitable, Coroutine } from "./futures.js";
import {
  _followThenable,
  _setResultUnlessCancelled,
  Future,
  FutureState,
  HandWrittenCoroutine,
  INTERNAL_CONTEXT,
  WAKE_TASK,
} from "./futures.js";
import { logger } from "./log.js";
import type { NativeScopeOwner } from "./native_scope.js";
import { _markNativeWakeup, currentNativeOwner, runInNativeScope } from "./native_scope.js";

/** What a task runs: a generator coroutine, a `Coro`, or a function starting one (an async function, a `function*`). */
export type CoroutineLike<T> = Coroutine<T> | Coro<T> | (() => Awaitable<T> | PromiseLike<T> | Coroutine<T>);

/** Anything the combinators accept: awaitables, Promises, and coroutines (which become tasks). */
export type AwaitableLike<T> = Awaitable<T> | PromiseLike<T> | CoroutineLike<T>;

/** Options of `createTask` and `new Task`. */
export interface TaskOptions {
  /** The task's name; `Task-N` by default. */
  name?: string;
  /** The context the task runs in; a copy of the current one by default. */
  context?: Context;
  /** Run the first step at once, inside `createTask`, when the loop is running. */
  eagerStart?: boolean;
  /** Cancel the task when this signal aborts. */
  signal?: AbortSignal;
}

/** Options of `new Task`: `TaskOptions` and the loop. */
export interface TaskConstructorOptions extends Omit<TaskOptions, "signal"> {
  loop?: AbstractEventLoop;
}

/** Says "no exception" to `_step`, since JavaScript can throw `undefined`. */
const NO_EXC: unique symbol = Symbol("no exception");
type StepArg = unknown;

let taskNameCounter = 0;
/** The task whose step is running in this thread (generator steps and the first step of native tasks). */
let steppingTask: Task<unknown> | null = null;

function enterTask(task: Task<unknown>): void {
  if (steppingTask !== null) {
    throw new RuntimeError(`Cannot enter into task ${task} while another task ${steppingTask} is being executed.`);
  }
  steppingTask = task;
}

function leaveTask(task: Task<unknown>): void {
  if (steppingTask !== task) throw new RuntimeError(`Leaving task ${task} does not match the current task ${steppingTask}.`);
  steppingTask = null;
}

/** Makes `task` the current one and returns the previous one (used by eager start and inline driving). */
function swapCurrentTask(task: Task<unknown> | null): Task<unknown> | null {
  const previous = steppingTask;
  steppingTask = task;
  return previous;
}

function stepTask(task: Task<unknown>): void {
  task._step(NO_EXC);
}

function stepTaskWithError(task: Task<unknown>, error: unknown): void {
  task._step(error);
}

const settle = {
  result: Future.prototype.setResult,
  exception: Future.prototype.setException,
  cancel: Future.prototype.cancel,
};

/**
 * What a coroutine yielded, checked as `Task.__step` checks it: a future
 * awaited through its iterator, `undefined` (a bare yield), or an error to
 * throw back into the coroutine.
 */
function checkYield(
  value: unknown,
  loop: AbstractEventLoop,
  self: unknown,
  describe: () => string,
): Future<unknown> | undefined | RuntimeError {
  if (value === undefined) return undefined;
  if (value instanceof Future) {
    if (value._loop !== loop) return new RuntimeError(`${describe()} got Future ${value} attached to a different loop`);
    if (!value._blocking) return new RuntimeError(`yield was used instead of yield* in ${describe()} with ${value}`);
    value._blocking = false;
    if (value === self) return new RuntimeError(`Task cannot await on itself: ${describe()}`);
    return value;
  }
  if (isGeneratorObject(value) || value instanceof Coro) {
    return new RuntimeError(`yield was used instead of yield* for a coroutine in ${describe()} with ${shortRepr(value)}`);
  }
  if (isThenable(value)) {
    return new RuntimeError(
      `${describe()} got bad yield: a Promise; a generator coroutine awaits a Promise with yield* asyncio.ensureFuture(promise)`,
    );
  }
  return new RuntimeError(`${describe()} got bad yield: ${shortRepr(value)}`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** A coroutine scheduled to run on the loop (Python's `asyncio.Task`). */
export class Task<T = unknown> extends Future<T> implements NativeScopeOwner {
  /** What the task was created with (returned by `getCoro()`). */
  _coro: CoroutineLike<T> | null;
  /** The generator being stepped; `null` before the first step and for native async functions. */
  _gen: Coroutine<T> | null = null;
  /** The name, or the number `N` of the default name `Task-N`. */
  _name: string | number;
  _context: Context;
  /** The future the coroutine waits on; cancelling the task cancels it. */
  _futWaiter: Future<unknown> | null = null;
  /** Throw `CancelledError` into the coroutine at its next step (Python's `_must_cancel`). */
  _mustCancel = false;
  _numCancelsRequested = 0;
  _abortController: AbortController | null = null;
  _unlinkSignal: (() => void) | null = null;
  _logDestroyPending = true;

  constructor(coro: CoroutineLike<T>, options: TaskConstructorOptions = {}) {
    super(options.loop === undefined ? undefined : { loop: options.loop });
    checkCoroutineLike(coro, "Task()");
    this._coro = coro;
    this._name = options.name === undefined ? ++taskNameCounter : String(options.name);
    this._context = options.context ?? copyContext();
    const loop = this._loop;
    if (options.eagerStart === true && loop.isRunning()) {
      loop._tasks.add(this as Task<unknown>);
      this._eagerStart();
    } else {
      loop._scheduleReady(this);
      loop._tasks.add(this as Task<unknown>);
    }
  }

  /** Tasks are finished by their coroutine only. */
  override setResult(_result: T): never {
    throw new RuntimeError("Task does not support setResult operation");
  }

  override setException(_exception: unknown): never {
    throw new RuntimeError("Task does not support setException operation");
  }

  getName(): string {
    return typeof this._name === "number" ? `Task-${this._name}` : this._name;
  }

  setName(name: unknown): void {
    this._name = String(name);
  }

  getCoro(): CoroutineLike<T> | null {
    return this._coro;
  }

  getContext(): Context {
    return this._context;
  }

  /**
   * Requests cancellation: the coroutine gets `CancelledError` at its
   * current (or next) await. Returns `false` if the task is already done.
   */
  override cancel(msg?: string): boolean {
    this._retrieved();
    if (this._state !== FutureState.PENDING) return false;
    this._numCancelsRequested += 1;
    this._abortController?.abort(new CancelledError(msg ?? ""));
    if (this._futWaiter !== null && this._futWaiter.cancel(msg)) return true;
    this._mustCancel = true;
    this._cancelMessage = msg;
    return true;
  }

  /** How many cancellation requests are pending (not undone by `uncancel()`). */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /** Takes back one cancellation request; returns how many remain. */
  uncancel(): number {
    if (this._numCancelsRequested > 0) {
      this._numCancelsRequested -= 1;
      if (this._numCancelsRequested === 0) this._mustCancel = false;
    }
    return this._numCancelsRequested;
  }

  /**
   * An `AbortSignal` aborted (with the `CancelledError` as reason) as soon
   * as the task is asked to cancel: hand it to `fetch` and Node APIs.
   */
  abortSignal(): AbortSignal {
    if (this._abortController === null) {
      this._abortController = new AbortController();
      if (this._numCancelsRequested > 0 || this.cancelled()) {
        this._abortController.abort(new CancelledError(this._cancelMessage ?? ""));
      }
    }
    return this._abortController.signal;
  }

  /**
   * The stack of the task as lines. JavaScript cannot inspect a suspended
   * generator or async function, so for a pending task this is where it was
   * created (debug mode only); for a task that failed, the error's stack.
   */
  getStack(options?: { limit?: number }): string[] {
    let stack: string[] = [];
    if (this._state === FutureState.FINISHED && this._hasException && this._exception instanceof Error) {
      stack = (this._exception.stack ?? "").split("\n").slice(1);
    } else if (this._state === FutureState.PENDING && this._sourceTraceback !== undefined) {
      stack = this._sourceTraceback.split("\n");
    }
    const limit = options?.limit;
    return limit === undefined ? stack : stack.slice(0, Math.max(0, limit));
  }

  /** Prints `getStack()` to the logger, the way Python's `print_stack` does. */
  printStack(options?: { limit?: number; file?: { write(text: string): unknown } }): void {
    const stack = this.getStack(options);
    const kind = this._state === FutureState.FINISHED && this._hasException ? "Traceback" : "Stack";
    const lines = [stack.length === 0 ? `No stack for ${this}` : `${kind} for ${this} (most recent call first):`, ...stack];
    if (this._hasException) lines.push(errorRepr(this._exception));
    const text = lines.join("\n");
    if (options?.file !== undefined) options.file.write(`${text}\n`);
    else logger.error(text);
  }

  _step(exc: StepArg): void {
    if (this._state !== FutureState.PENDING) throw new InvalidStateError(`_step(): already done: ${this}`);
    if (this._mustCancel) {
      if (!(exc instanceof CancelledError)) exc = new CancelledError(this._cancelMessage ?? "");
      this._mustCancel = false;
    }
    this._futWaiter = null;
    enterTask(this as Task<unknown>);
    try {
      this._stepBody(exc);
    } finally {
      leaveTask(this as Task<unknown>);
    }
  }

  /** Runs the coroutine to its next suspension and handles what it yields or returns. */
  _stepBody(exc: StepArg): void {
    const gen = this._gen;
    if (gen === null) {
      this._start(exc);
      return;
    }
    let step: IteratorResult<unknown, T>;
    try {
      step = exc === NO_EXC ? gen.next() : gen.throw(exc);
    } catch (error) {
      this._finishWithError(error);
      return;
    }
    if (step.done === true) this._finishWithResult(step.value);
    else this._suspend(step.value);
  }

  /** The first step: turns what the task was given into a generator, or calls the native async function. */
  private _start(exc: StepArg): void {
    const coro = this._coro;
    if (exc !== NO_EXC) {
      // Cancelled before it started: the coroutine never runs, as in Python, and is closed.
      if (isGeneratorObject(coro)) closeGenerator(coro);
      else if (coro instanceof Coro) closeGenerator(coro[Symbol.iterator]());
      this._finishWithError(exc);
      return;
    }
    let started: unknown = coro;
    if (typeof coro === "function") {
      try {
        started = isGeneratorFunction(coro) ? coro() : runInNativeScope(this, coro);
      } catch (error) {
        this._finishWithError(error);
        return;
      }
    }
    if (isGeneratorObject(started)) {
      this._gen = started as Coroutine<T>;
    } else if (started instanceof Coro || started instanceof Future) {
      this._gen = (started as Awaitable<T>)[Symbol.iterator]();
    } else if (isThenable(started)) {
      _markNativeWakeup();
      started.then(
        (value) => this._nativeSettled(value as T, NO_EXC),
        (error: unknown) => this._nativeSettled(undefined, error),
      );
      return;
    } else {
      this._finishWithResult(started as T);
      return;
    }
    this._stepBody(NO_EXC);
  }

  private _suspend(yielded: unknown): void {
    const awaited = checkYield(yielded, this._loop, this, () => `task ${this}`);
    if (awaited === undefined) {
      this._loop._scheduleReady(this);
    } else if (awaited instanceof RuntimeError) {
      this._loop._callSoonInContext(this._context, stepTaskWithError as Callback<unknown[]>, [this, awaited]);
    } else {
      awaited._addCallback(WAKE_TASK, this);
      this._futWaiter = awaited;
      if (this._mustCancel && awaited.cancel(this._cancelMessage)) this._mustCancel = false;
    }
  }

  private _finishWithResult(value: T): void {
    if (this._mustCancel) {
      // Cancelled right before the coroutine returned.
      this._mustCancel = false;
      settle.cancel.call(this, this._cancelMessage);
    } else {
      settle.result.call(this, value);
    }
  }

  private _finishWithError(error: unknown): void {
    this._mustCancel = false;
    if (error instanceof CancelledError) {
      this._cancelledExc = error;
      settle.cancel.call(this);
    } else {
      settle.exception.call(this, error);
    }
  }

  private _nativeSettled(value: T | undefined, error: StepArg): void {
    this._futWaiter = null;
    if (this._state !== FutureState.PENDING) return;
    if (error === NO_EXC) this._finishWithResult(value as T);
    else this._finishWithError(error);
  }

  private _eagerStart(): void {
    const previous = swapCurrentTask(this as Task<unknown>);
    try {
      this._context.run(() => this._stepBody(NO_EXC));
    } finally {
      swapCurrentTask(previous);
    }
  }

  /** Called by `Future.then` when the task's native function awaits `future`. */
  _awaitFuture(future: Future<unknown>): void {
    if (this._state !== FutureState.PENDING) return;
    this._futWaiter = future;
    if (this._mustCancel && future !== this && future.cancel(this._cancelMessage)) this._mustCancel = false;
  }

  /** Called through `WAKE_TASK` when the future the task waits on is done. */
  _scheduleWakeup(): void {
    this._loop._scheduleReady(this);
  }

  /**
   * Runs the task's next step; the loop calls this when the task comes up
   * in the ready queue (a task is its own step handle, see `Runnable`).
   */
  _run(): void {
    try {
      this._context._run1(stepTask, this as Task<unknown>);
    } catch (exception) {
      this._loop.callExceptionHandler({ message: `Exception in callback ${this}._step()`, exception, task: this });
    }
  }

  _awaitDone(future: Future<unknown>): void {
    if (this._futWaiter === future) this._futWaiter = null;
  }

  override _scheduleCallbacks(): void {
    this._loop._tasks.delete(this as Task<unknown>);
    if (this._unlinkSignal !== null) {
      this._unlinkSignal();
      this._unlinkSignal = null;
    }
    super._scheduleCallbacks();
  }

  /** Cancels the task when `signal` aborts (the `signal` option of `createTask`). */
  _linkAbortSignal(signal: AbortSignal): void {
    if (!(signal instanceof AbortSignal)) throw new TypeError(`signal must be an AbortSignal, not ${shortRepr(signal)}`);
    // An eager task may be done already: a listener added now would never be removed.
    if (this._state !== FutureState.PENDING) return;
    if (signal.aborted) {
      this.cancel(abortMessage(signal));
      return;
    }
    const onAbort = (): void => {
      this.cancel(abortMessage(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this._unlinkSignal = () => signal.removeEventListener("abort", onAbort);
  }

  protected override _reprInfo(): string[] {
    const info = super._reprInfo();
    if (this._mustCancel) info[0] = "cancelling";
    info.splice(1, 0, `name='${this.getName()}'`, `coro=<${coroName(this._coro)}()>`);
    if (this._futWaiter !== null) info.push(`wait_for=${this._futWaiter}`);
    return info;
  }
}

function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? "aborted" : String(reason);
}

function coroName(coro: unknown): string {
  if (coro instanceof Coro) return coro._name;
  if (typeof coro === "function") return callbackName(coro);
  return "generator";
}

function closeGenerator(gen: Coroutine<unknown>): void {
  try {
    gen.return(undefined);
  } catch {
    // A generator whose finally throws while closing unstarted: nothing ran, nothing to report.
  }
}

function checkCoroutineLike(coro: unknown, where: string): void {
  if (typeof coro === "function" || isGeneratorObject(coro) || coro instanceof Coro) return;
  if (coro instanceof Future) {
    throw new TypeError(`${where} needs a coroutine, got ${coro}: a future is already scheduled; await it or use ensureFuture()`);
  }
  if (isThenable(coro)) {
    throw new TypeError(
      `${where} needs a coroutine, got a Promise: it is already running outside any task; pass the async function itself, as in createTask(main) or createTask(() => main(arg))`,
    );
  }
  throw new TypeError(`${where} needs a coroutine (a generator, a Coro, or a function), got ${shortRepr(coro)}`);
}

/** Whether `value` is something `createTask` accepts. */
export function _isCoroutineLike(value: unknown): boolean {
  return typeof value === "function" || isGeneratorObject(value) || value instanceof Coro;
}

/** A `then` callback as given: a function, or anything else (the outcome then passes through). */
export type ThenCallback = ((value: never) => unknown) | null | undefined;

/**
 * What a Promise's reaction does with a settled outcome: the callback's
 * result (or throw) settles `then()`'s Promise through `resolve`/`reject`;
 * without a callback the outcome passes through.
 */
export function _settleThen(
  callback: ThenCallback,
  outcome: unknown,
  fulfilled: boolean,
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
): void {
  if (typeof callback !== "function") {
    if (fulfilled) resolve(outcome);
    else reject(outcome);
    return;
  }
  try {
    resolve(callback(outcome as never));
  } catch (error) {
    reject(error);
  }
}

/**
 * `then(onFulfilled, onRejected)` of a generator coroutine awaited by
 * native code (`await coro`): drives it on behalf of the task that awaits
 * it (its steps see that task as current, run in its context, and its
 * cancellation reaches the generator). Once the generator has suspended,
 * its end calls `then()`'s callbacks itself, in a later loop iteration,
 * and resolves the returned Promise with what they return: a Promise of
 * its own, followed with `then(callbacks)`, cost one more Promise and one
 * more microtask per `await`. A generator that ends without suspending is
 * settled through a Promise, since `then()` must not call back before it
 * returns.
 */
export function _driveInline(gen: Coroutine<unknown>, onFulfilled: ThenCallback, onRejected: ThenCallback): Promise<unknown> {
  const owner = currentNativeOwner() as Task<unknown> | undefined;
  const loop = owner?._loop ?? getRunningLoop();
  const context = owner?._context ?? copyContext();
  const driver = new InlineDriver(gen, owner ?? null, loop, context, onFulfilled, onRejected);
  driver._advance(NO_EXC);
  return driver._early ?? driver._promise();
}

function unsettled(): void {
  throw new RuntimeError("an inline driver ended before then() returned its Promise");
}

/** One generator driven inline for an awaiting task; see `_driveInline`. */
class InlineDriver {
  private readonly _onReady: () => void;
  /** Set once the generator has suspended: from then on its end settles `then()` directly. */
  private _suspended = false;
  /** A generator that ended within `then()`: the Promise `then()` returns instead. */
  _early: Promise<unknown> | null = null;
  /** The settlers of `_promise()`: made only for a generator that suspended (it ends in a later iteration). */
  private _resolve: (value: unknown) => void = unsettled;
  private _reject: (error: unknown) => void = unsettled;

  constructor(
    private readonly _gen: Coroutine<unknown>,
    private readonly _owner: Task<unknown> | null,
    private readonly _loop: AbstractEventLoop,
    private readonly _context: Context,
    private readonly _onFulfilled: ThenCallback,
    private readonly _onRejected: ThenCallback,
  ) {
    this._onReady = () => this._step(NO_EXC);
  }

  /**
   * Resumes the generator after a suspension. A cancellation requested
   * meanwhile is thrown in here, where the owner would have been suspended
   * (the first step, `_advance` alone, delivers none: as in CPython, a
   * coroutine that finishes without suspending is not interrupted).
   */
  _step(exc: StepArg): void {
    const owner = this._owner;
    if (owner !== null && owner._mustCancel && !(exc instanceof CancelledError)) {
      exc = new CancelledError(owner._cancelMessage ?? "");
      owner._mustCancel = false;
    }
    this._advance(exc);
  }

  /** Runs the generator to its next suspension, or to its end. */
  _advance(exc: StepArg): void {
    const owner = this._owner;
    let step: IteratorResult<unknown, unknown>;
    const previous = swapCurrentTask(owner);
    try {
      step = this._context.run(advance, this._gen, exc);
    } catch (error) {
      _markNativeWakeup();
      this._finish(error, false);
      return;
    } finally {
      swapCurrentTask(previous);
    }
    if (step.done === true) {
      _markNativeWakeup();
      this._finish(step.value, true);
    } else {
      this._suspended = true;
      this._suspend(step.value);
    }
  }

  /** What `then()` returns for a generator that suspended; its end settles it (`_finish`). */
  _promise(): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
  }

  private _finish(outcome: unknown, fulfilled: boolean): void {
    if (!this._suspended) {
      const settled = fulfilled ? Promise.resolve(outcome) : Promise.reject(outcome);
      this._early = settled.then(
        this._onFulfilled as (value: unknown) => unknown,
        this._onRejected as (error: unknown) => unknown,
      );
      return;
    }
    _settleThen(fulfilled ? this._onFulfilled : this._onRejected, outcome, fulfilled, this._resolve, this._reject);
  }

  private _suspend(yielded: unknown): void {
    const awaited = checkYield(yielded, this._loop, this._owner, () => `coroutine awaited by ${this._owner ?? "native code"}`);
    if (awaited === undefined) {
      this._loop._callSoonInContext(INTERNAL_CONTEXT, this._onReady, null);
    } else if (awaited instanceof RuntimeError) {
      this._loop._callSoonInContext(INTERNAL_CONTEXT, (error: unknown) => this._step(error), [awaited]);
    } else {
      const owner = this._owner;
      awaited._addCallback(() => {
        owner?._awaitDone(awaited);
        this._step(NO_EXC);
      }, INTERNAL_CONTEXT);
      owner?._awaitFuture(awaited);
    }
  }
}

function advance<T>(gen: Coroutine<T>, exc: StepArg): IteratorResult<unknown, T> {
  return exc === NO_EXC ? gen.next() : gen.throw(exc);
}

/**
 * The task running now in `loop` (the running loop by default), or `null`
 * outside any task.
 */
export function currentTask(loop?: AbstractEventLoop): Task<unknown> | null {
  const target = loop ?? getRunningLoop();
  if (steppingTask !== null) return steppingTask._loop === target ? steppingTask : null;
  const owner = currentNativeOwner() as Task<unknown> | undefined;
  return owner !== undefined && owner._loop === target && !owner.done() ? owner : null;
}

/** The tasks of `loop` (the running loop by default) that are not done. */
export function allTasks(loop?: AbstractEventLoop): Set<Task<unknown>> {
  const target = loop ?? getRunningLoop();
  return new Set([...target._tasks].filter((task) => !task.done()));
}

/** Schedules `coro` on the running loop and returns its task. */
export function createTask<T>(coro: CoroutineLike<T>, options?: TaskOptions): Task<T> {
  return getRunningLoop().createTask(coro, options);
}

/**
 * A future for `aw`: a future is returned as is, a coroutine (or a function
 * starting one) becomes a task, a Promise becomes a future that follows it.
 */
export function ensureFuture<T>(aw: AwaitableLike<T>, options?: { loop?: AbstractEventLoop }): Future<T> {
  const loop = options?.loop;
  if (aw instanceof Future) {
    if (loop !== undefined && loop !== aw._loop) {
      throw new ValueError("The future belongs to a different loop than the one specified as the loop argument");
    }
    return aw;
  }
  if (_isCoroutineLike(aw)) return (loop ?? getEventLoop()).createTask(aw as CoroutineLike<T>);
  if (isThenable(aw)) return followPromise(aw as PromiseLike<T>, loop ?? getEventLoop());
  throw new TypeError(`An asyncio.Future, a coroutine or an awaitable is required, got ${shortRepr(aw)}`);
}

function followPromise<T>(promise: PromiseLike<T>, loop: AbstractEventLoop): Future<T> {
  const future = loop.createFuture<T>();
  _followThenable(promise, future);
  return future;
}

function* sleepFor<T>(delay: number, result: T): Coroutine<T> {
  const loop = getRunningLoop();
  const future = loop.createFuture<T>();
  const handle = loop.callLater(delay, _setResultUnlessCancelled, future, result);
  try {
    return yield* future;
  } finally {
    handle.cancel();
  }
}

function startSleepFor<T>(this: { delay: number; result: T }): Coroutine<T> {
  return sleepFor(this.delay, this.result);
}

/**
 * What `sleep(0)` delegates to: one bare yield, then the result. Written by
 * hand (a generator costs more) because `sleep(0)` is how coroutines give
 * way to each other.
 */
class SleepZeroIterator<T> extends HandWrittenCoroutine<T> {
  private _yielded = false;

  constructor(private readonly _result: T) {
    super();
  }

  next(): IteratorResult<undefined, T> {
    if (this._yielded) return { value: this._result, done: true };
    this._yielded = true;
    return { value: undefined, done: false };
  }
}

/** The coroutine `sleep()` returns; `sleep(0)` has fast paths in both coroutine styles. */
class SleepCoro<T> extends Coro<T> {
  readonly delay: number;
  readonly result: T;

  constructor(delay: number, result: T) {
    super(startSleepFor as () => Coroutine<T>, "sleep");
    this.delay = delay;
    this.result = result;
  }

  override [Symbol.iterator](): Coroutine<T> {
    const start = this._take();
    if (this.delay > 0) return start.call(this);
    return new SleepZeroIterator(this.result).asCoroutine();
  }

  /** `await sleep(0)`: resolves after one loop iteration; a cancel request meanwhile throws there. */
  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.delay > 0) return super.then(onfulfilled, onrejected);
    let yielded: Promise<T>;
    try {
      this._take();
      const owner = currentNativeOwner() as Task<unknown> | undefined;
      const loop = owner?._loop ?? getRunningLoop();
      yielded = new Promise<T>((resolve, reject) => {
        loop._callSoonInContext(INTERNAL_CONTEXT, () => resumeAfterYield(owner, resolve, reject, this.result), null);
      });
    } catch (error) {
      yielded = Promise.reject(error);
    }
    return yielded.then(onfulfilled, onrejected);
  }
}

function resumeAfterYield<T>(
  owner: Task<unknown> | undefined,
  resolve: (value: T) => void,
  reject: (error: unknown) => void,
  value: T,
): void {
  _markNativeWakeup();
  if (owner?._mustCancel === true) {
    owner._mustCancel = false;
    reject(new CancelledError(owner._cancelMessage ?? ""));
  } else {
    resolve(value);
  }
}

/**
 * Suspends the calling coroutine for `delay` seconds and returns `result`.
 * `sleep(0)` gives up exactly one loop iteration.
 */
export function sleep(delay: number): Coro<void>;
export function sleep<T>(delay: number, result: T): Coro<T>;
export function sleep<T>(delay: number, result?: T): Coro<T | undefined> {
  if (typeof delay !== "number") throw new TypeError(`sleep() delay must be a number of seconds, not ${typeof delay}`);
  if (Number.isNaN(delay)) throw new ValueError("Invalid delay: NaN (not a number)");
  return new SleepCoro(delay, result);
}

/** A task factory that starts tasks eagerly (Python's `asyncio.eager_task_factory`). */
export function eagerTaskFactory<T>(loop: AbstractEventLoop, coro: CoroutineLike<T>, options: TaskOptions = {}): Task<T> {
  const { signal: _signal, ...rest } = options;
  return new Task(coro, { ...rest, loop, eagerStart: true });
}

/** A task factory making eager tasks of class `ctor` (Python's `create_eager_task_factory`). */
export function createEagerTaskFactory(
  ctor: new <T>(coro: CoroutineLike<T>, options: TaskConstructorOptions) => Task<T>,
): <T>(loop: AbstractEventLoop, coro: CoroutineLike<T>, options?: TaskOptions) => Task<T> {
  return <T>(loop: AbstractEventLoop, coro: CoroutineLike<T>, options: TaskOptions = {}): Task<T> => {
    const { signal: _signal, ...rest } = options;
    return new ctor(coro, { ...rest, loop, eagerStart: true });
  };
}
