/**
 * The one suspension mechanism of the synchronization primitives and the
 * queues: a fair first-in first-out line of waiter futures (CPython keeps a
 * `collections.deque` of futures in each primitive; Trio has one trap).
 * Every wait in `locks.ts` and `queues.ts` goes through `WaiterQueue.wait`,
 * so enqueueing, removal and what happens when a wait is abandoned are
 * written once:
 *
 * - a waiter is a future appended at the tail; it is woken by setting its
 *   result, which never runs anything inline (done callbacks go through the
 *   loop), so a primitive's state change and its wake-up are atomic;
 * - when the wait ends, however it ends, the waiter leaves the line (a
 *   cancelled waiter leaves no trace);
 * - when it ends by an exception (cancellation, a timeout), the primitive's
 *   `onAbandon(woken)` hook is told whether the waiter had already been
 *   woken, so that a wake-up it received but cannot use is passed on (no
 *   lost wake-ups).
 *
 * Also `LoopBound`, Python's `mixins._LoopBoundMixin`: a primitive binds to
 * the running loop the first time it has to wait; and `FastPathCoro`, the
 * coroutine objects the primitives return, which skip the machinery of
 * waiting when an operation completes at once.
 */
import type { Context } from "./contextvars.js";
import { copyContext } from "./contextvars.js";
import { Coro } from "./coroutines.js";
import type { AbstractEventLoop, Runnable } from "./events.js";
import { getRunningLoop } from "./events.js";
import { CancelledError, RuntimeError } from "./exceptions.js";
import type { Coroutine, Future, Wakeable } from "./futures.js";
import { HandWrittenCoroutine, WAKE_TASK } from "./futures.js";
import { _markNativeWakeup, currentNativeOwner } from "./native_scope.js";
import type { Task } from "./tasks.js";
import { _driveInline, _settleThen, type ThenCallback } from "./tasks.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** One place in a line. */
class WaiterNode<T> {
  prev: WaiterNode<T> | null = null;
  next: WaiterNode<T> | null = null;
  /** Invariant: true exactly while the node is linked into its line. */
  queued = true;

  constructor(readonly future: Future<T>) {}
}

/**
 * A fair FIFO line of waiter futures with O(1) append and removal.
 * Invariant: `size` is the number of linked nodes; a node is linked from
 * the moment its wait starts until the wait ends or a `pop*` method takes
 * it out (queues pop a waiter as they wake it; locks leave a woken waiter in
 * line until it runs, so that newcomers still queue behind it).
 */
export class WaiterQueue<T> {
  private _head: WaiterNode<T> | null = null;
  private _tail: WaiterNode<T> | null = null;
  private _size = 0;

  /** How many waiters are in line (woken or cancelled ones that have not run yet included). */
  get size(): number {
    return this._size;
  }

  /** The futures in line, first to last. */
  *[Symbol.iterator](): Generator<Future<T>, void, undefined> {
    for (let node = this._head; node !== null; node = node.next) yield node.future;
  }

  /**
   * Waits in line on a new future of `loop` and returns the value it is
   * woken with. The waiter leaves the line when the wait ends. If the wait
   * ends by an exception, `onAbandon(woken)` runs first, `woken` telling
   * whether a wake-up had been delivered to this waiter (and is now unused).
   */
  wait(loop: AbstractEventLoop, onAbandon?: (woken: boolean) => void): Coroutine<T> {
    return new WaitInLine(this, loop, onAbandon ?? null).asCoroutine();
  }

  /** Whether every waiter in line is cancelled (true when the line is empty). */
  allCancelled(): boolean {
    for (let node = this._head; node !== null; node = node.next) {
      if (!node.future.cancelled()) return false;
    }
    return true;
  }

  /** Wakes the first waiter unless it is already done; it stays in line until it runs (Lock's `_wake_up_first`). */
  wakeFirst(value: T): void {
    const head = this._head;
    if (head !== null && !head.future.done()) head.future.setResult(value);
  }

  /** Wakes the first waiter that is not done, leaving it in line; false if there was none. */
  wakeNext(value: T): boolean {
    for (let node = this._head; node !== null; node = node.next) {
      if (!node.future.done()) {
        node.future.setResult(value);
        return true;
      }
    }
    return false;
  }

