/**
 * Timeouts (Python's `asyncio.timeouts`): `timeout(delay, body)`,
 * `timeoutAt(when, body)` and the `Timeout` scope they enter.
 *
 * Python writes `async with asyncio.timeout(1) as cm: ...`; the exit of
 * that block depends on the exception, which `await using` cannot see, so
 * here the block is a body function given the `Timeout`, in either style:
 *
 * ```ts
 * await asyncio.timeout(1, async (cm) => { await work(); });      // async function
 * yield* asyncio.timeout(1, function* (cm) { yield* work(); });    // generator coroutine
 * ```
 *
 * The body runs in the task that enters the scope (see `scope_body.ts`).
 * When the deadline passes, that task is cancelled; the scope then turns
 * the `CancelledError` coming out of the body into a `TimeoutError` (its
 * `cause` the `CancelledError`, as CPython chains it), unless the task has
 * more cancel requests than it had on entry: those come from outside and
 * are propagated as they are. `uncancel()` takes back the scope's own
 * request, so nested scopes and an enclosing `TaskGroup` count right.
 */
import { Coro } from "./coroutines.js";
import type { AbstractEventLoop, Handle, TimerHandle } from "./events.js";
import { getRunningLoop, shortRepr } from "./events.js";
import { CancelledError, ExceptionGroup, RuntimeError, TimeoutError, ValueError } from "./exceptions.js";
import type { Coroutine } from "./futures.js";
import type { BodyResult } from "./scope_body.js";
import { checkBody, runBody } from "./scope_body.js";
import type { Task } from "./tasks.js";
import { currentTask } from "./tasks.js";

