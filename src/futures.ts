/**
 * `Future` (Python's `asyncio.Future`): a result that will exist later,
 * with done callbacks that always run through the loop (`callSoon`), never
 * inline. A future is awaitable both ways: `await fut` in an async function
 * (it is a `PromiseLike`) and `yield* fut` in a generator coroutine (its
 * iterator yields the future to the task, then returns its result, like
 * Python's `Future.__iter__`).
 *
 * An exception set on a future and never retrieved is reported to the
 * loop's exception handler when the future is garbage-collected, through a
 * `FinalizationRegistry` whose held value holds no reference to the future.
 */
import { ConcurrentFuture } from "./concurrent_futures.js";
import { Context, currentContext } from "./contextvars.js";
import type { AbstractEventLoop, Callback, ExceptionContext } from "./events.js";
import { callbackName, creationStack, getEventLoop, shortRepr } from "./events.js";
import { CancelledError, errorRepr, InvalidStateError, RuntimeError } from "./exceptions.js";
import { logger } from "./log.js";
import { _markNativeWakeup, currentNativeOwner } from "./native_scope.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** Something usable with `await` in async functions and with `yield*` in generator coroutines. */
export interface Awaitable<T> extends PromiseLike<T> {
  [Symbol.iterator](): Generator<unknown, T, unknown>;
}

/** A generator coroutine: a `function*` run by a task, delegating with `yield*`. */
export type Coroutine<T = unknown> = Generator<unknown, T, unknown>;

/** The state of a future, as asyncio names it. */
export enum FutureState {
  PENDING = 0,
  CANCELLED = 1,
  FINISHED = 2,
}
const STATE_NAMES = ["PENDING", "CANCELLED", "FINISHED"] as const;

/** A done callback: called with the future, through the loop. */
export type DoneCallback<T> = (future: Future<T>) => unknown;

/**
 * Internal done callbacks need no context of their own (they only settle a
 * promise or wake a task that enters its own): they share this one.
 */
export const INTERNAL_CONTEXT = new Context();

interface NeverRetrieved {
  loop: AbstractEventLoop;
  exception: unknown;
  message: string;
  repr: string;
  sourceTraceback: string | undefined;
}

const neverRetrieved = new FinalizationRegistry<NeverRetrieved>((held) => {
  const context: ExceptionContext = { message: held.message, exception: held.exception, futureRepr: held.repr };
  if (held.sourceTraceback !== undefined) context.sourceTraceback = held.sourceTraceback;
  held.loop.callExceptionHandler(context);
});

/**
 * Registered in place of a done callback by a task waiting on a future: the
 * next slot holds the task, which schedules its own step. A task waits on
 * many futures in its life; this spares a closure per task.
 */
export const WAKE_TASK: unique symbol = Symbol("wake task");

/** What `WAKE_TASK` wakes. */
export interface Wakeable {
  _scheduleWakeup(): void;
}

/** Options of `new Future()`. */
export interface FutureOptions {
  loop?: AbstractEventLoop;
}

/** A result that will be set later (Python's `asyncio.Future`). */
export class Future<T = unknown> implements Awaitable<T> {
  _state: FutureState = FutureState.PENDING;
  _result: T | undefined = undefined;
  _exception: unknown = undefined;
  _hasException = false;
  _loop: AbstractEventLoop;
  /** Pairs of (callback, context), flattened; `null` when there are none. */
  _callbacks: unknown[] | null = null;
  _cancelMessage: string | undefined = undefined;
  _cancelledExc: CancelledError | null = null;
  /** True while an exception is set and nobody has retrieved it. */
  _logTraceback = false;
  /** Set by the iterator just before it yields the future to a task (Python's `_asyncio_future_blocking`). */
  _blocking = false;
  _sourceTraceback: string | undefined = undefined;
  /** The Promise `then()` chains on, made on first use. */
  private _promise: Promise<T> | null = null;