  /** Wakes up to `n` waiters that are not done, in order, leaving them in line; returns how many. */
  wakeUpTo(n: number, value: T): number {
    let woken = 0;
    for (let node = this._head; node !== null && woken < n; node = node.next) {
      if (!node.future.done()) {
        node.future.setResult(value);
        woken += 1;
      }
    }
    return woken;
  }

  /** Takes waiters off the front until one that is not done, and wakes it; false if there was none (a Queue's `_wakeup_next`). */
  popAndWake(value: T): boolean {
    for (let node = this._head; node !== null; node = this._head) {
      this._unlink(node);
      if (!node.future.done()) {
        node.future.setResult(value);
        return true;
      }
    }
    return false;
  }

  /** Empties the line, waking every waiter that is not done. */
  popAllAndWake(value: T): void {
    while (this.popAndWake(value)) {
      // Keep waking until the line is empty.
    }
  }

  _append(future: Future<T>): WaiterNode<T> {
    const node = new WaiterNode(future);
    const tail = this._tail;
    node.prev = tail;
    if (tail === null) this._head = node;
    else tail.next = node;
    this._tail = node;
    this._size += 1;
    return node;
  }

  _unlink(node: WaiterNode<T>): void {
    if (!node.queued) return;
    node.queued = false;
    const { prev, next } = node;
    if (prev === null) this._head = next;
    else prev.next = next;
    if (next === null) this._tail = prev;
    else next.prev = prev;
    node.prev = null;
    node.next = null;
    this._size -= 1;
  }

  toString(): string {
    return `<WaiterQueue size=${this._size}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * One wait in a line: what `WaiterQueue.wait` returns and `yield*`
 * delegates to. Written by hand rather than as a generator because a task
 * blocked on a primitive holds one, and a generator object with its frame
 * costs several times the memory. The first `next()` appends a new future
 * and yields it to the task; the next `next()` (the future is done) leaves
 * the line and returns the future's result. However the wait ends other
 * than by a result (the future cancelled or failed, `throw()` from a
 * cancelled task, `return()`), the waiter leaves the line, a pending
 * future is cancelled, and `onAbandon(woken)` is told whether a wake-up
 * had been delivered.
 */
class WaitInLine<T> extends HandWrittenCoroutine<T> {
  private _node: WaiterNode<T> | null = null;
  /** Set once the wait has ended, however it ended. */
  private _ended = false;

  constructor(
    private readonly _line: WaiterQueue<T>,
    private readonly _loop: AbstractEventLoop,
    private readonly _onAbandon: ((woken: boolean) => void) | null,
  ) {
    super();
  }

  next(): IteratorResult<unknown, T> {
    const node = this._node;
    if (this._ended) return { value: undefined as T, done: true };
    if (node === null) {
      const future = this._loop.createFuture<T>();
      this._node = this._line._append(future);
      future._blocking = true;
      return { value: future, done: false };
    }
    const future = node.future;
    if (!future.done()) {
      this._abandon();
      throw new RuntimeError(`await wasn't used with future ${future}`);
    }
    if (future.cancelled() || future._hasException) {
      this._abandon();
      return { value: future.result(), done: true }; // result() throws the cancellation or the error
    }
    this._ended = true;
    this._line._unlink(node);
    return { value: future.result(), done: true };
  }

  override throw(error: unknown): never {
    this._abandon();
    throw error;
  }

  override return(value: T): IteratorResult<unknown, T> {
    this._abandon();
    return { value, done: true };
  }

  private _abandon(): void {
    const node = this._node;
    if (node === null || this._ended) return;
    this._ended = true;
    this._line._unlink(node);
    const future = node.future;
    if (!future.done()) future.cancel();
    this._onAbandon?.(!future.cancelled());
  }
}

/**
 * Binds an object to the loop it first waits in (Python's
 * `_LoopBoundMixin`): primitives can be created outside any loop, and using
 * one from a second loop is an error.
 */
export abstract class LoopBound {
  private _boundLoop: AbstractEventLoop | null = null;

  /** The running loop, after checking that it is the one this object is bound to. */
  protected _getLoop(): AbstractEventLoop {
    const loop = getRunningLoop();
    if (this._boundLoop === null) this._boundLoop = loop;
    if (loop !== this._boundLoop) throw new RuntimeError(`${this} is bound to a different event loop`);
    return loop;
  }
}

