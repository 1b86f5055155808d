/**
 * Code outside the loop talking to it: `callSoonThreadsafe` from Node
 * callbacks (a raw `setTimeout`, an `EventEmitter` listener, a native fs
 * callback) wakes an idle loop; `runCoroutineThreadsafe` returns a
 * `ConcurrentFuture` (Python's `concurrent.futures.Future` shape);
 * `wrapFuture` turns one (or any PromiseLike) into an asyncio future.
 * Both coroutine styles throughout.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { stat } from "node:fs";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { watchdog } from "./helpers.js";

test("callSoonThreadsafe from a raw setTimeout wakes an idle loop", async () => {
  const loop = new asyncio.EventLoop();
  const guard = watchdog(loop);
  const seen: string[] = [];
  const wake = (what: string): void => {
    seen.push(what);
    loop.stop();
  };
  setTimeout(() => loop.callSoonThreadsafe(wake, "woken"), 20);
  await loop.runForever();
  guard.release();
  loop.close();
  assert.equal(guard.fired, false, "the loop was woken, not stopped by the watchdog");
  assert.deepEqual(seen, ["woken"]);
});

for (const style of ["generator", "async"] as const) {
  test(`a task waits on a future completed from an EventEmitter listener, a setTimeout and a native callback (${style})`, async () => {
    const emitter = new EventEmitter();
    const result = await asyncio.run(
      style === "generator"
        ? (function* (): asyncio.Coroutine<unknown[]> {
            const loop = asyncio.getRunningLoop();
            const guard = watchdog(loop);
            const [a, b, c] = [loop.createFuture<string>(), loop.createFuture<string>(), loop.createFuture<boolean>()];
            emitter.once("event", (value: string) => loop.callSoonThreadsafe(() => a.setResult(value)));
            setTimeout(() => emitter.emit("event", "emitted"), 5);
            setTimeout(() => loop.callSoonThreadsafe(() => b.setResult("timer")), 10);
            stat(".", (error, stats) => loop.callSoonThreadsafe(() => c.setResult(error === null && stats.isDirectory())));
            const values = [yield* a, yield* b, yield* c];
            guard.release();
            return values;
          })()
        : async () => {
            const loop = asyncio.getRunningLoop();
            const guard = watchdog(loop);
            const [a, b, c] = [loop.createFuture<string>(), loop.createFuture<string>(), loop.createFuture<boolean>()];
            emitter.once("event", (value: string) => loop.callSoonThreadsafe(() => a.setResult(value)));
            setTimeout(() => emitter.emit("event", "emitted"), 5);
            setTimeout(() => loop.callSoonThreadsafe(() => b.setResult("timer")), 10);
            stat(".", (error, stats) => loop.callSoonThreadsafe(() => c.setResult(error === null && stats.isDirectory())));
            const values = [await a, await b, await c];
            guard.release();
            return values;
          },
    );
    assert.deepEqual(result, ["emitted", "timer", true]);
  });

  test(`runCoroutineThreadsafe from a Node callback runs a ${style} coroutine and returns a ConcurrentFuture`, async () => {
    const seen: unknown[] = [];
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const guard = watchdog(loop);
      const double =
        style === "generator"
          ? (x: number) =>
              (function* (): asyncio.Coroutine<number> {
                yield* asyncio.sleep(0.001);
                return 2 * x;
              })()
          : (x: number) => async () => {
              await asyncio.sleep(0.001);
              return 2 * x;
            };
      // Boxed: resolving with the future itself would adopt it (it is a thenable).
      const outside = new Promise<{ future: asyncio.ConcurrentFuture<number> }>((resolve) =>
        setTimeout(() => {
          const future = asyncio.runCoroutineThreadsafe(double(21), loop);
          assert.ok(future instanceof asyncio.ConcurrentFuture);
          assert.throws(() => future.result(), asyncio.InvalidStateError);
          future.addDoneCallback((f) => seen.push(`done callback: ${f.result()}`));
          // Code outside the loop awaits it as a Promise.
          future.then((value) => seen.push(`then: ${value}`));
          resolve({ future });
        }, 1),
      );
      const { future } = await outside;
      // Inside the loop, wrapFuture makes it an asyncio future.
      seen.push(`wrapped: ${await asyncio.wrapFuture(future)}`);
      assert.equal(future.done(), true);
      assert.equal(future.exception(), null);
      assert.match(inspect(future), /^<ConcurrentFuture state=finished returned number>$/);
      const late: unknown[] = [];
      future.addDoneCallback((f) => late.push(f.result()));
      assert.deepEqual(late, [42], "a done callback added to a done future runs at once");
      guard.release();
    });
    assert.deepEqual(seen.sort(), ["done callback: 42", "then: 42", "wrapped: 42"]);
  });

  test(`runCoroutineThreadsafe: an exception, and cancelling the concurrent future cancels the task (${style})`, async () => {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const guard = watchdog(loop);
      const failing =
        style === "generator"
          ? (function* (): asyncio.Coroutine<never> {
              yield* asyncio.sleep(0);
              throw new asyncio.ValueError("nope");
            })()
          : async (): Promise<never> => {
              await asyncio.sleep(0);
              throw new asyncio.ValueError("nope");
            };
      const failed = asyncio.runCoroutineThreadsafe(failing, loop);
      await assert.rejects(Promise.resolve(failed), asyncio.ValueError);
      assert.ok(failed.exception() instanceof asyncio.ValueError);

      const cleanup: string[] = [];
      const started = loop.createFuture<void>();
      const slow =
        style === "generator"
          ? (function* (): asyncio.Coroutine<void> {
              started.setResult();
              try {
                yield* asyncio.sleep(3600);
              } finally {
                cleanup.push("finally ran");
              }
            })()
          : async (): Promise<void> => {
              started.setResult();
              try {
                await asyncio.sleep(3600);
              } finally {
                cleanup.push("finally ran");
              }
            };
      const running = asyncio.runCoroutineThreadsafe(slow, loop);
      await started;
      assert.equal(running.running(), false, "the concurrent future is pending until the task ends");
      assert.equal(running.cancel(), true);
      assert.equal(running.cancelled(), true);
      await asyncio.sleep(0.01);
      assert.deepEqual(cleanup, ["finally ran"], "the task was cancelled");
      assert.throws(() => running.result(), asyncio.CancelledError);
      guard.release();
    });
  });
}

test("runCoroutineThreadsafe refuses what is not a coroutine", () => {
  const loop = new asyncio.EventLoop();
  try {
    assert.throws(
      () => asyncio.runCoroutineThreadsafe(42 as never, loop),
      /A coroutine \(or a function starting one\) is required/,
    );
    assert.throws(() => asyncio.runCoroutineThreadsafe(Promise.resolve(1) as never, loop), TypeError);
  } finally {
    loop.close();
  }
});

for (const style of ["generator", "async"] as const) {
  test(`wrapFuture: a ConcurrentFuture, a Promise, a Future; cancelling the wrapper cancels a pending concurrent future (${style})`, async () => {
    await asyncio.run(
      style === "generator"
        ? (function* (): asyncio.Coroutine<void> {
            const concurrent = new asyncio.ConcurrentFuture<string>();
            setTimeout(() => concurrent.setResult("set outside"), 1);
            assert.equal(yield* asyncio.wrapFuture(concurrent), "set outside");
            assert.equal(yield* asyncio.wrapFuture(Promise.resolve(7)), 7);
            const future = asyncio.getRunningLoop().createFuture<number>();
            assert.equal(asyncio.wrapFuture(future), future);
            const pending = new asyncio.ConcurrentFuture<number>();
            const wrapper = asyncio.wrapFuture(pending);
            wrapper.cancel();
            yield* asyncio.sleep(0);
            assert.equal(pending.cancelled(), true);
          })()
        : async () => {
            const concurrent = new asyncio.ConcurrentFuture<string>();
            setTimeout(() => concurrent.setException(new RangeError("failed outside")), 1);
            await assert.rejects(Promise.resolve(asyncio.wrapFuture(concurrent)), RangeError);
            assert.equal(await asyncio.wrapFuture(Promise.resolve(7)), 7);
            const pending = new asyncio.ConcurrentFuture<number>();
            const wrapper = asyncio.wrapFuture(pending);
            wrapper.cancel();
            await asyncio.sleep(0);
            assert.equal(pending.cancelled(), true);
            assert.throws(() => asyncio.wrapFuture(42 as never), /wrapFuture\(\) needs a ConcurrentFuture or a PromiseLike/);
          },
    );
  });
}

test("ConcurrentFuture: states, setRunningOrNotifyCancel, errors of done callbacks are logged", async () => {
  const future = new asyncio.ConcurrentFuture<number>();
  assert.equal(future.state, "PENDING");
  assert.throws(() => future.exception(), /JavaScript cannot block, await the future instead/);
  assert.equal(future.setRunningOrNotifyCancel(), true);
  assert.equal(future.running(), true);
  assert.equal(future.cancel(), false, "a running future cannot be cancelled");
  const errors: unknown[] = [];
  asyncio.setLogger({ debug() {}, info() {}, warn() {}, error: (...a: unknown[]) => errors.push(a[0]) });
  try {
    future.addDoneCallback(() => {
      throw new Error("callback failed");
    });
    future.setResult(5);
  } finally {
    asyncio.setLogger(null);
  }
  assert.match(String(errors[0]), /exception calling callback for <ConcurrentFuture state=finished returned number>/);
  assert.equal(await future, 5);
  assert.throws(() => future.setResult(6), asyncio.InvalidStateError);
  const cancelled = new asyncio.ConcurrentFuture();
  assert.equal(cancelled.cancel(), true);
  assert.equal(cancelled.setRunningOrNotifyCancel(), false);
  await assert.rejects(Promise.resolve(cancelled), asyncio.CancelledError);
});
