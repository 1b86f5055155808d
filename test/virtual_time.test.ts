/**
 * `VirtualTimeLoop` and `runVirtual` (asyncio-ts/testing): autojump makes
 * long sleeps instant and exact, `advance()` moves the clock by hand, and
 * real Node callbacks still reach the loop.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import type { VirtualTimeLoopOptions } from "asyncio-ts/testing";
import { runVirtual, VirtualTimeLoop } from "asyncio-ts/testing";
import { watchdog } from "./helpers.js";

/** `runVirtual` with a watchdog on the loop. */
async function runGuarded<T>(main: asyncio.CoroutineLike<T>, options: VirtualTimeLoopOptions = {}): Promise<T> {
  let guard: { fired: boolean; release(): void } | undefined;
  try {
    return await asyncio.run(main, {
      loopFactory: () => {
        const loop = new VirtualTimeLoop(options);
        guard = watchdog(loop);
        return loop;
      },
    });
  } finally {
    guard?.release();
    assert.equal(guard?.fired, false, "the loop did its work before the watchdog stopped it");
  }
}

test("a VirtualTimeLoop is an EventLoop whose clock starts at 0 (or at `start`)", () => {
  const loop = new VirtualTimeLoop();
  const started = new VirtualTimeLoop({ start: 100 });
  try {
    assert.ok(loop instanceof asyncio.EventLoop);
    assert.equal(loop.time(), 0);
    assert.equal(started.time(), 100);
  } finally {
    loop.close();
    started.close();
  }
});

test("with autojump, sleep(3600) is instant and time() advances by exactly 3600 (both styles)", async () => {
  function* gen(): asyncio.Coroutine<number[]> {
    const loop = asyncio.getRunningLoop();
    const start = loop.time();
    yield* asyncio.sleep(3600);
    const afterHour = loop.time() - start;
    yield* asyncio.sleep(0.25);
    return [afterHour, loop.time() - start];
  }
  assert.deepEqual(await runGuarded(gen()), [3600, 3600.25]);
  const native = await runGuarded(async () => {
    const loop = asyncio.getRunningLoop();
    const start = loop.time();
    await asyncio.sleep(3600);
    const afterHour = loop.time() - start;
    await asyncio.sleep(86400 * 365);
    return [afterHour, loop.time() - start];
  });
  assert.deepEqual(native, [3600, 3600 + 86400 * 365]);
});

test("with autojump, timers still fire at large clock values (where time + 1e-9 rounds to time)", { timeout: 5000 }, async () => {
  const seen = await runGuarded(
    async () => {
      const loop = asyncio.getRunningLoop();
      await asyncio.sleep(1);
      const afterOne = loop.time();
      await asyncio.sleep(0.5);
      return [afterOne, loop.time()];
    },
    { start: 1e9 },
  );
  assert.deepEqual(seen, [1e9 + 1, 1e9 + 1.5]);
});

test("with autojump, concurrent sleepers wake in order, each at its exact time", async () => {
  const woke = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const seen: [string, number][] = [];
    const sleeper = async (name: string, delay: number): Promise<void> => {
      await asyncio.sleep(delay);
      seen.push([name, loop.time()]);
    };
    function* genSleeper(name: string, delay: number): asyncio.Coroutine<void> {
      yield* asyncio.sleep(delay);
      seen.push([name, loop.time()]);
    }
    await Promise.all([
      asyncio.createTask(() => sleeper("c", 30)),
      asyncio.createTask(genSleeper("a", 10)),
      asyncio.createTask(() => sleeper("b", 20)),
    ]);
    return seen;
  });
  assert.deepEqual(woke, [
    ["a", 10],
    ["b", 20],
    ["c", 30],
  ]);
});

test("with autojump: false, advance(dt) runs exactly the timers that are due", async () => {
  const loop = new VirtualTimeLoop({ autojump: false });
  try {
    const seen: [string, number][] = [];
    for (const [name, delay] of [
      ["t1", 1],
      ["t2", 2],
      ["t2.5", 2.5],
      ["t3", 3],
    ] as const) {
      loop.callLater(delay, () => seen.push([name, loop.time()]));
    }
    const runOneIteration = async (): Promise<void> => {
      loop.stop();
      await loop.runForever();
    };
    await runOneIteration();
    assert.deepEqual(seen, []);
    loop.advance(2.5);
    await runOneIteration();
    assert.deepEqual(seen, [
      ["t1", 2.5],
      ["t2", 2.5],
      ["t2.5", 2.5],
    ]);
    loop.advance(0.4);
    await runOneIteration();
    assert.equal(seen.length, 3);
    loop.advance(0.1);
    await runOneIteration();
    assert.deepEqual(seen.at(-1), ["t3", 3]);
    assert.equal(loop.time(), 3);
  } finally {
    loop.close();
  }
});

