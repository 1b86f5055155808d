/**
 * Shared helpers of the test suite: a fresh virtual-time loop per test, and
 * a way to collect what the loop reports to its exception handler.
 */
import assert from "node:assert/strict";
import type { AbstractEventLoop, Awaitable, Coroutine, ExceptionContext } from "asyncio-ts";
import { VirtualTimeLoop } from "asyncio-ts/testing";

/** Runs `body` with a fresh `VirtualTimeLoop` that is closed afterwards. */
export async function withLoop<T>(body: (loop: VirtualTimeLoop) => Promise<T> | T): Promise<T> {
  const loop = new VirtualTimeLoop();
  try {
    return await body(loop);
  } finally {
    if (loop.isRunning()) loop.stop();
    if (!loop.isRunning()) loop.close();
  }
}

/** Installs an exception handler on `loop` that records every context it is given. */
export function captureExceptions(loop: AbstractEventLoop): ExceptionContext[] {
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    seen.push(context);
  });
  return seen;
}

/**
 * A 2-second guard for tests that wait on real Node callbacks: a loop that
 * is never woken fails the test instead of hanging the file. Passing tests
 * never wait for it.
 */
export function watchdog(loop: AbstractEventLoop): { fired: boolean; release(): void } {
  const guard = {
    fired: false,
    release: () => clearTimeout(timer),
  };
  const timer = setTimeout(() => {
    guard.fired = true;
    if (loop.isRunning()) loop.stop();
  }, 2000);
  timer.unref();
  return guard;
}

/** Runs `aw` to completion and returns what it threw (failing if it did not throw). */
export function* thrownBy(aw: Awaitable<unknown>): Coroutine<unknown> {
  try {
    yield* aw;
  } catch (e) {
    return e;
  }
  assert.fail("expected an error");
}

/** `assert.rejects` for any awaitable: a `Coro` is `PromiseLike`, not a `Promise`. */
export function rejects(aw: PromiseLike<unknown>, expected: assert.AssertPredicate): Promise<void> {
  return assert.rejects(Promise.resolve(aw), expected);
}

/** Runs the garbage collector (the suite runs with --expose-gc) and gives finalizers a few turns. */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc !== undefined, "the tests run with --expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}
