/**
 * Staggered races (Python's `asyncio.staggered`): run coroutines one after
 * another, starting the next when the previous one failed or when `delay`
 * seconds passed, and keep the first that succeeds, cancelling the rest.
 * This is how `createConnection` implements Happy Eyeballs (RFC 8305) with
 * `happyEyeballsDelay`; `interleaveAddrinfos` is base_events'
 * `_interleave_addrinfos`, which orders the addresses to try by
 * alternating families.
 *
 * CPython's algorithm, step for step: each attempt runs in its own task,
 * which first waits (up to `delay`) for the previous attempt to fail, then
 * starts the next attempt's task and only then runs its own coroutine; the
 * race waits until no attempt task is left, so nothing outlives it.
 */
import { waitFor } from "./combinators.js";
import { Coro } from "./coroutines.js";
import type { AbstractEventLoop } from "./events.js";
import { getRunningLoop } from "./events.js";
import { CancelledError, ExceptionGroup, TimeoutError } from "./exceptions.js";
import type { Awaitable, Coroutine, Future } from "./futures.js";
import { Event } from "./locks.js";
import type { AwaitableLike, Task } from "./tasks.js";
import { currentTask, ensureFuture } from "./tasks.js";

/** `[winnerResult, winnerIndex, exceptions]`: the winner's result and index (`null` if none won), each attempt's error (`null` for none). */
export type StaggeredRaceResult<T> = [winnerResult: T | null, winnerIndex: number | null, exceptions: unknown[]];

/** Options of `staggeredRace`. */
export interface StaggeredRaceOptions<T> {
  loop?: AbstractEventLoop;
  /**
   * Called with the result of an attempt that succeeded after another had
   * already won (both finished in the same iteration), or with the
   * winner's result when the race is cancelled: a connected socket must be
   * closed, not leaked. CPython has no such hook.
   */
  discard?: (result: T) => void;
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as unknown;

/**
 * Runs one attempt inside the attempt's task, so that cancelling the task
 * reaches it: a generator or `Coro` runs inline, an async function as a
 * task of its own (awaited, so cancelled with the attempt). A plain
 * function returning a Promise started it outside any task: it is waited
 * for, but cannot be cancelled.
 */
function* runAttempt<T>(fn: () => AwaitableLike<T>, loop: AbstractEventLoop): Coroutine<T> {
  if (fn.constructor === AsyncFunction) return yield* loop.createTask(fn as () => PromiseLike<T>);
  const aw = fn();
  if (typeof (aw as Awaitable<T>)[Symbol.iterator] === "function") return yield* aw as Awaitable<T>;
  return yield* ensureFuture(aw, { loop });
}

/** The shared state of one race. */
class Race<T> {
  private _nextIndex = 0;
  winnerResult: T | null = null;
  winnerIndex: number | null = null;
  readonly exceptions: unknown[] = [];
  readonly unhandled: unknown[] = [];
  readonly running = new Set<Task<unknown>>();
  onCompleted: Future<void> | null = null;

  constructor(
    readonly loop: AbstractEventLoop,
    private readonly _fns: Iterator<() => AwaitableLike<T>>,
    private readonly _delay: number | null,
    readonly discard: ((result: T) => void) | undefined,
  ) {}

  readonly taskDone = (task: Future<unknown>): void => {
    this.running.delete(task as Task<unknown>);
    if (this.onCompleted !== null && !this.onCompleted.done() && this.running.size === 0) this.onCompleted.setResult(undefined);
    if (task.cancelled()) return;
    const exc = task.exception();
    if (exc !== null) this.unhandled.push(exc);
  };

  start(previousFailed: Event | null): void {
    const task = this.loop.createTask(this._runOne(previousFailed));
    this.running.add(task);
    task.addDoneCallback(this.taskDone);
  }

  private *_runOne(previousFailed: Event | null): Coroutine<void> {
    if (previousFailed !== null) {
      try {
        yield* waitFor(previousFailed.wait(), this._delay);
      } catch (error) {
        if (!(error instanceof TimeoutError)) throw error;
      }
    }
    const next = this._fns.next();
    if (next.done === true) return;
    const index = this._nextIndex++;
    const thisFailed = new Event();
    this.start(thisFailed);
    this.exceptions.push(null);
    let result: T;
    try {
      result = yield* runAttempt(next.value, this.loop);
    } catch (error) {
      this.exceptions[index] = error;
      thisFailed.set();
      return;
    }
    if (this.winnerIndex !== null) {
      this.discard?.(result);
      return;
    }
    this.winnerIndex = index;
    this.winnerResult = result;
    const me = currentTask(this.loop);
    for (const task of this.running) if (task !== me) task.cancel();
  }
}

function* raceCoroutine<T>(
  fns: Iterable<() => AwaitableLike<T>>,
  delay: number | null,
  options: StaggeredRaceOptions<T>,
): Coroutine<StaggeredRaceResult<T>> {
  const race = new Race<T>(options.loop ?? getRunningLoop(), fns[Symbol.iterator](), delay, options.discard);
  race.start(null);
  let cancelled: CancelledError | null = null;
  while (race.running.size > 0) {
    race.onCompleted = race.loop.createFuture<void>();
    try {
      yield* race.onCompleted;
    } catch (error) {
      if (!(error instanceof CancelledError)) throw error;
      cancelled = error;
      for (const task of race.running) task.cancel(error.message);
    }
    race.onCompleted = null;
  }
  if (race.unhandled.length > 0) throw new ExceptionGroup("staggered race failed", race.unhandled);
  if (cancelled !== null) {
    if (race.winnerIndex !== null) race.discard?.(race.winnerResult as T);
    throw cancelled;
  }
  return [race.winnerResult, race.winnerIndex, race.exceptions];
}

/**
 * Runs `coroFns` in a staggered race (Python's `staggered_race`): the first
 * starts at once; each next one starts when the previous failed or after
 * `delay` seconds (`null`: only when it failed). The first to succeed wins
 * and the others are cancelled. Resolves to `[winnerResult, winnerIndex,
 * exceptions]`; cancelling the race cancels every attempt.
 *
 * @example
 * const [sock, index, errors] = await staggeredRace(
 *   addresses.map((addr) => () => connect(addr)),
 *   0.25,
 * );
 */
export function staggeredRace<T>(
  coroFns: Iterable<() => AwaitableLike<T>>,
  delay: number | null,
  options: StaggeredRaceOptions<T> = {},
): Coro<StaggeredRaceResult<T>> {
  return new Coro(() => raceCoroutine(coroFns, delay, options), "staggeredRace");
}

/**
 * Reorders addresses (anything whose first element is the family) so that
 * families alternate, `firstAddressFamilyCount` of the first family
 * leading (RFC 8305's "First Address Family Count"); base_events'
 * `_interleave_addrinfos`.
 */
export function interleaveAddrinfos<A extends readonly [number, ...unknown[]]>(
  addrinfos: readonly A[],
  firstAddressFamilyCount = 1,
): A[] {
  const byFamily = new Map<number, A[]>();
  for (const info of addrinfos) {
    const list = byFamily.get(info[0]);
    if (list === undefined) byFamily.set(info[0], [info]);
    else list.push(info);
  }
  const lists = [...byFamily.values()];
  const reordered: A[] = [];
  if (firstAddressFamilyCount > 1 && lists.length > 0) {
    reordered.push(...(lists[0] as A[]).splice(0, firstAddressFamilyCount - 1));
  }
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let i = 0; i < longest; i++) {
    for (const list of lists) if (i < list.length) reordered.push(list[i] as A);
  }
  return reordered;
}
