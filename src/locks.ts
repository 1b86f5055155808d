/**
 * Synchronization primitives (Python's `asyncio.locks`): `Lock`, `Event`,
 * `Condition`, `Semaphore`, `BoundedSemaphore` and `Barrier`, with CPython
 * 3.13's semantics: waiters are served first in, first out; a waiter that is
 * cancelled after it was woken passes the wake-up on; a cancelled waiter
 * leaves no trace. Every wait goes through `WaiterQueue` (`waiters.ts`).
 *
 * Python's `async with lock:` is `using _ = await lock.hold()` in an async
 * function and `using _ = yield* lock.hold()` in a generator coroutine: the
 * primitive is released when the block ends, however it ends.
 */
import { Coro } from "./coroutines.js";
import { BrokenBarrierError, CancelledError, RuntimeError, ValueError } from "./exceptions.js";
import type { Awaitable, Coroutine } from "./futures.js";
import type { WouldWait } from "./waiters.js";
import { FastPathCoro, LoopBound, returnNow, WaiterQueue, WOULD_WAIT } from "./waiters.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** What `hold()` needs: Python's `_ContextManagerMixin` relies on these two. */
interface Acquirable {
  acquire(): Awaitable<boolean>;
  release(): void;
}

/**
 * What `hold()` resolves to: releasing it (at the end of a `using` block)
 * releases the primitive, once.
 */
export class Held implements Disposable {
  private _owner: Acquirable | null;

  constructor(owner: Acquirable) {
    this._owner = owner;
  }

  /** Releases the primitive; later calls do nothing. */
  [Symbol.dispose](): void {
    const owner = this._owner;
    if (owner === null) return;
    this._owner = null;
    owner.release();
  }

