/**
 * Helpers of the lock and queue tests: one script, run in both coroutine
 * styles (in the spirit of Trio's `generic_lock_test`), and small waiting
 * helpers that do not depend on `gather`.
 *
 * A script is a `function*` that `yield`s each awaitable it waits for and
 * gets its result back. `coro("generator", script)` runs it as a generator
 * coroutine that awaits each one with `yield*`; `coro("native", script)` as
 * a native async function (passed as a function) that awaits each one with
 * `await`. Errors, cancellation included, are thrown back into the script
 * at the `yield`, so its `try`/`finally` blocks behave as in either style.
 *
 * `runGuarded(main)` runs a test on a virtual-time loop and turns a
 * deadlock into a failure: with autojump, a loop with nothing left to do
 * jumps straight to a far-away watchdog timer. (A loop busy forever without
 * time moving is caught too, by a real-time safety net.)
 */
import * as asyncio from "asyncio-ts";
import { VirtualTimeLoop } from "asyncio-ts/testing";

export type Style = "generator" | "native";
export const STYLES: readonly Style[] = ["generator", "native"];

/** A test script: yields awaitables, receives their results. */
export type Script<T> = () => Generator<asyncio.Awaitable<unknown>, T, unknown>;

function* driveWithYieldStar<T>(script: Script<T>): asyncio.Coroutine<T> {
  const body = script();
  let step = body.next();
  while (step.done !== true) {
    let value: unknown;
    try {
      value = yield* step.value;
    } catch (error) {
      step = body.throw(error);
      continue;
    }
    step = body.next(value);
  }
  return step.value;
}

async function driveWithAwait<T>(script: Script<T>): Promise<T> {
  const body = script();
  let step = body.next();
  while (step.done !== true) {
    let value: unknown;
    try {
      value = await step.value;
    } catch (error) {
      step = body.throw(error);
      continue;
    }
    step = body.next(value);
  }
  return step.value;
}

/** `script` as a coroutine of the given style, for `createTask` or `runVirtual`. */
export function coro<T>(style: Style, script: Script<T>): asyncio.CoroutineLike<T> {
  if (style === "generator") return driveWithYieldStar(script);
  return () => driveWithAwait(script);
}

/** A task running `script` in `style`. */
export function spawn<T>(style: Style, script: Script<T>, name?: string): asyncio.Task<T> {
  return asyncio.createTask(coro(style, script), name === undefined ? undefined : { name });
}

/** How a task ended: its result, `"cancelled"`, or `{ error }`. */
export function outcome<T>(task: asyncio.Task<T>): T | "cancelled" | { error: unknown } | "pending" {
  if (!task.done()) return "pending";
  if (task.cancelled()) return "cancelled";
  const error = task.exception();
  return error === null ? task.result() : { error };
}

/** An awaitable done once every task is done, however each ended (a `gather(..., returnExceptions)` without results). */
export function allDone(tasks: readonly asyncio.Future<unknown>[]): asyncio.Future<void> {
  const loop = asyncio.getRunningLoop();
  const done = loop.createFuture<void>();
  let left = tasks.length;
  if (left === 0) done.setResult();
  for (const task of tasks) {
    task.addDoneCallback(() => {
      left -= 1;
      if (left === 0 && !done.done()) done.setResult();
    });
  }
  return done;
}

/** `n` iterations of the loop (`sleep(0)` n times). */
export function* ticks(n: number): Generator<asyncio.Awaitable<unknown>, void, unknown> {
  for (let i = 0; i < n; i++) yield asyncio.sleep(0);
}

/**
 * Lets the tasks run for `n` loop iterations as a generator driver sees
 * them: exactly `n` iterations, as CPython's tests count them. Native tasks
 * resume in microtasks after the iteration that woke them, so a hand-over
 * along a chain of native tasks (a lock passed from one to the next) takes
 * an iteration per task; a native driver waits longer. Every state a test
 * checks after `settle()` must be one where nothing more happens until the
 * driver acts, so that waiting longer changes nothing else.
 */
export function settle(style: Style, n = 1): Generator<asyncio.Awaitable<unknown>, void, unknown> {
  return ticks(style === "native" ? 8 * n : n);
}

/** Cancels `task` after `delay` seconds of loop time: what a timeout does to a waiter. */
export function cancelAfter(task: asyncio.Task<unknown>, delay: number): asyncio.TimerHandle {
  return asyncio.getRunningLoop().callLater(delay, () => task.cancel());
}