const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);
const RESOLVED_TRUE: Promise<boolean> = Promise.resolve(true);

/**
 * A Promise fulfilled with `value`; a shared one for `undefined` and `true`
 * (what `drain()`, `acquire()` and `wait()` return at once): every Promise
 * made costs async_hooks' promise hooks where an `AsyncLocalStorage` is
 * live (Node 20).
 */
function resolvedWith<T>(value: T): Promise<T> {
  if (value === undefined) return RESOLVED_UNDEFINED as Promise<T>;
  if (value === true) return RESOLVED_TRUE as Promise<T>;
  return Promise.resolve(value);
}

/** What a fast path returns when the operation cannot complete without waiting. */
export const WOULD_WAIT: unique symbol = Symbol("would wait");
export type WouldWait = typeof WOULD_WAIT;

/**
 * A coroutine object (a `Coro`: lazy, single use, accepted by `createTask`)
 * for an operation that often completes at once, such as `get()` on a
 * queue holding items. `tryNow()` runs exactly the generator's paths that
 * finish without waiting, and returns `WOULD_WAIT` (changing nothing) when
 * the operation must wait. Awaited from an async function, it tries
 * `tryNow()` first and only drives the generator on behalf of the awaiting
 * task when that would wait, which saves the inline driver and its
 * promises on the common path. `yield*` runs the generator, whose first
 * step is the same `tryNow()`. Either way nothing happens until the object
 * is awaited, as with any coroutine.
 */
export class FastPathCoro<T, S = undefined, X = undefined> extends Coro<T> {
  private readonly _tryNow: (subject: S, extra: X) => T | WouldWait;
  /**
   * Passed to `factory` and `tryNow` (with `extra`, an operation's argument),
   * so that callers can use shared functions instead of two closures per call.
   */
  private readonly _subject: S;
  private readonly _extra: X;

  constructor(
    factory: (subject: S, extra: X) => Coroutine<T>,
    name: string,
    tryNow: (subject: S, extra: X) => T | WouldWait,
    subject?: S,
    extra?: X,
  ) {
    super(factory as unknown as () => Coroutine<T>, name);
    this._tryNow = tryNow;
    this._subject = subject as S;
    this._extra = extra as X;
  }

  /** `yield*`: the first step tries `tryNow()`, and only makes the generator when that would wait. */
  override [Symbol.iterator](): Coroutine<T> {
    return new FastPathStart(this._start(), this._tryNow, this._subject, this._extra).asCoroutine();
  }

  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    let run: Promise<T>;
    try {
      const start = this._start();
      const now = this._tryNow(this._subject, this._extra);
      if (now === WOULD_WAIT) return _driveInline(start(this._subject, this._extra), onfulfilled, onrejected) as Promise<R1 | R2>;
      run = resolvedWith(now);
    } catch (error) {
      run = Promise.reject(error);
    }
    return run.then(onfulfilled, onrejected);
  }

  private _start(): (subject: S, extra: X) => Coroutine<T> {
    return this._take() as unknown as (subject: S, extra: X) => Coroutine<T>;
  }
}

/**
 * What `yield*` on a `FastPathCoro` delegates to: its first `next()` runs
 * `tryNow()` and returns the result when there is one, so an operation that
 * completes at once makes no generator object; otherwise it starts the
 * generator (whose first step is the same `tryNow()`, which changed
 * nothing) and delegates everything to it.
 */
class FastPathStart<T, S, X> extends HandWrittenCoroutine<T> {
  private _gen: Coroutine<T> | null = null;

  constructor(
    private readonly _factory: (subject: S, extra: X) => Coroutine<T>,
    private readonly _tryNow: (subject: S, extra: X) => T | WouldWait,
    private readonly _subject: S,
    private readonly _extra: X,
  ) {
    super();
  }

  next(value?: unknown): IteratorResult<unknown, T> {
    let gen = this._gen;
    if (gen === null) {
      const now = this._tryNow(this._subject, this._extra);
      if (now !== WOULD_WAIT) return { value: now, done: true };
      gen = this._factory(this._subject, this._extra);
      this._gen = gen;
      return gen.next();
    }
    return gen.next(value);
  }

  override throw(error: unknown): IteratorResult<unknown, T> {
    const gen = this._gen;
    if (gen === null) throw error;
    return gen.throw(error);
  }

