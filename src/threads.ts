/**
 * `toThread` (Python's `asyncio.threads`): runs a function in the running
 * loop's default executor, a `ThreadPoolExecutor` made on first use, and
 * returns an awaitable of its result.
 *
 * A worker thread is a separate JavaScript realm, not a thread sharing the
 * caller's objects: the function is sent as its source (or as a
 * `{ module, name }` reference), its arguments and result are
 * structured-cloned, and the caller's context variables do not follow it
 * (Python copies the context into the thread; here nothing of the caller's
 * memory exists over there).
 */
import type { ExecutorFunction } from "./concurrent_futures.js";
import { getRunningLoop } from "./events.js";
import type { Future } from "./futures.js";

/**
 * Runs `func(...args)` on a worker thread of the running loop's default
 * executor; awaitable with `await` and with `yield*`. Cancelling the
 * awaiting task cancels a call that has not started; a call that runs is
 * abandoned (its outcome is dropped) with a warning.
 *
 * @example
 * const data = await asyncio.toThread({ module: "node:fs", name: "readFileSync" }, "/etc/hosts");
 * const sum = await asyncio.toThread((n: number) => { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }, 1e7);
 */
export function toThread<A extends unknown[], T>(func: ExecutorFunction<A, T>, ...args: A): Future<Awaited<T>> {
  return getRunningLoop().runInExecutor(null, func, ...args);
}