  toString(): string {
    return this._owner === null ? "<Held released>" : `<Held ${this._owner}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function* holdPrimitive(primitive: Acquirable): Coroutine<Held> {
  yield* primitive.acquire();
  return new Held(primitive);
}

/** `hold()` of `primitive`; `tryAcquire` is its acquire() fast path, so that holding costs no more than acquiring. */
function hold(primitive: Acquirable, name: string, tryAcquire: () => true | WouldWait): Awaitable<Held> {
  return new FastPathCoro(
    () => holdPrimitive(primitive),
    name,
    () => (tryAcquire() === WOULD_WAIT ? WOULD_WAIT : new Held(primitive)),
  );
}

function withWaiters(extra: string, waiters: number): string {
  return waiters === 0 ? extra : `${extra}, waiters:${waiters}`;
}

/**
 * A mutual exclusion lock (Python's `asyncio.Lock`). Not owned by a task:
 * any task may release it. Waiters acquire it in the order they asked.
 *
 * @example
 * const lock = new asyncio.Lock();
 * async function worker() {
 *   using _ = await lock.hold(); // released at the end of the block
 *   await asyncio.sleep(0.1);
 * }
 * function* genWorker(): asyncio.Coroutine<void> {
 *   yield* lock.acquire();
 *   try {
 *     yield* asyncio.sleep(0.1);
 *   } finally {
 *     lock.release();
 *   }
 * }
 */
export class Lock extends LoopBound {
  /** Whether a task holds the lock. */
  private _locked = false;
  /** Tasks waiting in `acquire()`; a woken one stays here until it runs and takes the lock. */
  private readonly _waiters = new WaiterQueue<boolean>();
  private readonly _onAbandon = (): void => {
    // The invariant: if the lock is free and tasks wait, the first of them is woken.
    if (!this._locked) this._waiters.wakeFirst(true);
  };

  /** Whether the lock is held. */
  locked(): boolean {
    return this._locked;
  }

  /** Waits until the lock is free, takes it and returns `true`. */
  acquire(): Awaitable<boolean> {
    return new FastPathCoro(Lock._startAcquire, "Lock.acquire", Lock._acquireNow, this);
  }

  /** Acquires the lock; the result releases it when disposed (`using _ = await lock.hold()`). */
  hold(): Awaitable<Held> {
    return hold(this, "Lock.hold", () => this._tryAcquire());
  }

  /**
   * Takes the lock if that needs no wait (`acquire()`'s fast path, also
   * used by `hold()` and `Condition.hold()`). Fair: a newcomer queues
   * behind waiters, unless every one of them is cancelled.
   */
  // Shared by every acquire(): no closures per call (see FastPathCoro).
  private static readonly _startAcquire = (lock: Lock): Coroutine<boolean> => lock._acquire();
  private static readonly _acquireNow = (lock: Lock): boolean | WouldWait => lock._tryAcquire();

  _tryAcquire(): true | WouldWait {
    if (this._locked || !this._waiters.allCancelled()) return WOULD_WAIT;
    this._locked = true;
    return true;
  }

  private *_acquire(): Coroutine<boolean> {
    if (this._tryAcquire() === true) return true;
    yield* this._waiters.wait(this._getLoop(), this._onAbandon);
    this._locked = true;
    return true;
  }

  /** Releases the lock and wakes the first waiter; `RuntimeError` if the lock is not held. */
  release(): void {
    if (!this._locked) throw new RuntimeError(`Lock is not acquired: ${this}`);
    this._locked = false;
    this._waiters.wakeFirst(true);
  }

  override toString(): string {
    return `<${this.constructor.name} [${withWaiters(this._locked ? "locked" : "unlocked", this._waiters.size)}]>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

const startEventWait = (event: Event): Coroutine<boolean> => event._startWait();
const eventWaitNow = (event: Event): boolean | WouldWait => event._waitNow();

/**
 * A flag tasks can wait for (Python's `asyncio.Event`): `set()` wakes every
 * waiter, `clear()` resets it.
 *
 * @example
 * const ready = new asyncio.Event();
 * asyncio.createTask(async () => { await ready.wait(); console.log("go"); });
 * ready.set();
 */
export class Event extends LoopBound {
  private _value = false;
  private readonly _waiters = new WaiterQueue<boolean>();

  /** Whether the flag is set. */
  isSet(): boolean {
    return this._value;
  }

  /** Sets the flag and wakes every waiter; later `wait()` calls return at once. */
  set(): void {
    if (this._value) return;
    this._value = true;
    this._waiters.wakeUpTo(Number.POSITIVE_INFINITY, true);
  }

  /** Resets the flag: later `wait()` calls block until the next `set()`. */
  clear(): void {
    this._value = false;
  }

  /** Waits until the flag is set and returns `true`. */
  wait(): Awaitable<boolean> {
    // Shared functions, no closure: a task blocked on an Event holds this object.
    return new FastPathCoro(startEventWait, "Event.wait", eventWaitNow, this);
  }

  /** The generator form of `wait()`: the waiter is woken with `true` by `set()`. */
  _startWait(): Coroutine<boolean> {
    return this._value ? returnNow(true) : this._waiters.wait(this._getLoop());
  }

  _waitNow(): boolean | WouldWait {
    return this._value ? true : WOULD_WAIT;
  }

  override toString(): string {
    return `<${this.constructor.name} [${withWaiters(this._value ? "set" : "unset", this._waiters.size)}]>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * A condition variable (Python's `asyncio.Condition`): tasks holding its
 * lock wait to be notified. `wait()` releases the lock while waiting and
 * re-acquires it before returning, even when cancelled. Waits may end
 * spuriously: re-check the state, or use `waitFor(predicate)`.
 *
 * @example
 * const cond = new asyncio.Condition();
 * const items: number[] = [];
 * async function consumer() {
 *   using _ = await cond.hold();
 *   await cond.waitFor(() => items.length > 0);
 *   return items.shift();
 * }
 * async function producer() {
 *   using _ = await cond.hold();
 *   items.push(1);
 *   cond.notify();
 * }
 */
export class Condition extends LoopBound {
  private readonly _lock: Lock;
  private readonly _waiters = new WaiterQueue<boolean>();

  /** Uses `lock` as the underlying lock, or a new `Lock`. */
  constructor(lock?: Lock) {
    super();
    if (lock !== undefined && !(lock instanceof Lock)) {
      throw new TypeError(`Condition() needs a Lock, got ${String(lock)}`);
    }
    this._lock = lock ?? new Lock();
  }

  /** Whether the underlying lock is held. */
  locked(): boolean {
    return this._lock.locked();
  }

  /** Acquires the underlying lock. */
  acquire(): Awaitable<boolean> {
    return this._lock.acquire();
  }

  /** Releases the underlying lock. */
  release(): void {
    this._lock.release();
  }

  /** Acquires the underlying lock; the result releases it when disposed. */
  hold(): Awaitable<Held> {
    return hold(this, "Condition.hold", () => this._lock._tryAcquire());
  }

  /**
   * Releases the lock, waits to be notified, re-acquires the lock and
   * returns `true`. The lock is held again when this ends, even by
   * cancellation. `RuntimeError` if the lock is not held.
   */
  wait(): Awaitable<boolean> {
    return new Coro(() => this._wait(), "Condition.wait");
  }

  /** Waits until `predicate()` is truthy (checking it first and after each wake-up) and returns its value. */
  waitFor<R>(predicate: () => R): Awaitable<R> {
    if (typeof predicate !== "function") throw new TypeError(`waitFor() needs a predicate function, got ${typeof predicate}`);
    return new Coro(() => this._waitFor(predicate), "Condition.waitFor");
  }

  /** Wakes up to `n` waiting tasks (each returns once it has the lock again). `RuntimeError` if the lock is not held. */
  notify(n = 1): void {
    if (!this.locked()) throw new RuntimeError(`cannot notify on un-acquired lock: ${this}`);
    this._notify(n);
  }

  /** Wakes every waiting task. `RuntimeError` if the lock is not held. */
  notifyAll(): void {
    this.notify(this._waiters.size);
  }

  private _notify(n: number): void {
    this._waiters.wakeUpTo(n, false);
  }

  private *_wait(): Coroutine<boolean> {
    if (!this.locked()) throw new RuntimeError(`cannot wait on un-acquired lock: ${this}`);
    const loop = this._getLoop();
    this.release();
    try {
      try {
        yield* this._waiters.wait(loop);
        return true;
      } finally {
        yield* this._reacquire();
      }
    } catch (error) {
      // The error may have come after this task was notified: notify another
      // one instead (a spurious wake-up at worst, which conditions allow).
      this._notify(1);
      throw error;
    }
  }

  /** Re-acquires the lock, retrying through cancellations, then re-raises the last one. */
  private *_reacquire(): Coroutine<void> {
    let cancelled: CancelledError | null = null;
    for (;;) {
      try {
        yield* this.acquire();
        break;
      } catch (error) {
        if (!(error instanceof CancelledError)) throw error;
        cancelled = error;
      }
    }
    if (cancelled !== null) throw cancelled;
  }

  private *_waitFor<R>(predicate: () => R): Coroutine<R> {
    let result = predicate();
    while (!result) {
      yield* this._wait();
      result = predicate();
    }
    return result;
  }

  override toString(): string {
    return `<${this.constructor.name} [${withWaiters(this.locked() ? "locked" : "unlocked", this._waiters.size)}]>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * A counting semaphore (Python's `asyncio.Semaphore`): `acquire()` takes
 * one unit, waiting while there is none; `release()` gives one back. Fair: a
 * newcomer never overtakes a task already waiting.
 *
 * @example
 * const sem = new asyncio.Semaphore(3); // at most three at a time
 * async function fetchOne(url: string) {
 *   using _ = await sem.hold();
 *   return await fetch(url);
 * }
 */
export class Semaphore extends LoopBound {
  /** Units available. Invariant: never negative. */
  protected _value: number;
  /** Tasks waiting in `acquire()`; a woken one holds a unit already taken from `_value` for it. */
  private readonly _waiters = new WaiterQueue<boolean>();
  private readonly _onAbandon = (woken: boolean): void => {
    // Woken but not acquiring: give back the unit taken for this waiter.
    if (woken) this._value += 1;
  };

  /** Starts with `value` units (default 1); `ValueError` if negative. */
  constructor(value = 1) {
    super();
    if (typeof value !== "number" || Number.isNaN(value))
      throw new TypeError(`Semaphore value must be a number, got ${String(value)}`);
    if (value < 0) throw new ValueError(`Semaphore initial value must be >= 0, got ${value}`);
    this._value = value;
  }

  /** Whether `acquire()` would wait: no unit is free, or tasks are already waiting for one. */
  locked(): boolean {
    if (this._value === 0) return true;
    for (const waiter of this._waiters) if (!waiter.cancelled()) return true;
    return false;
  }

  /** Takes a unit, waiting for one if needed, and returns `true`. */
  acquire(): Awaitable<boolean> {
    return new FastPathCoro(Semaphore._startAcquire, `${this.constructor.name}.acquire`, Semaphore._acquireNow, this);
  }

  /** Acquires the semaphore; the result releases it when disposed. */
  hold(): Awaitable<Held> {
    return hold(this, `${this.constructor.name}.hold`, () => this._tryAcquire());
  }

  /** Gives a unit back and wakes the first waiter. */
  release(): void {
    this._value += 1;
    this._wakeUpNext();
  }

  /** Takes a unit if that needs no wait: one is free and nobody waits for one (FIFO). */
  // Shared by every acquire(): no closures per call (see FastPathCoro).
  private static readonly _startAcquire = (semaphore: Semaphore): Coroutine<boolean> => semaphore._acquire();
  private static readonly _acquireNow = (semaphore: Semaphore): boolean | WouldWait => semaphore._tryAcquire();

  private _tryAcquire(): true | WouldWait {
    if (this.locked()) return WOULD_WAIT;
    this._value -= 1;
    return true;
  }

  private *_acquire(): Coroutine<boolean> {
    if (this._tryAcquire() === true) return true;
    try {
      yield* this._waiters.wait(this._getLoop(), this._onAbandon);
    } finally {
      // Waiters that queued behind this one while units were free: wake as many as allowed.
      while (this._value > 0 && this._wakeUpNext()) {
        // Each wake-up takes one unit.
      }
    }
    return true;
  }

  /** Wakes the first waiter that is not done, taking a unit for it. */
  private _wakeUpNext(): boolean {
    if (!this._waiters.wakeNext(true)) return false;
    this._value -= 1;
    return true;
  }

  override toString(): string {
    const state = this.locked() ? "locked" : `unlocked, value:${this._value}`;
    return `<${this.constructor.name} [${withWaiters(state, this._waiters.size)}]>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/**
 * A semaphore that refuses to be released more times than it was acquired
 * (Python's `asyncio.BoundedSemaphore`): `release()` above the initial value
 * throws `ValueError`.
 */
export class BoundedSemaphore extends Semaphore {
  private readonly _boundValue: number;

  constructor(value = 1) {
    super(value);
    this._boundValue = value;
  }

  override release(): void {
    if (this._value >= this._boundValue) {
      throw new ValueError(`BoundedSemaphore released too many times (initial value ${this._boundValue}): ${this}`);
    }
    super.release();
  }
}

/** The states of a `Barrier`, named as in CPython. */
enum BarrierState {
  FILLING = "filling",
  DRAINING = "draining",
  RESETTING = "resetting",
  BROKEN = "broken",
}

/**
 * A barrier (Python's `asyncio.Barrier`): `wait()` blocks until `parties`
 * tasks are waiting, then releases them all; each gets a distinct arrival
 * index from 0 to `parties - 1`. `reset()` and `abort()` make waiting tasks
 * raise `BrokenBarrierError`; after `abort()` the barrier stays broken.
 *
 * @example
 * const barrier = new asyncio.Barrier(3);
 * async function worker() {
 *   const index = await barrier.wait(); // all three pass together
 *   if (index === 0) console.log("last one through");
 * }
 */
export class Barrier extends LoopBound {
  private readonly _cond = new Condition();
  private readonly _parties: number;
  private _state = BarrierState.FILLING;
  /** Tasks inside `wait()` (filling, or draining out). */
  private _count = 0;

  /** A barrier for `parties` tasks; `ValueError` if fewer than one. */
  constructor(parties: number) {
    super();
    if (typeof parties !== "number" || Number.isNaN(parties))
      throw new TypeError(`Barrier parties must be a number, got ${String(parties)}`);
    if (parties < 1) throw new ValueError(`parties must be >= 1, got ${parties}`);
    this._parties = parties;
  }

  /**
   * Waits until `parties` tasks wait, then returns this task's arrival index.
   * `BrokenBarrierError` if the barrier is broken, reset or aborted meanwhile.
   */
  wait(): Awaitable<number> {
    return new Coro(() => this._wait(), "Barrier.wait");
  }

  /** Puts the barrier back to its initial state; tasks waiting get `BrokenBarrierError`. */
  reset(): Awaitable<void> {
    return new Coro(() => this._reset(), "Barrier.reset");
  }

  /** Breaks the barrier: waiting tasks and later `wait()` calls get `BrokenBarrierError`. */
  abort(): Awaitable<void> {
    return new Coro(() => this._abort(), "Barrier.abort");
  }

  /** How many tasks must wait to trip the barrier. */
  get parties(): number {
    return this._parties;
  }

  /** How many tasks are waiting while the barrier fills. */
  get nWaiting(): number {
    return this._state === BarrierState.FILLING ? this._count : 0;
  }

  /** Whether the barrier is broken (aborted). */
  get broken(): boolean {
    return this._state === BarrierState.BROKEN;
  }

  private *_wait(): Coroutine<number> {
    yield* this._cond.acquire();
    try {
      yield* this._block();
      try {
        const index = this._count;
        this._count += 1;
        if (index + 1 === this._parties) this._release();
        else yield* this._waitForRelease();
        return index;
      } finally {
        this._count -= 1;
        this._exit();
      }
    } finally {
      this._cond.release();
    }
  }

  /** Waits while the barrier drains or resets; `BrokenBarrierError` if it is broken. */
  private *_block(): Coroutine<void> {
    yield* this._cond.waitFor(() => this._state !== BarrierState.DRAINING && this._state !== BarrierState.RESETTING);
    if (this._state === BarrierState.BROKEN) throw new BrokenBarrierError(`Barrier aborted: ${this}`);
  }

  /** The last party arrived: release everyone. */
  private _release(): void {
    this._state = BarrierState.DRAINING;
    this._cond.notifyAll();
  }

  /** Waits until the barrier stops filling; `BrokenBarrierError` if it was reset or aborted. */
  private *_waitForRelease(): Coroutine<void> {
    yield* this._cond.waitFor(() => this._state !== BarrierState.FILLING);
    if (this._state === BarrierState.BROKEN || this._state === BarrierState.RESETTING) {
      throw new BrokenBarrierError(`Abort or reset of barrier: ${this}`);
    }
  }

  /** The last task out of a draining or resetting barrier lets it fill again. */
  private _exit(): void {
    if (this._count !== 0) return;
    if (this._state === BarrierState.RESETTING || this._state === BarrierState.DRAINING) this._state = BarrierState.FILLING;
    this._cond.notifyAll();
  }

  private *_reset(): Coroutine<void> {
    yield* this._cond.acquire();
    try {
      this._state = this._count > 0 ? BarrierState.RESETTING : BarrierState.FILLING;
      this._cond.notifyAll();
    } finally {
      this._cond.release();
    }
  }

  private *_abort(): Coroutine<void> {
    yield* this._cond.acquire();
    try {
      this._state = BarrierState.BROKEN;
      this._cond.notifyAll();
    } finally {
      this._cond.release();
    }
  }

  override toString(): string {
    let extra: string = this._state;
    if (!this.broken) extra += `, waiters:${this.nWaiting}/${this._parties}`;
    return `<${this.constructor.name} [${extra}]>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}