  constructor(options?: FutureOptions) {
    this._loop = options?.loop ?? getEventLoop();
    if (this._loop.getDebug()) this._sourceTraceback = creationStack();
  }

  /** The loop the future is bound to. */
  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  done(): boolean {
    return this._state !== FutureState.PENDING;
  }

  cancelled(): boolean {
    return this._state === FutureState.CANCELLED;
  }

  /**
   * The result; throws the exception if one was set, `CancelledError` if
   * cancelled, `InvalidStateError` if not done yet.
   */
  result(): T {
    if (this._state === FutureState.CANCELLED) throw this._makeCancelledError();
    if (this._state !== FutureState.FINISHED) throw new InvalidStateError("Result is not ready.");
    this._retrieved();
    if (this._hasException) throw this._exception;
    return this._result as T;
  }

  /** The exception, or `null`; throws `CancelledError` if cancelled, `InvalidStateError` if not done. */
  exception(): unknown {
    if (this._state === FutureState.CANCELLED) throw this._makeCancelledError();
    if (this._state !== FutureState.FINISHED) throw new InvalidStateError("Exception is not set.");
    this._retrieved();
    return this._hasException ? this._exception : null;
  }

  setResult(result: T): void {
    if (this._state !== FutureState.PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._result = result;
    this._state = FutureState.FINISHED;
    this._scheduleCallbacks();
  }

  setException(exception: unknown): void {
    if (this._state !== FutureState.PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._exception = exception;
    this._hasException = true;
    this._state = FutureState.FINISHED;
    this._scheduleCallbacks();
    this._logTraceback = true;
    neverRetrieved.register(
      this,
      {
        loop: this._loop,
        exception,
        message: `${this.constructor.name} exception was never retrieved`,
        repr: this.toString(),
        sourceTraceback: this._sourceTraceback,
      },
      this,
    );
  }

  /** Cancels the future; `false` if it was already done. */
  cancel(msg?: string): boolean {
    this._retrieved();
    if (this._state !== FutureState.PENDING) return false;
    this._state = FutureState.CANCELLED;
    this._cancelMessage = msg;
    this._scheduleCallbacks();
    return true;
  }

  /**
   * Calls `callback(future)` through the loop once the future is done (at
   * once, through the loop, if it already is). It runs in `context`, or in
   * a copy of the current context.
   */
  addDoneCallback(callback: DoneCallback<T>, options?: { context?: Context }): void {
    if (typeof callback !== "function") throw new TypeError(`a done callback must be a function, not ${shortRepr(callback)}`);
    this._addCallback(callback, options?.context ?? new Context(currentContext()._vars));
  }

  /** Removes every registration of `callback`; returns how many were removed. */
  removeDoneCallback(callback: DoneCallback<T>): number {
    const list = this._callbacks;
    if (list === null) return 0;
    const kept: unknown[] = [];
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] !== callback) kept.push(list[i], list[i + 1]);
    }
    const removed = (list.length - kept.length) / 2;
    this._callbacks = kept.length === 0 ? null : kept;
    return removed;
  }

  _addCallback(callback: DoneCallback<T> | typeof WAKE_TASK, context: Context | Wakeable): void {
    if (this._state !== FutureState.PENDING) {
      this._scheduleCallback(callback, context);
    } else if (this._callbacks === null) {
      this._callbacks = [callback, context];
    } else {
      this._callbacks.push(callback, context);
    }
  }

  _scheduleCallbacks(): void {
    const list = this._callbacks;
    if (list === null) return;
    this._callbacks = null;
    for (let i = 0; i < list.length; i += 2) this._scheduleCallback(list[i], list[i + 1]);
  }

  private _scheduleCallback(callback: unknown, context: unknown): void {
    if (callback === WAKE_TASK) (context as Wakeable)._scheduleWakeup();
    else this._loop._callSoonInContext(context as Context, callback as Callback<unknown[]>, [this]);
  }

  _retrieved(): void {
    if (this._logTraceback) {
      this._logTraceback = false;
      neverRetrieved.unregister(this);
    }
  }

  _makeCancelledError(): CancelledError {
    if (this._cancelledExc === null) this._cancelledExc = new CancelledError(this._cancelMessage ?? "");
    return this._cancelledExc;
  }

  /**
   * Settles like a Promise once the future is done. Awaiting a future in a
   * native async function also tells its task what it waits for, so that
   * cancelling the task cancels this future.
   */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const awaiter = currentNativeOwner();
    if (awaiter !== undefined) {
      if ((awaiter as unknown) === this) {
        return Promise.reject(new RuntimeError(`Task cannot await on itself: ${this}`)).then(onfulfilled, onrejected);
      }
      if (awaiter._loop !== this._loop) {
        // As Task.__step refuses it: that loop will never run while this task's loop does.
        const error = new RuntimeError(`Task ${awaiter} got Future ${this} attached to a different loop`);
        return Promise.reject(error).then(onfulfilled, onrejected);
      }
      awaiter._awaitFuture(this);
    }
    return this._asPromise().then(onfulfilled, onrejected);
  }

  /** One Promise per future, settled by a done callback, shared by everything that awaits it. */
  private _asPromise(): Promise<T> {
    if (this._promise !== null) return this._promise;
    if (this._state !== FutureState.PENDING) {
      // Already done: settle now, without the loop (awaiting a done future does not suspend, and its loop may be closed).
      this._promise = new Promise<T>((resolve, reject) => this._settle(resolve, reject));
    } else {
      this._promise = new Promise<T>((resolve, reject) => {
        this._addCallback(() => {
          _markNativeWakeup();
          this._settle(resolve, reject);
        }, INTERNAL_CONTEXT);
      });
    }
    return this._promise;
  }

  private _settle(resolve: (value: T) => void, reject: (error: unknown) => void): void {
    if (this._state === FutureState.CANCELLED) reject(this._makeCancelledError());
    else if (this._hasException) {
      this._retrieved();
      reject(this._exception);
    } else resolve(this._result as T);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onfinally);
  }

  [Symbol.iterator](): Generator<unknown, T, unknown> {
    return new FutureIterator(this).asCoroutine();
  }

  protected _reprInfo(): string[] {
    const info = [STATE_NAMES[this._state].toLowerCase()];
    if (this._state === FutureState.FINISHED) {
      if (this._hasException) info.push(`exception=${errorRepr(this._exception)}`);
      else info.push(`result=${shortRepr(this._result)}`);
    }
    if (this._callbacks !== null) {
      const names: string[] = [];
      for (let i = 0; i < this._callbacks.length; i += 2) {
        const callback = this._callbacks[i];
        names.push(callback === WAKE_TASK ? "Task._wakeup" : callbackName(callback));
      }
      info.push(`cb=[${names.join(", ")}]`);
    }
    return info;
  }

  toString(): string {
    return `<${this.constructor.name} ${this._reprInfo().join(" ")}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * Base of the coroutines written by hand instead of as generators (a
 * generator object and its frame cost several times the memory, and tasks
 * blocked on the loop's primitives hold one each). `yield*` needs `next`,
 * `throw` and `return`; a subclass writes `next`, and overrides `throw` and
 * `return` when ending early needs cleanup. `asCoroutine()` gives it the
 * `Coroutine` type it stands in for.
 */
export abstract class HandWrittenCoroutine<T> {
  abstract next(): IteratorResult<unknown, T>;

  throw(error: unknown): IteratorResult<unknown, T> {
    throw error;
  }

  return(value: T): IteratorResult<unknown, T> {
    return { value, done: true };
  }

  [Symbol.iterator](): this {
    return this;
  }

  asCoroutine(): Coroutine<T> {
    return this as unknown as Coroutine<T>;
  }
}

/**
 * What `yield* future` delegates to (Python's `Future.__iter__`): yields
 * the future once, marked as awaited, then returns its result. Written by
 * hand because a generator object costs twice the memory, and a task
 * blocked on a future holds one of these.
 */
class FutureIterator<T> extends HandWrittenCoroutine<T> {
  private _yielded = false;

  constructor(private readonly _future: Future<T>) {
    super();
  }

  next(): IteratorResult<unknown, T> {
    const future = this._future;
    if (future._state === FutureState.PENDING) {
      if (this._yielded) throw new RuntimeError(`await wasn't used with future ${future}`);
      this._yielded = true;
      future._blocking = true;
      return { value: future, done: false };
    }
    return { value: future.result(), done: true };
  }
}