test("with autojump: false, a running loop waits for advance() called from outside", { timeout: 5000 }, async () => {
  const loop = new VirtualTimeLoop({ autojump: false });
  const guard = watchdog(loop);
  try {
    setImmediate(() => loop.advance(4));
    setTimeout(() => loop.advance(1), 5);
    const elapsed = await loop.runUntilComplete(async () => {
      await asyncio.sleep(5);
      return loop.time();
    });
    assert.equal(elapsed, 5);
  } finally {
    guard.release();
    loop.close();
  }
  assert.equal(guard.fired, false, "the loop did its work before the watchdog stopped it");
});

test("advance() with a negative, NaN or non-number value is a ValueError", () => {
  const loop = new VirtualTimeLoop({ autojump: false });
  try {
    assert.throws(() => loop.advance(-1), asyncio.ValueError);
    assert.throws(() => loop.advance(Number.NaN), asyncio.ValueError);
    assert.throws(() => loop.advance("1" as unknown as number), asyncio.ValueError);
    assert.equal(loop.time(), 0);
    loop.advance(0);
    assert.equal(loop.time(), 0);
  } finally {
    loop.close();
  }
});

test("sleep(Infinity) never fires and does not move the clock; it can be cancelled", { timeout: 5000 }, async () => {
  const outcome = await runGuarded(async () => {
    const loop = asyncio.getRunningLoop();
    const forever = asyncio.createTask(asyncio.sleep(Number.POSITIVE_INFINITY));
    async function nativeForever(): Promise<void> {
      await asyncio.sleep(Number.POSITIVE_INFINITY);
    }
    const foreverNative = asyncio.createTask(nativeForever);
    // The only timers are the infinite ones while this waits for real time to pass.
    const woken = loop.createFuture<void>();
    setTimeout(() => loop.callSoonThreadsafe(() => woken.setResult(undefined)), 5);
    await woken;
    const timeAfterWait = loop.time();
    await asyncio.sleep(1000);
    const stillPending = !forever.done() && !foreverNative.done();
    forever.cancel();
    foreverNative.cancel();
    for (const task of [forever, foreverNative]) await task.then(undefined, () => {});
    return { timeAfterWait, stillPending, cancelled: forever.cancelled() && foreverNative.cancelled(), end: loop.time() };
  });
  assert.deepEqual(outcome, { timeAfterWait: 0, stillPending: true, cancelled: true, end: 1000 });
});

test("the virtual loop lets Node callbacks in before jumping to a far-future timer", { timeout: 5000 }, async () => {
  const seen = await runGuarded(async () => {
    const loop = asyncio.getRunningLoop();
    const far = asyncio.createTask(asyncio.sleep(1000));
    const io = loop.createFuture<string>();
    // Queued before the loop goes idle, so it runs before the loop's own jump.
    setImmediate(() => loop.callSoonThreadsafe(() => io.setResult("from setImmediate")));
    const value = await io;
    const record = { value, time: loop.time(), farDone: far.done() };
    far.cancel();
    await far.then(undefined, () => {});
    return record;
  });
  assert.deepEqual(seen, { value: "from setImmediate", time: 0, farDone: false });
});

test("without autojump, a real Node timer reaches the loop while a far-future timer waits", { timeout: 5000 }, async () => {
  const loop = new VirtualTimeLoop({ autojump: false });
  const guard = watchdog(loop);
  try {
    const seen = await loop.runUntilComplete(async () => {
      const far = asyncio.createTask(asyncio.sleep(1000));
      const io = loop.createFuture<string>();
      setTimeout(() => loop.callSoonThreadsafe(() => io.setResult("from setTimeout")), 0);
      const value = await io;
      const record = { value, time: loop.time(), farDone: far.done() };
      far.cancel();
      await far.then(undefined, () => {});
      return record;
    });
    assert.deepEqual(seen, { value: "from setTimeout", time: 0, farDone: false });
  } finally {
    guard.release();
    loop.close();
  }
  assert.equal(guard.fired, false, "the loop did its work before the watchdog stopped it");
});

test("runVirtual passes debug and loop options through", async () => {
  const seen = await runVirtual(async () => [asyncio.getRunningLoop().getDebug(), asyncio.getRunningLoop().time()], {
    debug: true,
    start: 50,
  });
  assert.deepEqual(seen, [true, 50]);
});
