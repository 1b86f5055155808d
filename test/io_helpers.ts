/**
 * Helpers of the I/O tests (UDP, pipes, subprocesses, signals): run a test
 * script on a real `EventLoop` in either coroutine style, bounded by the
 * watchdog, and check that the loop left no ref'd resource behind.
 */
import assert from "node:assert/strict";
import * as asyncio from "asyncio-ts";
import type { Script, Style } from "./sync_helpers.js";
import { coro } from "./sync_helpers.js";

export type { Script, Style } from "./sync_helpers.js";
export { STYLES } from "./sync_helpers.js";

/** What keeps the process alive once handles being closed are gone, sorted (to compare before and after a test). */
export async function activeResources(): Promise<string[]> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  return process
    .getActiveResourcesInfo()
    .filter((r) => r !== "TTYWrap" && r !== "Timeout" && r !== "CloseReq")
    .sort();
}

/** Stops `loop` after `seconds` (a guard against a hang, never reached by a passing test). */
function watchdog(loop: asyncio.AbstractEventLoop, seconds: number): { fired: boolean; release(): void } {
  const guard = { fired: false, release: () => clearTimeout(timer) };
  const timer = setTimeout(() => {
    guard.fired = true;
    if (loop.isRunning()) loop.stop();
  }, seconds * 1000);
  timer.unref();
  return guard;
}

/**
 * Runs `script` in `style` on a fresh `EventLoop` (closed afterwards),
 * failing instead of hanging if it does not finish within `limit` seconds
 * (2 by default; tests that start Node child processes on a busy machine
 * need more), and checks that nothing it opened keeps the process alive.
 */
export async function runIo<T>(style: Style, script: Script<T>, loop = new asyncio.EventLoop(), limit = 2): Promise<T> {
  const before = await activeResources();
  const guard = watchdog(loop, limit);
  let result: T;
  try {
    result = await loop.runUntilComplete(coro(style, script));
  } catch (error) {
    if (guard.fired) assert.fail(`the test did not finish within ${limit} seconds`);
    throw error;
  } finally {
    guard.release();
    if (!loop.isClosed()) loop.close();
  }
  assert.deepEqual(await activeResources(), before, "the test left resources keeping the process alive");
  return result;
}

/** A future of the running loop, to be settled by a protocol callback. */
export function future<T = void>(): asyncio.Future<T> {
  return asyncio.getRunningLoop().createFuture<T>();
}
