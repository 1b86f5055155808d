/**
 * Functions that combine awaitables: `gather`, `wait`, `waitFor`,
 * `asCompleted`, `shield`, and the constants `FIRST_COMPLETED`,
 * `FIRST_EXCEPTION`, `ALL_COMPLETED`. CPython keeps these in `tasks.py`;
 * here they have their own module, so that `tasks.ts` holds the Task
 * machinery only.
 *
 * Each accepts `AwaitableLike` values (API.md, section 2): a future or task
 * is used as is, a coroutine or a function starting one becomes a task
 * (`ensureFuture`), a foreign Promise becomes a future that follows it.
 * What they return is usable with `await` and with `yield*`.
 */
import { Coro, isCoroutine, isGeneratorObject } from "./coroutines.js";
import type { AbstractEventLoop, TimerHandle } from "./events.js";
import { getEventLoop, getRunningLoop, shortRepr } from "./events.js";
import { CancelledError, TimeoutError, ValueError } from "./exceptions.js";
import type { Awaitable, Coroutine } from "./futures.js";
import { Future, INTERNAL_CONTEXT, isFuture } from "./futures.js";
import type { AwaitableLike } from "./tasks.js";
import { ensureFuture, Task } from "./tasks.js";
import { timeout as timeoutScope } from "./timeouts.js";

/** `wait()` returns when any future finishes or is cancelled. */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/** `wait()` returns when any future finishes by raising (or when all are done). */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/** `wait()` returns when all futures are done. */
export const ALL_COMPLETED = "ALL_COMPLETED";
/** When `wait()` returns. */
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

/**
 * What awaiting `A` gives: the result of an awaitable or Promise, the return
 * value of a generator coroutine, or that of what a function starts.
 */
export type AwaitedOf<A> =
  A extends PromiseLike<infer T>
    ? T
    : A extends Generator<unknown, infer T, unknown>
      ? T
      : A extends () => infer R
        ? AwaitedOf<R>
        : never;

/** The results of `gather(...aws)`, in argument order. */
export type GatherResults<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedOf<A[K]> };
/** The results of `gather(...aws, { returnExceptions: true })`: each a result or what was thrown. */
export type GatherSettledResults<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedOf<A[K]> | Error };

/** Options of `gather`. */
export interface GatherOptions {
  /** Put errors (and `CancelledError` of cancelled children) among the results instead of failing. */
  returnExceptions?: boolean;
}

