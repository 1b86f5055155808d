/**
 * `staggeredRace` (staggered.ts), on virtual
 * time: attempts start one `delay` apart or as soon as the previous one
 * failed, the first success wins and cancels the rest, cancelling the race
 * cancels every attempt; in both
 * coroutine styles.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";

const { staggeredRace } = asyncio;

test("the first success wins; later attempts start after the delay and are cancelled (generator coroutine)", async () => {
  await runVirtual(function* () {
    const loop = asyncio.getRunningLoop();
    const started: [number, number][] = [];
    const cancelled: number[] = [];
    const attempt = (i: number, duration: number) =>
      function* () {
        started.push([i, loop.time()]);
        try {
          yield* asyncio.sleep(duration);
        } catch (error) {
          if (error instanceof asyncio.CancelledError) cancelled.push(i);
          throw error;
        }
        return `attempt ${i}`;
      };
    const t0 = loop.time();
    const [result, index, errors] = yield* staggeredRace([attempt(0, 10), attempt(1, 0.5), attempt(2, 10)], 1);
    assert.equal(result, "attempt 1");
    assert.equal(index, 1);
    // As in CPython, the loser's CancelledError is its recorded error; the third never started.
    assert.equal(errors.length, 2);
    assert.ok(errors[0] instanceof asyncio.CancelledError);
    assert.equal(errors[1], null);
    assert.deepEqual(
      started.map(([i, t]) => [i, t - t0]),
      [
        [0, 0],
        [1, 1],
      ],
      "the third would start at 2 s, but the second won at 1.5 s",
    );
    assert.deepEqual(cancelled, [0]);
  });
});

test("a failure starts the next attempt at once; all failing gives every error (async function)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const t0 = loop.time();
    const times: number[] = [];
    const failing = (i: number) => async () => {
      times.push(loop.time() - t0);
      await asyncio.sleep(0.1);
      throw new Error(`no ${i}`);
    };
    const [result, index, errors] = await staggeredRace([failing(0), failing(1), failing(2)], 5);
    assert.equal(result, null);
    assert.equal(index, null);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ["no 0", "no 1", "no 2"],
    );
    assert.deepEqual(
      times.map((t) => Math.round(t * 10) / 10),
      [0, 0.1, 0.2],
    );
    // delay null: strictly one after the other
    const [r2] = await staggeredRace([failing(3), async () => "ok"], null);
    assert.equal(r2, "ok");
  });
});

test("cancelling the race cancels every attempt (both styles)", async () => {
  await runVirtual(function* () {
    const loop = asyncio.getRunningLoop();
    const cancelled: number[] = [];
    const slow = (i: number) =>
      function* () {
        try {
          yield* asyncio.sleep(100);
        } finally {
          cancelled.push(i);
        }
      };
    const race = loop.createTask(staggeredRace<void>([slow(0), slow(1)], 1) as asyncio.Coro<unknown>);
    yield* asyncio.sleep(1.5);
    race.cancel();
    try {
      yield* race;
      assert.fail("not cancelled");
    } catch (error) {
      assert.ok(error instanceof asyncio.CancelledError);
    }
    assert.deepEqual(cancelled.sort(), [0, 1]);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const cancelled: number[] = [];
    const slow = (i: number) => async () => {
      try {
        await asyncio.sleep(100);
      } finally {
        cancelled.push(i);
      }
    };
    const race = loop.createTask(async () => await staggeredRace([slow(0), slow(1), slow(2)], 1));
    await asyncio.sleep(1.5);
    race.cancel();
    await assert.rejects(Promise.resolve(race), asyncio.CancelledError);
    assert.deepEqual(cancelled.sort(), [0, 1], "the third had not started");
  });
});