/** Whether `value` is an asyncio future (a `Future`, a `Task`, or a subclass). */
export function isFuture(value: unknown): value is Future<unknown> {
  return value instanceof Future;
}

/** Sets `result` on `future` unless it was cancelled meanwhile. */
export function _setResultUnlessCancelled<T>(future: Future<T>, result: T): void {
  if (future._state === FutureState.PENDING) future.setResult(result);
}

/**
 * An asyncio future of this loop for `future` (Python's `asyncio.wrap_future`):
 * a `Future` is returned as it is; a `ConcurrentFuture` (an executor's job,
 * `runCoroutineThreadsafe`) is followed, and cancelling the new future
 * cancels it; any other `PromiseLike` is followed. Completion from outside
 * the loop goes through `callSoonThreadsafe`, so it wakes an idle loop.
 */
export function wrapFuture<T>(future: PromiseLike<T>, options?: { loop?: AbstractEventLoop }): Future<T> {
  if (isFuture(future)) return future as Future<T>;
  if (future === null || typeof (future as { then?: unknown }).then !== "function") {
    throw new TypeError(`wrapFuture() needs a ConcurrentFuture or a PromiseLike, not ${shortRepr(future)}`);
  }
  const loop = options?.loop ?? getEventLoop();
  const destination = loop.createFuture<T>();
  if (future instanceof ConcurrentFuture) _chainConcurrentFuture(future as ConcurrentFuture<T>, destination);
  else _followThenable(future, destination);
  return destination;
}