/** Options of `wait`. */
export interface WaitOptions {
  /** Seconds to wait at most (`null`/omitted: no limit); on timeout nothing is cancelled. */
  timeout?: number | null;
  /** `FIRST_COMPLETED`, `FIRST_EXCEPTION` or `ALL_COMPLETED` (the default). */
  returnWhen?: ReturnWhen;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** A trailing options object: a plain object, not an awaitable. */
function isPlainOptions(value: unknown): value is GatherOptions {
  if (typeof value !== "object" || value === null || isThenable(value) || isCoroutine(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkTimeout(value: unknown, where: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "number")
    throw new TypeError(`${where} timeout must be a number of seconds or null, not ${shortRepr(value)}`);
  if (Number.isNaN(value)) throw new ValueError(`${where} timeout is NaN`);
  return value;
}

// ---- gather ---------------------------------------------------------------

/**
 * The future `gather` returns: cancelling it cancels every child not done
 * yet (Python's `_GatheringFuture`).
 */
class GatheringFuture<T> extends Future<T> {
  /** Set when `cancel()` reached a child: the gather then ends cancelled whatever the children do. */
  _cancelRequested = false;

  constructor(
    readonly _children: Future<unknown>[],
    loop: AbstractEventLoop,
  ) {
    super({ loop });
  }

  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    let cancelled = false;
    for (const child of this._children) {
      if (child.cancel(msg)) cancelled = true;
    }
    if (cancelled) this._cancelRequested = true;
    return cancelled;
  }
}

/**
 * Runs the awaitables concurrently and resolves to their results, in
 * argument order. The first error (or cancelled child) fails the gather at
 * once, the other children going on; with `{ returnExceptions: true }`
 * errors are results. Cancelling the gather cancels the children.
 * Duplicates are awaited once.
 *
 * @example
 * const [a, b] = await asyncio.gather(fetchA, asyncio.sleep(1, "b"));
 * const settled = await asyncio.gather(job1, job2, { returnExceptions: true });
 */
export function gather<A extends readonly AwaitableLike<unknown>[]>(...aws: A): Future<GatherResults<A>>;
export function gather<A extends readonly AwaitableLike<unknown>[]>(
  ...args: [...A, GatherOptions & { returnExceptions?: false }]
): Future<GatherResults<A>>;
export function gather<A extends readonly AwaitableLike<unknown>[]>(
  ...args: [...A, { returnExceptions: true }]
): Future<GatherSettledResults<A>>;
export function gather<A extends readonly AwaitableLike<unknown>[]>(
  ...args: [...A, GatherOptions]
): Future<GatherSettledResults<A>>;
export function gather(...args: unknown[]): Future<unknown[]> {
  let returnExceptions = false;
  if (args.length > 0 && isPlainOptions(args[args.length - 1])) {
    returnExceptions = (args.pop() as GatherOptions).returnExceptions === true;
  }
  if (args.length === 0) {
    const outer = getEventLoop().createFuture<unknown[]>();
    outer.setResult([]);
    return outer;
  }
  return gatherFutures(args as AwaitableLike<unknown>[], returnExceptions);
}

function gatherFutures(aws: AwaitableLike<unknown>[], returnExceptions: boolean): Future<unknown[]> {
  const argToFut = new Map<unknown, Future<unknown>>();
  const children: Future<unknown>[] = [];
  const doneFuts: Future<unknown>[] = [];
  let loop: AbstractEventLoop | undefined;
  let outer: GatheringFuture<unknown[]> | null = null;
  let nfinished = 0;

  const onChildDone = (fut: Future<unknown>): void => {
    nfinished += 1;
    if (outer === null || outer.done()) {
      if (!fut.cancelled()) fut.exception(); // Marks the error as retrieved.
      return;
    }
    if (!returnExceptions) {
      if (fut.cancelled()) {
        outer.setException(fut._makeCancelledError());
        return;
      }
      const exception = fut.exception();
      if (fut._hasException) {
        outer.setException(exception);
        return;
      }
    }
    if (nfinished === argToFut.size) finish(outer);
  };

  const finish = (gathering: GatheringFuture<unknown[]>): void => {
    const results = children.map((fut) => {
      if (fut.cancelled()) return new CancelledError(fut._cancelMessage ?? "");
      const exception = fut.exception();
      return fut._hasException ? exception : fut.result();
    });
    if (gathering._cancelRequested) {
      gathering.setException((children[children.length - 1] as Future<unknown>)._makeCancelledError());
    } else {
      gathering.setResult(results);
    }
  };

  for (const aw of aws) {
    let fut = argToFut.get(aw);
    if (fut === undefined) {
      fut = ensureFuture(aw, loop === undefined ? undefined : { loop });
      loop ??= fut.getLoop();
      if (fut !== aw && fut instanceof Task) fut._logDestroyPending = false;
      argToFut.set(aw, fut);
      if (fut.done()) doneFuts.push(fut);
      // Internal callback: it needs no context of its own (spares a context copy per child).
      else fut._addCallback(onChildDone, INTERNAL_CONTEXT);
    }
    children.push(fut);
  }
  outer = new GatheringFuture<unknown[]>(children, loop as AbstractEventLoop);
  for (const fut of doneFuts) onChildDone(fut);
  return outer;
}

// ---- wait -----------------------------------------------------------------

/**
 * Waits for the futures until `returnWhen` says so or `timeout` seconds
 * pass, and resolves to `[done, pending]`. Nothing is cancelled. Bare
 * coroutines are refused (pass tasks, so that you can find them in the
 * sets); an empty collection is a `ValueError`.
 *
 * @example
 * const [done, pending] = await asyncio.wait([t1, t2], { returnWhen: asyncio.FIRST_COMPLETED });
 */
export function wait<A extends AwaitableLike<unknown>>(
  aws: Iterable<A>,
  options: WaitOptions = {},
): Coro<[Set<Future<AwaitedOf<A>>>, Set<Future<AwaitedOf<A>>>]> {
  return new Coro(() => waitCoroutine(aws, options) as Coroutine<[Set<Future<AwaitedOf<A>>>, Set<Future<AwaitedOf<A>>>]>, "wait");
}

function* waitCoroutine(
  aws: Iterable<AwaitableLike<unknown>>,
  options: WaitOptions,
): Coroutine<[Set<Future<unknown>>, Set<Future<unknown>>]> {
  if (isFuture(aws) || isCoroutine(aws) || typeof (aws as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new TypeError(`wait() expects an iterable of futures, not ${shortRepr(aws)}`);
  }
  const distinct = new Set(aws);
  if (distinct.size === 0) throw new ValueError("Set of Tasks/Futures is empty.");
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new ValueError(`Invalid returnWhen value: ${shortRepr(returnWhen)}`);
  }
  const timeout = checkTimeout(options.timeout, "wait()");
  for (const aw of distinct) {
    if (isCoroutine(aw)) throw new TypeError("Passing coroutines is forbidden, use tasks explicitly.");
  }
  const loop = getRunningLoop();
  const fs = new Set<Future<unknown>>();
  for (const aw of distinct) fs.add(ensureFuture(aw, { loop }));
  return yield* waitFutures(fs, timeout, returnWhen, loop);
}

/** Whether `f` finished with an error (retrieving it, as `f.exception()` does). */
function failed(f: Future<unknown>): boolean {
  if (f.cancelled()) return false;
  f.exception();
  return f._hasException;
}

function releaseWaiter(waiter: Future<unknown>): void {
  if (!waiter.done()) waiter.setResult(null);
}

function* waitFutures(
  fs: Set<Future<unknown>>,
  timeout: number | null,
  returnWhen: ReturnWhen,
  loop: AbstractEventLoop,
): Coroutine<[Set<Future<unknown>>, Set<Future<unknown>>]> {
  const waiter = loop.createFuture<null>();
  const timeoutHandle: TimerHandle | null = timeout === null ? null : loop.callLater(timeout, releaseWaiter, waiter);
  let counter = fs.size;
  const onCompletion = (f: Future<unknown>): void => {
    counter -= 1;
    if (counter <= 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failed(f))) {
      timeoutHandle?.cancel();
      releaseWaiter(waiter);
    }
  };
  for (const f of fs) f.addDoneCallback(onCompletion);
  try {
    yield* waiter;
  } finally {
    timeoutHandle?.cancel();
    for (const f of fs) f.removeDoneCallback(onCompletion);
  }
  const done = new Set<Future<unknown>>();
  const pending = new Set<Future<unknown>>();
  for (const f of fs) (f.done() ? done : pending).add(f);
  return [done, pending];
}

// ---- waitFor --------------------------------------------------------------

/**
 * Waits for `aw` at most `timeout` seconds (`null`: no limit). On timeout,
 * `aw` is cancelled and awaited until it is done, then `TimeoutError` is
 * thrown; if it returns a value despite the cancellation, that value is
 * returned. Cancelling the caller cancels `aw`. A coroutine runs in the
 * caller's task, as in Python (built on `timeout()`, as 3.12+ is).
 *
 * @example
 * const body = await asyncio.waitFor(fetchPage, 5);
 */
export function waitFor<A extends AwaitableLike<unknown>>(aw: A, timeout: number | null | undefined): Coro<AwaitedOf<A>> {
  const delay = checkTimeout(timeout, "waitFor()");
  return new Coro(() => waitForCoroutine(aw as AwaitableLike<AwaitedOf<A>>, delay), "waitFor");
}

function* waitForCoroutine<T>(aw: AwaitableLike<T>, delay: number | null): Coroutine<T> {
  const loop = getRunningLoop();
  if (delay !== null && delay <= 0) {
    // No time at all: a future already done gives its result; anything else is cancelled (a coroutine never starts).
    const fut = ensureFuture(aw, { loop });
    if (fut.done()) return fut.result();
    yield* cancelAndWait(fut, loop);
    try {
      return fut.result();
    } catch (error) {
      if (error instanceof CancelledError) throw withCause(new TimeoutError("waitFor() timed out (timeout <= 0)"), error);
      throw error;
    }
  }
  return yield* timeoutScope(delay, inlineBody(aw, loop));
}

/** The body that awaits `aw` inside the caller's task: coroutines run inline, other awaitables through a future. */
function inlineBody<T>(aw: AwaitableLike<T>, loop: AbstractEventLoop): () => Coroutine<T> | Awaitable<T> | PromiseLike<T> {
  if (aw instanceof Future || aw instanceof Coro || isGeneratorObject(aw)) return () => aw as Awaitable<T>;
  if (typeof aw === "function") return () => (aw as () => Awaitable<T> | PromiseLike<T> | Coroutine<T>)();
  return () => ensureFuture(aw, { loop });
}

function withCause<E extends Error>(error: E, cause: unknown): E {
  Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true, enumerable: false });
  return error;
}

