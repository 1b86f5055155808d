/**
 * What Python keeps in `concurrent.futures`, minus the pools themselves:
 * `ConcurrentFuture` (Python's `concurrent.futures.Future`: a result set by
 * code that runs outside the loop, such as a worker's reply or
 * `runCoroutineThreadsafe`), the abstract `Executor` with `submit`, `map`
 * and `shutdown`, the `BrokenExecutor` errors, and the shape of what an
 * executor can run (`ExecutorFunction`). The pools on worker threads and
 * child processes are Node code and live in `node/executors.ts`.
 *
 * JavaScript cannot block, so where Python's `result(timeout)` waits, this
 * future is awaited instead (it is a `PromiseLike`); `result()` and
 * `exception()` answer only once it is done.
 */
import { CancelledError, InvalidStateError, RuntimeError } from "./exceptions.js";
import { logger } from "./log.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** A reference to an exported function of an ES module: what a worker imports instead of receiving source. */
export interface FunctionRef {
  /** A module specifier: an absolute path, a `file:` URL (string or `URL`), a `node:` built-in or a package name. */
  module: string | URL;
  /** The name of the export, a function. */
  name: string;
}

/**
 * What an executor runs: a self-contained function (its source is sent to
 * the worker, its arguments and result are structured-cloned), or a
 * `FunctionRef` to an exported function.
 */
export type ExecutorFunction<A extends unknown[], T> = ((...args: A) => T) | FunctionRef;

/** Raised for the jobs of an executor whose worker could not start or died (Python's `concurrent.futures.BrokenExecutor`). */
export class BrokenExecutor extends RuntimeError {}

/** A worker thread of a `ThreadPoolExecutor` died while running the job (Python's `BrokenThreadPool`). */
export class BrokenThreadPool extends BrokenExecutor {}

/** A child process of a `ProcessPoolExecutor` died while running the job (Python's `BrokenProcessPool`). */
export class BrokenProcessPool extends BrokenExecutor {}

/** The states of a `ConcurrentFuture`, as `concurrent.futures` names them. */
export type ConcurrentFutureState = "PENDING" | "RUNNING" | "CANCELLED" | "FINISHED";

/**
 * A result computed outside the loop (Python's `concurrent.futures.Future`).
 * Done callbacks run at once, in whatever code completes the future (Python
 * runs them in the thread that sets the result); `await` it from plain
 * JavaScript, or turn it into an asyncio future with `wrapFuture()`.
 */
export class ConcurrentFuture<T = unknown> implements PromiseLike<T> {
  private _state: ConcurrentFutureState = "PENDING";
  private _result: T | undefined = undefined;
  private _exception: unknown = undefined;
  private _hasException = false;
  private _callbacks: ((future: ConcurrentFuture<T>) => unknown)[] = [];
  private _promise: Promise<T> | null = null;
  /** What runs, for reprs and messages (set by executors: the function's name). */
  _label: string | undefined = undefined;

  /** Cancels a future that has not started; `false` once it runs or is done. */
  cancel(): boolean {
    if (this._state === "RUNNING" || this._state === "FINISHED") return false;
    if (this._state === "CANCELLED") return true;
    this._state = "CANCELLED";
    this._invokeCallbacks();
    return true;
  }

  /** Whether the future was cancelled. */
  cancelled(): boolean {
    return this._state === "CANCELLED";
  }

  /** Whether the work is running (it can no longer be cancelled). */
  running(): boolean {
    return this._state === "RUNNING";
  }

  /** Whether the future is cancelled or finished. */
  done(): boolean {
    return this._state === "CANCELLED" || this._state === "FINISHED";
  }

  /** The state, for reprs and tests. */
  get state(): ConcurrentFutureState {
    return this._state;
  }

  /**
   * The result once done: throws the exception if one was set,
   * `CancelledError` if cancelled, `InvalidStateError` while pending
   * (Python's `result()` would block here: await the future instead).
   */
  result(): T {
    this._checkDone("result");
    if (this._hasException) throw this._exception;
    return this._result as T;
  }

  /** The exception once done, or `null`; `CancelledError` if cancelled, `InvalidStateError` while pending. */
  exception(): unknown {
    this._checkDone("exception");
    return this._hasException ? this._exception : null;
  }

  private _checkDone(what: string): void {
    if (this._state === "CANCELLED") throw new CancelledError();
    if (this._state !== "FINISHED") {
      throw new InvalidStateError(`${what}() of ${this} is not ready: JavaScript cannot block, await the future instead`);
    }
  }