  override return(value: T): IteratorResult<unknown, T> {
    const gen = this._gen;
    return gen === null ? { value, done: true } : gen.return(value);
  }
}

/**
 * What a `RetryCoro` does, as shared functions of its subject (no closures
 * per call): try the operation now; when it would wait, start waiting on a
 * future, and try again once the future is done.
 */
export interface RetryOps<T, S, X> {
  /** The coroutine's name (for its repr). */
  readonly name: string;
  /** The result, or `WOULD_WAIT` (changing nothing) when it has to wait. */
  tryNow(subject: S, extra: X): T | WouldWait;
  /** Starts a wait: the future whose completion means "try again"; may throw (a wait that is not allowed). */
  startWait(subject: S, extra: X): Future<unknown>;
  /** The wait ended, however it ended (the future is no longer waited on). */
  endWait(subject: S): void;
}

function notStarted(): never {
  throw new RuntimeError("a RetryCoro is started by its iterator or by then()");
}

/**
 * A coroutine object for an operation that is "try, else wait on a future
 * and try again" (`StreamReader.read(n)`: wait for data, read what came),
 * written by hand in both coroutine styles. The generator that the same
 * loop would be costs a generator object per level, and awaiting it from an
 * async function an inline driver with its promises; here `yield*` gets one
 * small iterator that yields the future, and `await` one driver that
 * waits on the future as a task does (`WAKE_TASK`) and settles one Promise.
 * Semantics are the generator's: a cancelled future or a cancellation of
 * the awaiting task is thrown where the generator was suspended.
 */
export class RetryCoro<T, S, X> extends Coro<T> {
  constructor(
    private readonly _ops: RetryOps<T, S, X>,
    private readonly _subject: S,
    private readonly _extra: X,
  ) {
    super(notStarted, _ops.name);
  }

  override [Symbol.iterator](): Coroutine<T> {
    this._take();
    return new RetryIterator(this._ops, this._subject, this._extra).asCoroutine();
  }

  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    let run: Promise<T>;
    try {
      this._take();
      const now = this._ops.tryNow(this._subject, this._extra);
      if (now === WOULD_WAIT) return NativeRetry.start(this._ops, this._subject, this._extra, onfulfilled, onrejected);
      run = resolvedWith(now);
    } catch (error) {
      run = Promise.reject(error);
    }
    return run.then(onfulfilled, onrejected);
  }
}

/** The `yield*` form of a `RetryCoro`: yields the future of each wait, as `yield* future` would. */
class RetryIterator<T, S, X> extends HandWrittenCoroutine<T> {
  private _waiting: Future<unknown> | null = null;

  constructor(
    private readonly _ops: RetryOps<T, S, X>,
    private readonly _subject: S,
    private readonly _extra: X,
  ) {
    super();
  }

  next(): IteratorResult<unknown, T> {
    const future = this._waiting;
    if (future !== null) {
      this._endWait();
      if (!future.done()) throw new RuntimeError(`await wasn't used with future ${future}`);
      future.result(); // throws the cancellation or the error
    }
    const now = this._ops.tryNow(this._subject, this._extra);
    if (now !== WOULD_WAIT) return { value: now, done: true };
    const waiter = this._ops.startWait(this._subject, this._extra);
    this._waiting = waiter;
    waiter._blocking = true;
    return { value: waiter, done: false };
  }

  override throw(error: unknown): never {
    this._endWait();
    throw error;
  }

  override return(value: T): IteratorResult<unknown, T> {
    this._endWait();
    return { value, done: true };
  }

  private _endWait(): void {
    if (this._waiting === null) return;
    this._waiting = null;
    this._ops.endWait(this._subject);
  }
}

/** What `captureSettlers` took from the Promise being made: no executor closure per Promise. */
let capturedResolve: ((value: never) => void) | null = null;
let capturedReject: ((error: unknown) => void) | null = null;