function* cancelAndWait(fut: Future<unknown>, loop: AbstractEventLoop): Coroutine<void> {
  const waiter = loop.createFuture<null>();
  const release = (): void => releaseWaiter(waiter);
  fut.addDoneCallback(release);
  try {
    fut.cancel();
    yield* waiter;
  } finally {
    fut.removeDoneCallback(release);
  }
}

// ---- asCompleted ----------------------------------------------------------

/**
 * A finished future as `for await` over `asCompleted()` gives it: the
 * `Future` itself, typed without `then`/`catch`/`finally`. TypeScript
 * assumes that `for await` unwraps thenables, which it does not do for an
 * async iterator, so with `then` in its type the loop variable would be
 * typed as the result; read it with `result()` or `exception()`.
 *
 * TypeScript 5.9 caches how a type iterates: once a program iterates an
 * `AsCompletedIterator<T>` with plain `for...of`, it types `for await` over
 * the same `T` from the plain iterator too (the loop variable becomes `T`).
 * Where that happens, cast the iterator:
 * `for await (const f of asCompleted(aws) as AsyncIterable<FinishedFuture<T>>)`.
 */
export type FinishedFuture<T> = Omit<Future<T>, "then" | "catch" | "finally">;

/**
 * What `asCompleted` returns (Python 3.13's `_AsCompletedIterator`):
 * iterated plainly, it gives awaitables, each resolving to the result (or
 * throwing the error) of the next future to finish; with `for await`, it
 * gives the finished futures themselves, in completion order. Both throw
 * `TimeoutError` once the timeout passes.
 */