/** Copies `source`'s outcome into `destination` through its loop, unless `destination` is done (cancelled) by then. */
function copyOutcome<T>(destination: Future<T>, apply: () => void): void {
  const loop = destination._loop;
  if (destination.done() || loop.isClosed()) return;
  loop.callSoonThreadsafe(() => {
    if (!destination.done()) apply();
  });
}

/**
 * Settles `destination` as the thenable `source` settles, unless it is done
 * (cancelled) or its loop closed by then; `ensureFuture(promise)` and
 * `wrapFuture` follow Promises this way. Settling from a Node callback wakes
 * an idle loop (its done callbacks go through `callSoon`).
 */
export function _followThenable<T>(source: PromiseLike<T>, destination: Future<T>): void {
  const settleIfOpen = (apply: () => void): void => {
    if (!destination.done() && !destination._loop.isClosed()) apply();
  };
  source.then(
    (value) => settleIfOpen(() => destination.setResult(value)),
    (error: unknown) => settleIfOpen(() => destination.setException(error)),
  );
}

/**
 * Links a concurrent future to an asyncio future (CPython's
 * `futures._chain_future`). Cancelling `destination` cancels a job that has
 * not started; one that runs cannot be stopped: it is abandoned (its
 * outcome will be dropped) and a warning says so.
 */
export function _chainConcurrentFuture<T>(source: ConcurrentFuture<T>, destination: Future<T>): void {
  destination.addDoneCallback(() => {
    if (!destination.cancelled() || source.done()) return;
    if (!source.cancel() && source.running()) {
      logger.warn(`${source} was cancelled while running: it goes on in its worker until it returns, and its outcome is dropped`);
    }
  });
  source.addDoneCallback(() => {
    copyOutcome(destination, () => {
      if (source.cancelled()) destination.cancel();
      else {
        const exception = source.exception();
        if (exception !== null) destination.setException(exception);
        else destination.setResult(source.result());
      }
    });
  });
}