function captureSettlers(resolve: (value: never) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * One `RetryCoro` awaited from an async function. It is woken as a task is
 * (`WAKE_TASK`: the future's completion puts it on the ready queue, where
 * the done callback of `_driveInline` would have been), runs its retry in
 * the awaiting task's context, and settles the `then()` it was started
 * by: it calls `then`'s callbacks itself when it is done, which is always
 * in a later loop iteration than the `then()` call (so never
 * synchronously), and resolves the Promise `then()` returned with what
 * they return. A Promise of its own, followed with `then(callbacks)`, cost
 * one more Promise and one more microtask per `await reader.read()`.
 */
class NativeRetry<T, S, X> implements Wakeable, Runnable {
  private readonly _owner: Task<unknown> | null;
  private readonly _loop: AbstractEventLoop;
  private readonly _context: Context;
  private _future: Future<unknown> | null = null;

  private constructor(
    private readonly _ops: RetryOps<T, S, X>,
    private readonly _subject: S,
    private readonly _extra: X,
    private readonly _resolve: (value: unknown) => void,
    private readonly _reject: (error: unknown) => void,
    private readonly _onFulfilled: ThenCallback,
    private readonly _onRejected: ThenCallback,
  ) {
    const owner = (currentNativeOwner() as Task<unknown> | undefined) ?? null;
    this._owner = owner;
    this._loop = owner?._loop ?? getRunningLoop();
    this._context = owner?._context ?? copyContext();
  }

  /**
   * `then(onFulfilled, onRejected)` of a `RetryCoro` awaited by native code
   * whose operation has to wait: runs it on behalf of the awaiting task (as
   * `_driveInline` runs a generator) and returns what `then()` returns.
   */
  static start<T, S, X, R>(
    ops: RetryOps<T, S, X>,
    subject: S,
    extra: X,
    onFulfilled: ThenCallback,
    onRejected: ThenCallback,
  ): Promise<R> {
    const promise = new Promise<R>(captureSettlers);
    const resolve = capturedResolve as (value: unknown) => void;
    const reject = capturedReject as (error: unknown) => void;
    capturedResolve = capturedReject = null;
    try {
      new NativeRetry(ops, subject, extra, resolve, reject, onFulfilled, onRejected)._wait();
    } catch (error) {
      // Thrown by then() itself (a wait that is not allowed): settled later, as a Promise's then would be.
      reject(error);
      return promise.then(null, onRejected as (error: unknown) => R) as Promise<R>;
    }
    return promise;
  }

  /** Starts a wait (the operation would wait); throws what `startWait` throws. */
  _wait(): void {
    const future = this._ops.startWait(this._subject, this._extra);
    if (future._loop !== this._loop) {
      this._ops.endWait(this._subject);
      throw new RuntimeError(
        `coroutine awaited by ${this._owner ?? "native code"} got Future ${future} attached to a different loop`,
      );
    }
    this._future = future;
    future._addCallback(WAKE_TASK, this);
    this._owner?._awaitFuture(future);
  }

  _scheduleWakeup(): void {
    this._loop._scheduleReady(this);
  }

  _run(): void {
    this._context._run1(retryStep, this as NativeRetry<unknown, unknown, unknown>);
  }

  /** The future is done: try again, or settle. Never throws (it runs as a ready-queue entry). */
  _step(): void {
    const future = this._future as Future<unknown>;
    this._future = null;
    const owner = this._owner;
    owner?._awaitDone(future);
    this._ops.endWait(this._subject);
    let value: T;
    try {
      // A cancellation requested meanwhile is thrown where the coroutine waited, as InlineDriver does.
      if (owner !== null && owner._mustCancel) {
        owner._mustCancel = false;
        throw new CancelledError(owner._cancelMessage ?? "");
      }
      future.result(); // throws the cancellation or the error
      const now = this._ops.tryNow(this._subject, this._extra);
      if (now === WOULD_WAIT) {
        this._wait();
        return;
      }
      value = now;
    } catch (error) {
      _markNativeWakeup();
      _settleThen(this._onRejected, error, false, this._resolve, this._reject);
      return;
    }
    _markNativeWakeup();
    _settleThen(this._onFulfilled, value, true, this._resolve, this._reject);
  }
}

function retryStep(retry: NativeRetry<unknown, unknown, unknown>): void {
  retry._step();
}

/**
 * A coroutine that returns `value` without suspending: what a fast path's
 * generator form delegates to when nothing has to wait (no generator
 * object needed).
 */
export function returnNow<T>(value: T): Coroutine<T> {
  return new ReturnNow(value).asCoroutine();
}

class ReturnNow<T> extends HandWrittenCoroutine<T> {
  constructor(private readonly _value: T) {
    super();
  }

  next(): IteratorResult<unknown, T> {
    return { value: this._value, done: true };
  }
}