  /** Calls `fn(future)` when the future is done (at once if it already is); errors are logged. */
  addDoneCallback(fn: (future: ConcurrentFuture<T>) => unknown): void {
    if (typeof fn !== "function") throw new TypeError(`a done callback must be a function, not ${typeof fn}`);
    if (this.done()) this._invoke(fn);
    else this._callbacks.push(fn);
  }

  /**
   * Marks the future running, or reports that it was cancelled (`false`):
   * what an executor calls before it starts the work (Python's
   * `set_running_or_notify_cancel`).
   */
  setRunningOrNotifyCancel(): boolean {
    if (this._state === "CANCELLED") return false;
    if (this._state !== "PENDING") throw new RuntimeError(`Future in unexpected state: ${this}`);
    this._state = "RUNNING";
    return true;
  }

  /** Finishes the future with `result` and runs the done callbacks; `InvalidStateError` if it is done. */
  setResult(result: T): void {
    this._checkSettable();
    this._result = result;
    this._state = "FINISHED";
    this._invokeCallbacks();
  }

  /** Finishes the future with `exception` and runs the done callbacks; `InvalidStateError` if it is done. */
  setException(exception: unknown): void {
    this._checkSettable();
    this._exception = exception;
    this._hasException = true;
    this._state = "FINISHED";
    this._invokeCallbacks();
  }

  private _checkSettable(): void {
    if (this.done()) throw new InvalidStateError(`${this._state}: ${this}`);
  }

  private _invokeCallbacks(): void {
    const callbacks = this._callbacks;
    this._callbacks = [];
    for (const fn of callbacks) this._invoke(fn);
  }

  private _invoke(fn: (future: ConcurrentFuture<T>) => unknown): void {
    try {
      fn(this);
    } catch (error) {
      logger.error(`exception calling callback for ${this}`, error);
    }
  }

  /** Settles like a Promise once done (a cancelled future rejects with `CancelledError`). */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this._promise ??= new Promise<T>((resolve, reject) => {
      this.addDoneCallback(() => {
        if (this._state === "CANCELLED") reject(new CancelledError());
        else if (this._hasException) reject(this._exception);
        else resolve(this._result as T);
      });
    });
    return this._promise.then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onfinally);
  }

  toString(): string {
    const label = this._label === undefined ? "" : ` ${this._label}`;
    if (this._state !== "FINISHED") return `<ConcurrentFuture${label} state=${this._state.toLowerCase()}>`;
    if (this._hasException) {
      const error = this._exception;
      return `<ConcurrentFuture${label} state=finished raised ${error instanceof Error ? error.constructor.name : typeof error}>`;
    }
    const result = this._result;
    const kind = result === null ? "null" : typeof result === "object" ? result.constructor?.name : typeof result;
    return `<ConcurrentFuture${label} state=finished returned ${kind}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** Options of `Executor.shutdown`. */
export interface ShutdownOptions {
  /** Resolve only once every submitted job has finished and the workers have stopped (default `true`). */
  wait?: boolean;
  /** Cancel the jobs that have not started (default `false`). */
  cancelFutures?: boolean;
}

/** The result type of an `ExecutorFunction`. */
export type ExecutorResult<F> = F extends (...args: never[]) => infer R ? Awaited<R> : unknown;

/**
 * An object that runs calls elsewhere (Python's `concurrent.futures.Executor`).
 * `await using pool = new ThreadPoolExecutor()` shuts it down, waiting,
 * at the end of the block.
 */
export abstract class Executor implements AsyncDisposable {
  /** Schedules `fn(...args)` and returns a future of its result. */
  abstract submit<A extends unknown[], T>(fn: ExecutorFunction<A, T>, ...args: A): ConcurrentFuture<Awaited<T>>;

  /**
   * Stops taking jobs. Resolves once the jobs and workers are finished
   * (`wait`, the default) or at once; with `cancelFutures` the jobs that
   * have not started are cancelled.
   */
  abstract shutdown(options?: ShutdownOptions): Promise<void>;

  /**
   * Runs `fn` on every item of `iterable` (all submitted at once) and
   * yields the results in order; a job's exception is raised when its
   * result is reached. Leaving the loop early cancels the jobs not started.
   */
  map<X, T>(fn: ExecutorFunction<[X], T>, iterable: Iterable<X>): AsyncIterableIterator<Awaited<T>> {
    const futures = Array.from(iterable, (item) => this.submit(fn, item));
    return mapResults(futures);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown({ wait: true });
  }
}

async function* mapResults<T>(futures: ConcurrentFuture<T>[]): AsyncIterableIterator<T> {
  let next = 0;
  try {
    for (; next < futures.length; next++) yield await (futures[next] as ConcurrentFuture<T>);
  } finally {
    for (let i = next; i < futures.length; i++) (futures[i] as ConcurrentFuture<T>).cancel();
  }
}