const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** The life of a `Timeout` (CPython's `timeouts._State`); the values are what its repr shows. */
export enum TimeoutState {
  /** Made, not entered yet. */
  CREATED = "created",
  /** Entered: the body runs, the deadline (if any) is armed. */
  ENTERED = "active",
  /** The deadline passed and the task was cancelled; the body has not left the scope yet. */
  EXPIRING = "expiring",
  /** Left after the deadline passed. */
  EXPIRED = "expired",
  /** Left before the deadline. */
  EXITED = "finished",
}

/** A timeout scope's body: given the `Timeout`, returns what the scope returns. */
export type TimeoutBody<T> = (cm: Timeout) => BodyResult<T>;

/**
 * A deadline on a block of code (Python's `asyncio.Timeout`). Made and
 * entered by `timeout()` / `timeoutAt()`, or made with `new Timeout(when)`
 * and entered once with `run(body)`.
 */
export class Timeout {
  /** Moves only forward along the order of `TimeoutState`, and never back to `ENTERED`. */
  _state: TimeoutState = TimeoutState.CREATED;
  /** The deadline in loop time, or `null` for none. */
  _when: number | null;
  /** Armed while `ENTERED` with a deadline; `null` otherwise. */
  _timeoutHandler: TimerHandle | Handle | null = null;
  /** The task that entered the scope; set from `ENTERED` on. */
  _task: Task<unknown> | null = null;
  /** `task.cancelling()` on entry: more requests than this at exit come from outside the scope. */
  _cancelling = 0;

  constructor(when: number | null) {
    this._when = checkWhen(when, "Timeout()");
  }

  /** The deadline in loop time (`loop.time()`), or `null` if there is none. */
  when(): number | null {
    return this._when;
  }

  /**
   * Moves the deadline to `when` (loop time; `null` removes it). Only while
   * the scope is active: before entry, after expiry or after exit this
   * throws `RuntimeError`.
   */
  reschedule(when: number | null): void {
    if (this._state !== TimeoutState.ENTERED) {
      if (this._state === TimeoutState.CREATED) throw new RuntimeError("Timeout has not been entered");
      throw new RuntimeError(`Cannot change state of ${this._state} Timeout`);
    }
    this._when = checkWhen(when, "reschedule()");
    if (this._timeoutHandler !== null) this._timeoutHandler.cancel();
    if (this._when === null) {
      this._timeoutHandler = null;
      return;
    }
    const loop = (this._task as Task<unknown>).getLoop();
    this._timeoutHandler = this._when <= loop.time() ? loop.callSoon(onTimeout, this) : loop.callAt(this._when, onTimeout, this);
  }

  /** Whether the deadline passed while the scope was active. */
  expired(): boolean {
    return this._state === TimeoutState.EXPIRING || this._state === TimeoutState.EXPIRED;
  }

  /**
   * Enters the scope, runs `body(this)` in the current task, and leaves it
   * (Python's `async with cm:`). A `Timeout` can be entered once.
   */
  run<T>(body: TimeoutBody<T>): Coro<T> {
    checkBody(body, "Timeout.run()");
    return new Coro(() => timeoutScope(this, body), "timeout");
  }

  /** Python's `__aenter__`. */
  _enter(loop: AbstractEventLoop): void {
    if (this._state !== TimeoutState.CREATED) throw new RuntimeError("Timeout has already been entered");
    const task = currentTask(loop);
    if (task === null) throw new RuntimeError("Timeout should be used inside a task");
    this._state = TimeoutState.ENTERED;
    this._task = task;
    this._cancelling = task.cancelling();
    this.reschedule(this._when);
  }

  /**
   * Python's `__aexit__`: `error` is what the body threw (`hasError`
   * false: it returned). Throws the `TimeoutError` that replaces it, or
   * returns to let the caller go on with the body's outcome.
   */
  _exit(hasError: boolean, error: unknown): void {
    if (this._timeoutHandler !== null) {
      this._timeoutHandler.cancel();
      this._timeoutHandler = null;
    }
    if (this._state === TimeoutState.EXPIRING) {
      this._state = TimeoutState.EXPIRED;
      const task = this._task as Task<unknown>;
      if (task.uncancel() <= this._cancelling && hasError) {
        // No cancel request from outside is left: the cancellation was ours.
        if (error instanceof CancelledError) throw chain(new TimeoutError(this._expiredMessage()), error);
        insertTimeoutError(error, this._expiredMessage());
        if (error instanceof ExceptionGroup) {
          for (const inner of error.exceptions) insertTimeoutError(inner, this._expiredMessage());
        }
      }
    } else if (this._state === TimeoutState.ENTERED) {
      this._state = TimeoutState.EXITED;
    }
  }

  /** Called when the deadline passes (Python's `_on_timeout`). */
  _onTimeout(): void {
    (this._task as Task<unknown>).cancel();
    this._state = TimeoutState.EXPIRING;
    this._timeoutHandler = null;
  }

  private _expiredMessage(): string {
    return `timed out: the deadline ${this._when} (loop time) passed`;
  }

  toString(): string {
    if (this._state !== TimeoutState.ENTERED) return `<Timeout [${this._state}]>`;
    const when = this._when === null ? "null" : String(Math.round(this._when * 1000) / 1000);
    return `<Timeout [${this._state}] when=${when}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function onTimeout(cm: Timeout): void {
  cm._onTimeout();
}

/** The scope: enter, run the body, exit with its outcome. */
function* timeoutScope<T>(cm: Timeout, body: TimeoutBody<T>): Coroutine<T> {
  const loop = getRunningLoop();
  cm._enter(loop);
  let result: T;
  try {
    result = yield* runBody(body, cm, loop);
  } catch (error) {
    cm._exit(true, error);
    throw error;
  }
  cm._exit(false, undefined);
  return result;
}

function checkWhen(when: unknown, where: string): number | null {
  if (when === null || when === undefined) return null;
  if (typeof when !== "number") throw new TypeError(`${where} needs a number of seconds or null, not ${shortRepr(when)}`);
  if (Number.isNaN(when)) throw new ValueError(`${where} got NaN as the deadline`);
  return when;
}

/** Sets `cause` as the constructor option would (own, non-enumerable). */
function chain<E extends Error>(error: E, cause: unknown): E {
  Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true, enumerable: false });
  return error;
}

/**
 * The body caught the scope's `CancelledError` and threw another error
 * whose `cause` chain holds it: put a `TimeoutError` between them, so the
 * chain says the deadline passed (CPython does this on `__context__`).
 */
function insertTimeoutError(error: unknown, message: string): void {
  const seen = new Set<unknown>();
  let current = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    const cause: unknown = current.cause;
    if (cause === undefined || cause === null) return;
    if (cause instanceof CancelledError) {
      chain(current, chain(new TimeoutError(message), cause));
      return;
    }
    current = cause;
  }
}

/**
 * Runs `body` with a deadline `delay` seconds from when the scope is
 * entered (`null`: no deadline). If the deadline passes, the body is
 * cancelled and the scope throws `TimeoutError`.
 *
 * @example
 * try {
 *   await asyncio.timeout(10, async () => { await longRunningTask(); });
 * } catch (e) {
 *   if (e instanceof asyncio.TimeoutError) console.log("took too long");
 * }
 */
export function timeout<T>(delay: number | null | undefined, body: TimeoutBody<T>): Coro<T> {
  const checked = checkWhen(delay, "timeout()");
  checkBody(body, "timeout()");
  return new Coro(() => {
    const loop = getRunningLoop();
    return timeoutScope(new Timeout(checked === null ? null : loop.time() + checked), body);
  }, "timeout");
}

/**
 * Runs `body` with the deadline `when`, in the loop's clock (`loop.time()`);
 * `null` means no deadline. See `timeout()`.
 */
export function timeoutAt<T>(when: number | null | undefined, body: TimeoutBody<T>): Coro<T> {
  const checked = checkWhen(when, "timeoutAt()");
  checkBody(body, "timeoutAt()");
  return new Coro(() => timeoutScope(new Timeout(checked), body), "timeoutAt");
}
