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
 */
import * as asyncio from "asyncio-ts";

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

/** Cancels `task` after `delay` seconds of loop time: what a timeout does to a waiter. */
export function cancelAfter(task: asyncio.Task<unknown>, delay: number): asyncio.TimerHandle {
  return asyncio.getRunningLoop().callLater(delay, () => task.cancel());
}