export class AsCompletedIterator<T> implements Iterable<Coro<T>>, AsyncIterable<FinishedFuture<T>> {
  /** The futures not done yet; cleared on timeout. */
  private readonly _todo: Set<Future<T>>;
  /** How many more items the iterators give. */
  private _todoLeft: number;
  /** Finished futures in completion order; `null` marks the timeout. */
  private readonly _done: (Future<T> | null)[] = [];
  /** Iterations waiting for `_done` to be non-empty, first come first served. */
  private readonly _getters: Future<null>[] = [];
  private _timeoutHandle: TimerHandle | null = null;
  private readonly _loop: AbstractEventLoop;
  private readonly _onCompletion = (f: Future<unknown>): void => this._handleCompletion(f as Future<T>);

  constructor(aws: Iterable<AwaitableLike<T>>, timeout: number | null) {
    this._loop = getEventLoop();
    this._todo = new Set();
    for (const aw of new Set(aws)) this._todo.add(ensureFuture(aw, { loop: this._loop }));
    for (const f of this._todo) f.addDoneCallback(this._onCompletion);
    if (this._todo.size > 0 && timeout !== null) {
      this._timeoutHandle = this._loop.callLater(timeout, () => this._handleTimeout());
    }
    this._todoLeft = this._todo.size;
  }