/**
 * Runs `body` with the task cancelled after `timeout` seconds, as
 * `asyncio.timeout()` would: returns `"timeout"` if it was cut short by
 * that, and re-raises any other cancellation.
 */
export function* withTimeout(timeout: number | null, body: () => Generator<asyncio.Awaitable<unknown>, void, unknown>) {
  const me = asyncio.currentTask() as asyncio.Task<unknown>;
  let fired = false;
  const timer =
    timeout === null
      ? null
      : asyncio.getRunningLoop().callLater(timeout, () => {
          fired = true;
          me.cancel();
        });
  try {
    yield* body();
  } catch (error) {
    if (fired && error instanceof asyncio.CancelledError && me.uncancel() === 0) return "timeout";
    throw error;
  } finally {
    timer?.cancel();
  }
  // Expired just as the body ended: take the cancellation back, as asyncio.timeout() does.
  if (fired) me.uncancel();
  return "done";
}

/**
 * Calls `check` at every half second up to `horizon`: property scenarios
 * make everything happen at whole seconds, so half a second later what
 * happened has settled.
 */
export function checkEachSecond(horizon: number, check: (time: number) => void): void {
  const loop = asyncio.getRunningLoop();
  for (let t = 0; t <= horizon; t++) loop.callLater(t + 0.5, () => check(t + 0.5));
}

/** Raised by `runGuarded` when its loop had nothing left to run before `main` finished. */
export class DeadlockError extends Error {
  override name = "DeadlockError";
}

/** Real seconds without any progress of virtual time after which a busy loop counts as livelocked. */
const LIVELOCK_SECONDS = 30;

async function runBounded<T>(loop: VirtualTimeLoop, future: asyncio.Future<T>, limit: number, what: string): Promise<T> {
  let stuck: string | null = null;
  const watchdog = loop.callLater(limit, () => {
    stuck = "deadlock: nothing left to run";
    loop.stop();
  });
  // A safety net, not a timing assertion: a loop that keeps running callbacks
  // without virtual time ever moving would otherwise hang the test run.
  let lastTime = loop.time();
  const livelock = setInterval(() => {
    if (loop.time() !== lastTime || future.done()) {
      lastTime = loop.time();
      return;
    }
    stuck = `livelock: virtual time stuck at ${lastTime} for ${LIVELOCK_SECONDS} s`;
    loop.stop();
  }, LIVELOCK_SECONDS * 1000);
  livelock.unref();
  try {
    return await loop.runUntilComplete(future);
  } catch (error) {
    if (stuck !== null) {
      const pending = [...asyncio.allTasks(loop)].map(String).join("\n  ");
      throw new DeadlockError(`${stuck} before ${what} finished; pending tasks:\n  ${pending}`);
    }
    throw error;
  } finally {
    watchdog.cancel();
    clearInterval(livelock);
  }
}

/**
 * Runs `main` on a fresh `VirtualTimeLoop` (like `runVirtual`), failing
 * with `DeadlockError` instead of hanging if the loop runs out of things to
 * do first (or `limit` virtual seconds pass). Tasks left over are
 * cancelled, as `run()` does, under the same guard.
 */
export async function runGuarded<T>(main: asyncio.CoroutineLike<T>, limit = 1e6): Promise<T> {
  const loop = new VirtualTimeLoop();
  let deadlocked = false;
  try {
    return await runBounded(loop, loop.createTask(main), limit, "the main task");
  } catch (error) {
    deadlocked = error instanceof DeadlockError;
    throw error;
  } finally {
    const leftovers = [...asyncio.allTasks(loop)];
    if (!deadlocked && leftovers.length > 0) {
      for (const task of leftovers) task.cancel();
      await runBounded(loop, asyncio.ensureFuture(allDoneOn(loop, leftovers), { loop }), limit, "the cancelled leftover tasks");
    }
    loop.close();
  }
}

function allDoneOn(loop: VirtualTimeLoop, tasks: readonly asyncio.Future<unknown>[]): asyncio.Future<void> {
  const done = loop.createFuture<void>();
  let left = tasks.length;
  for (const task of tasks) {
    task.addDoneCallback(() => {
      left -= 1;
      if (left === 0 && !done.done()) done.setResult();
    });
  }
  return done;
}