  [Symbol.iterator](): Iterator<Coro<T>> {
    return {
      next: (): IteratorResult<Coro<T>> => {
        if (this._todoLeft === 0) return { value: undefined, done: true };
        this._todoLeft -= 1;
        return { value: new Coro(() => this._waitForOne(true) as Coroutine<T>, "asCompleted"), done: false };
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<FinishedFuture<T>> {
    return {
      next: (): Promise<IteratorResult<FinishedFuture<T>>> => {
        if (this._todoLeft === 0) return Promise.resolve({ value: undefined, done: true });
        this._todoLeft -= 1;
        // The future travels in a box: a Promise resolved with a future would adopt its result.
        const one = new Coro(() => this._waitForOne(false) as Coroutine<{ future: Future<T> }>, "asCompleted");
        return one.then((box) => ({ value: box.future, done: false }));
      },
    };
  }

  private _handleTimeout(): void {
    for (const f of this._todo) {
      f.removeDoneCallback(this._onCompletion);
      this._put(null);
    }
    this._todo.clear();
  }

  private _handleCompletion(f: Future<T>): void {
    if (this._todo.size === 0) return; // The timeout came first.
    this._todo.delete(f);
    this._put(f);
    if (this._todo.size === 0) this._timeoutHandle?.cancel();
  }

  private _put(item: Future<T> | null): void {
    this._done.push(item);
    this._wakeNext();
  }

  private _wakeNext(): void {
    while (this._getters.length > 0) {
      const getter = this._getters.shift() as Future<null>;
      if (!getter.done()) {
        getter.setResult(null);
        return;
      }
    }
  }

  /** The next finished future (Python's `Queue.get`, cancellation-safe: a wake-up is never lost). */
  private *_get(): Coroutine<Future<T> | null> {
    while (this._done.length === 0) {
      const getter = this._loop.createFuture<null>();
      this._getters.push(getter);
      try {
        yield* getter;
      } catch (error) {
        getter.cancel();
        const index = this._getters.indexOf(getter);
        if (index >= 0) this._getters.splice(index, 1);
        if (this._done.length > 0 && !getter.cancelled()) this._wakeNext();
        throw error;
      }
    }
    return this._done.shift() as Future<T> | null;
  }

  private *_waitForOne(resolve: boolean): Coroutine<T | { future: Future<T> }> {
    const f = yield* this._get();
    if (f === null) throw new TimeoutError("asCompleted() timed out");
    return resolve ? f.result() : { future: f };
  }
}

/**
 * The awaitables in the order they finish. Iterate plainly for awaitables
 * giving each result in turn, or with `for await` for the finished futures
 * (typed as `FinishedFuture`, see there).
 *
 * @example
 * for await (const fut of asyncio.asCompleted([t1, t2, t3])) console.log(fut.result());
 * for (const next of asyncio.asCompleted(tasks, { timeout: 5 })) {
 *   const result = yield* next; // in a generator coroutine
 * }
 */
export function asCompleted<A extends AwaitableLike<unknown>>(
  aws: Iterable<A>,
  options: { timeout?: number | null } = {},
): AsCompletedIterator<AwaitedOf<A>> {
  if (isFuture(aws) || isCoroutine(aws) || typeof (aws as Iterable<unknown>)?.[Symbol.iterator] !== "function") {
    throw new TypeError(`asCompleted() expects an iterable of futures, not ${shortRepr(aws)}`);
  }
  const timeout = checkTimeout(options.timeout, "asCompleted()");
  return new AsCompletedIterator(aws as Iterable<AwaitableLike<AwaitedOf<A>>>, timeout);
}

// ---- shield ---------------------------------------------------------------

/**
 * Protects `aw` from cancellation: cancelling what `shield` returns (or
 * the task awaiting it) does not cancel `aw`, which goes on. Its result or
 * error is then consumed, so an error is not reported as never retrieved.
 *
 * @example
 * const result = await asyncio.shield(saveToDisk); // the save completes even if we are cancelled
 */
export function shield<A extends AwaitableLike<unknown>>(aw: A): Future<AwaitedOf<A>> {
  const inner = ensureFuture(aw as AwaitableLike<AwaitedOf<A>>);
  if (inner.done()) return inner;
  const outer = inner.getLoop().createFuture<AwaitedOf<A>>();
  // Unlike CPython, this stays registered after the outer is cancelled, to retrieve the inner's outcome.
  inner.addDoneCallback(() => {
    if (outer.cancelled()) {
      if (!inner.cancelled()) inner.exception();
      return;
    }
    if (inner.cancelled()) {
      outer.cancel();
      return;
    }
    const exception = inner.exception();
    if (inner._hasException) outer.setException(exception);
    else outer.setResult(inner.result());
  });
  return outer;
}
