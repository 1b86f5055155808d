/**
 * Task cancellation in both coroutine styles: before the first step, while
 * awaiting a future, a task, a generator Coro or a foreign Promise; cancel
 * messages; cancelling()/uncancel() bookkeeping (CPython 3.13 rules);
 * coroutines that suppress the cancellation; finally blocks that await.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";

function isCancelled(message?: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof asyncio.CancelledError && (message === undefined || e.message === message);
}

/** What awaiting `task` throws (from a generator coroutine). */
function* errorOf(task: asyncio.Future<unknown>): asyncio.Coroutine<unknown> {
  try {
    yield* task;
  } catch (e) {
    return e;
  }
  assert.fail(`${task} did not fail`);
}

// ---- before the first step ---------------------------------------------------

test("cancel before the first step: the generator body never runs", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let ran = false;
    let closed = false;
    function* body(): asyncio.Coroutine<void> {
      try {
        ran = true;
        yield* asyncio.sleep(1);
      } finally {
        closed = true;
      }
    }
    const task = asyncio.createTask(body());
    assert.equal(task.cancel("early"), true);
    assert.equal(task.cancelling(), 1);
    assert.ok(isCancelled("early")(yield* errorOf(task)));
    assert.equal(task.cancelled(), true);
    assert.equal(ran, false);
    assert.equal(closed, false, "a generator that never started has no finally to run");
  });
});

test("cancel before the first step: the native function is never called", async () => {
  await runVirtual(async () => {
    let ran = false;
    const task = asyncio.createTask(async () => {
      ran = true;
    });
    task.cancel("early");
    await assert.rejects(async () => await task, isCancelled("early"));
    assert.equal(task.cancelled(), true);
    assert.equal(ran, false);
  });
});

// ---- while awaiting a future -------------------------------------------------

test("cancel while a generator awaits a future: the future is cancelled, the error is thrown at the yield*", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    const seen: unknown[] = [];
    const task = asyncio.createTask(function* () {
      try {
        yield* fut;
      } catch (e) {
        seen.push(e);
        throw e;
      }
    });
    yield* asyncio.sleep(0);
    assert.equal(task.cancel("stop"), true);
    assert.equal(fut.cancelled(), true, "the awaited future is cancelled at once");
    assert.ok(isCancelled("stop")(yield* errorOf(task)));
    assert.equal(task.cancelled(), true);
    assert.equal(seen.length, 1);
    assert.ok(isCancelled("stop")(seen[0]));
  });
});

test("cancel while a native function awaits a future: the future is cancelled, the error is thrown at the await", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    const seen: unknown[] = [];
    const task = asyncio.createTask(async () => {
      try {
        await fut;
      } catch (e) {
        seen.push(e);
        throw e;
      }
    });
    await asyncio.sleep(0);
    assert.equal(task.cancel("stop"), true);
    assert.equal(fut.cancelled(), true, "the awaited future is cancelled at once");
    await assert.rejects(async () => await task, isCancelled("stop"));
    assert.equal(task.cancelled(), true);
    assert.equal(seen.length, 1);
    assert.ok(isCancelled("stop")(seen[0]));
  });
});

test("cancel while sleeping, both styles: the sleep ends at once with CancelledError", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const start = loop.time();
    const gen = asyncio.createTask(function* () {
      yield* asyncio.sleep(100);
    });
    const native = asyncio.createTask(async () => {
      await asyncio.sleep(100);
    });
    const zeroGen = asyncio.createTask(function* () {
      for (;;) yield* asyncio.sleep(0);
    });
    const zeroNative = asyncio.createTask(async () => {
      for (;;) await asyncio.sleep(0);
    });
    // Busy tasks keep the virtual clock still: yield a few iterations instead of sleeping.
    for (let i = 0; i < 3; i++) await asyncio.sleep(0);
    for (const t of [gen, native, zeroGen, zeroNative]) t.cancel();
    for (const t of [gen, native, zeroGen, zeroNative]) await assert.rejects(async () => await t, isCancelled());
    assert.equal(loop.time(), start, "the 100-second sleeps ended at once");
  });
});

test("a cancelled future whose result arrived first still cancels the generator (the cancel wins, as in CPython)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    const task = asyncio.createTask(function* () {
      return yield* fut;
    });
    yield* asyncio.sleep(0);
    fut.setResult(1);
    assert.equal(task.cancel(), true, "the task is still pending");
    assert.ok(isCancelled()(yield* errorOf(task)));
  });
});

// ---- a native function suspended on a foreign Promise ----------------------------

test("native task on a foreign Promise: the cancellation is delivered at its next asyncio await", async () => {
  await runVirtual(async () => {
    let release!: (v: string) => void;
    const foreign = new Promise<string>((resolve) => {
      release = resolve;
    });
    const events: string[] = [];
    const task = asyncio.createTask(async () => {
      const v = await foreign;
      events.push(`foreign resolved: ${v}`);
      try {
        await asyncio.sleep(10);
        events.push("slept");
      } catch (e) {
        events.push(e instanceof asyncio.CancelledError ? `cancelled: ${e.message}` : "other");
        throw e;
      }
    });
    await asyncio.sleep(0);
    assert.equal(task.cancel("late"), true);
    assert.equal(task.done(), false);
    release("x");
    await assert.rejects(async () => await task, isCancelled("late"));
    assert.deepEqual(events, ["foreign resolved: x", "cancelled: late"]);
  });
});

test("native task on a foreign Promise: if it returns before awaiting asyncio again, it ends cancelled", async () => {
  await runVirtual(async () => {
    let release!: (v: string) => void;
    const foreign = new Promise<string>((resolve) => {
      release = resolve;
    });
    let returned = false;
    const task = asyncio.createTask(async () => {
      const v = await foreign;
      returned = true;
      return v;
    });
    await asyncio.sleep(0);
    task.cancel("while away");
    release("x");
    await assert.rejects(async () => await task, isCancelled("while away"));
    assert.equal(returned, true);
    assert.equal(task.cancelled(), true);
  });
});

test("native task on a foreign Promise: the next await of a pending future is cancelled with it", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let release!: () => void;
    const foreign = new Promise<void>((resolve) => {
      release = resolve;
    });
    const next = loop.createFuture<number>();
    const task = asyncio.createTask(async () => {
      await foreign;
      return await next;
    });
    await asyncio.sleep(0);
    task.cancel();
    release();
    await assert.rejects(async () => await task, isCancelled());
    assert.equal(next.cancelled(), true);
  });
});

// ---- counts and messages -------------------------------------------------------

test("cancel twice: both return true, cancelling() is 2, the task is cancelled once (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const gen = asyncio.createTask(asyncio.sleep(10));
    const native = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    yield* asyncio.sleep(0);
    for (const task of [gen, native]) {
      assert.equal(task.cancelling(), 0);
      assert.equal(task.cancel(), true);
      assert.equal(task.cancel(), true);
      assert.equal(task.cancelling(), 2);
    }
    for (const task of [gen, native]) {
      assert.ok(isCancelled()(yield* errorOf(task)));
      assert.equal(task.cancelled(), true);
    }
  });
});

test("cancel() on a done task returns false and does not count", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const ok = asyncio.createTask(async () => 1);
    // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
    const failed = asyncio.createTask(function* () {
      throw new asyncio.ValueError("x");
    });
    const cancelled = asyncio.createTask(asyncio.sleep(1));
    cancelled.cancel();
    yield* asyncio.sleep(0);
    yield* asyncio.sleep(0);
    for (const task of [ok, failed, cancelled]) {
      assert.equal(task.done(), true);
      const before = task.cancelling();
      assert.equal(task.cancel(), false);
      assert.equal(task.cancelling(), before);
    }
    assert.equal(ok.result(), 1);
    assert.ok(failed.exception() instanceof asyncio.ValueError);
  });
});

test("the cancel message reaches whoever awaits the task (both styles, generator and native awaiters)", async () => {
  await runVirtual(async () => {
    const gen = asyncio.createTask(asyncio.sleep(10));
    const native = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    const awaitedByGen = asyncio.createTask(function* () {
      try {
        yield* gen;
      } catch (e) {
        return e instanceof asyncio.CancelledError ? e.message : "other";
      }
      return "not cancelled";
    });
    const awaitedByNative = asyncio.createTask(async () => {
      try {
        await native;
      } catch (e) {
        return e instanceof asyncio.CancelledError ? e.message : "other";
      }
      return "not cancelled";
    });
    await asyncio.sleep(0);
    gen.cancel("message one");
    native.cancel("message two");
    assert.equal(await awaitedByGen, "message one");
    assert.equal(await awaitedByNative, "message two");
    assert.throws(() => gen.result(), isCancelled("message one"));
    assert.throws(() => native.exception(), isCancelled("message two"));
  });
});

test("a task awaiting a cancelled task ends cancelled too (the CancelledError propagates)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const inner = asyncio.createTask(asyncio.sleep(10));
    const outerGen = asyncio.createTask(function* () {
      yield* inner;
    });
    const outerNative = asyncio.createTask(async () => {
      await inner;
    });
    yield* asyncio.sleep(0);
    inner.cancel("inner");
    assert.ok(isCancelled("inner")(yield* errorOf(outerGen)));
    assert.ok(isCancelled("inner")(yield* errorOf(outerNative)));
    assert.equal(outerGen.cancelled(), true);
    assert.equal(outerNative.cancelled(), true);
  });
});

// ---- suppressing the cancellation; uncancel() --------------------------------------

test("a coroutine that catches CancelledError and returns a value: the task is not cancelled (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const gen = asyncio.createTask(function* () {
      try {
        yield* asyncio.sleep(10);
      } catch (e) {
        if (!(e instanceof asyncio.CancelledError)) throw e;
        yield* asyncio.sleep(1); // further awaits are not cancelled
        return "recovered";
      }
      return "slept";
    });
    const native = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch (e) {
        if (!(e instanceof asyncio.CancelledError)) throw e;
        await asyncio.sleep(1);
        return "recovered";
      }
      return "slept";
    });
    yield* asyncio.sleep(0);
    gen.cancel();
    native.cancel();
    assert.equal(yield* gen, "recovered");
    assert.equal(yield* native, "recovered");
    for (const task of [gen, native]) {
      assert.equal(task.cancelled(), false);
      assert.equal(task.cancelling(), 1, "the request stays counted until uncancel()");
      assert.equal(task.uncancel(), 0);
      assert.equal(task.uncancel(), 0, "uncancel() does not go below 0");
    }
  });
});

test("uncancel() inside the task takes the request back; cancelling() counts (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const counts: number[][] = [[], []];
    const gen = asyncio.createTask(function* () {
      const me = asyncio.currentTask() as asyncio.Task<unknown>;
      try {
        yield* asyncio.sleep(10);
      } catch {
        counts[0].push(me.cancelling());
        counts[0].push(me.uncancel());
      }
      counts[0].push(me.cancelling());
      yield* asyncio.sleep(1);
      return "done";
    });
    const native = asyncio.createTask(async () => {
      const me = asyncio.currentTask() as asyncio.Task<unknown>;
      try {
        await asyncio.sleep(10);
      } catch {
        counts[1].push(me.cancelling());
        counts[1].push(me.uncancel());
      }
      counts[1].push(me.cancelling());
      await asyncio.sleep(1);
      return "done";
    });
    yield* asyncio.sleep(0);
    gen.cancel();
    native.cancel();
    assert.equal(yield* gen, "done");
    assert.equal(yield* native, "done");
    assert.deepEqual(counts, [
      [1, 0, 0],
      [1, 0, 0],
    ]);
  });
});

test("uncancel() down to 0 clears a pending cancel request (CPython 3.13), both styles", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let genRan = false;
    let nativeRan = false;
    const gen = asyncio.createTask(function* () {
      genRan = true;
      yield* asyncio.sleep(1);
      return "gen";
    });
    const native = asyncio.createTask(async () => {
      nativeRan = true;
      await asyncio.sleep(1);
      return "native";
    });
    for (const task of [gen, native]) {
      task.cancel();
      task.cancel();
      assert.equal(task.uncancel(), 1);
      assert.equal(task.uncancel(), 0);
    }
    assert.equal(yield* gen, "gen");
    assert.equal(yield* native, "native");
    assert.equal(genRan, true);
    assert.equal(nativeRan, true);
  });
});

test("uncancel() leaving a count above 0 keeps the pending request", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const task = asyncio.createTask(asyncio.sleep(1));
    task.cancel();
    task.cancel();
    assert.equal(task.uncancel(), 1);
    assert.ok(isCancelled()(yield* errorOf(task)));
  });
});

test("a task that cancels itself gets CancelledError at its next suspension (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const events: string[] = [];
    const gen = asyncio.createTask(function* () {
      (asyncio.currentTask() as asyncio.Task<unknown>).cancel("self");
      events.push("gen still running");
      yield* asyncio.sleep(0);
      events.push("gen after sleep");
    });
    const native = asyncio.createTask(async () => {
      (asyncio.currentTask() as asyncio.Task<unknown>).cancel("self");
      events.push("native still running");
      await asyncio.sleep(0);
      events.push("native after sleep");
    });
    assert.ok(isCancelled("self")(yield* errorOf(gen)));
    assert.ok(isCancelled("self")(yield* errorOf(native)));
    assert.deepEqual(events, ["gen still running", "native still running"]);
  });
});

// ---- cleanup -------------------------------------------------------------------------

test("a finally block that awaits during cancellation runs to completion (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const events: string[] = [];
    const gen = asyncio.createTask(function* () {
      try {
        yield* asyncio.sleep(10);
      } finally {
        events.push("gen cleanup start");
        yield* asyncio.sleep(2);
        yield* asyncio.sleep(0);
        events.push("gen cleanup end");
      }
    });
    const native = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } finally {
        events.push("native cleanup start");
        await asyncio.sleep(3);
        await asyncio.sleep(0);
        events.push("native cleanup end");
      }
    });
    yield* asyncio.sleep(1);
    const start = loop.time();
    gen.cancel();
    native.cancel();
    assert.ok(isCancelled()(yield* errorOf(gen)));
    assert.ok(isCancelled()(yield* errorOf(native)));
    assert.equal(loop.time() - start, 3);
    assert.deepEqual(events.sort(), ["gen cleanup end", "gen cleanup start", "native cleanup end", "native cleanup start"]);
  });
});

// ---- nested awaits ----------------------------------------------------------------------

test("cancelling a task that awaits another task cancels the inner one (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const innerOfGen = asyncio.createTask(asyncio.sleep(10));
    const innerOfNative = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    const outerGen = asyncio.createTask(function* () {
      yield* innerOfGen;
    });
    const outerNative = asyncio.createTask(async () => {
      await innerOfNative;
    });
    yield* asyncio.sleep(0);
    outerGen.cancel("outer");
    outerNative.cancel("outer");
    assert.ok(isCancelled()(yield* errorOf(outerGen)));
    assert.ok(isCancelled()(yield* errorOf(outerNative)));
    assert.equal(innerOfGen.cancelled(), true);
    assert.equal(innerOfNative.cancelled(), true);
    assert.ok(isCancelled("outer")(yield* errorOf(innerOfGen)), "the inner task gets the message");
  });
});

test("a native task awaiting a generator Coro is cancellable; the generator's finally runs and may await", async () => {
  await runVirtual(async () => {
    const events: string[] = [];
    const work = asyncio.coroutine(function* (n: number) {
      try {
        yield* asyncio.sleep(10);
        return n;
      } finally {
        events.push("generator finally");
        yield* asyncio.sleep(1);
        events.push("generator cleanup awaited");
      }
    });
    const task = asyncio.createTask(async () => {
      try {
        return await work(1);
      } catch (e) {
        events.push(e instanceof asyncio.CancelledError ? `native caught: ${e.message}` : "other");
        throw e;
      }
    });
    const plain = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    await asyncio.sleep(0);
    task.cancel("stop");
    plain.cancel();
    await assert.rejects(async () => await task, isCancelled("stop"));
    await assert.rejects(async () => await plain, isCancelled());
    assert.deepEqual(events, ["generator finally", "generator cleanup awaited", "native caught: stop"]);
  });
});

test("a native task awaiting a Coro sees its own task as current inside the generator", async () => {
  await runVirtual(async () => {
    const inner = asyncio.coroutine(function* () {
      const before = asyncio.currentTask();
      yield* asyncio.sleep(1);
      return [before, asyncio.currentTask()];
    });
    const task = asyncio.createTask(async () => await inner());
    const [before, after] = (await task) as unknown[];
    assert.equal(before, task);
    assert.equal(after, task);
  });
});

test("a generator task awaiting a native task with yield*: result, exception and cancellation pass through", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const native = asyncio.createTask(async () => {
      await asyncio.sleep(1);
      return "native result";
    });
    const gen = asyncio.createTask(function* () {
      return yield* native;
    });
    assert.equal(yield* gen, "native result");

    const error = new asyncio.ValueError("native failure");
    const failing = asyncio.createTask(async () => {
      await asyncio.sleep(1);
      throw error;
    });
    const genOfFailing = asyncio.createTask(function* () {
      return yield* failing;
    });
    assert.equal(yield* errorOf(genOfFailing), error);

    const slow = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    const genOfSlow = asyncio.createTask(function* () {
      yield* slow;
    });
    yield* asyncio.sleep(0);
    genOfSlow.cancel("from outside");
    assert.ok(isCancelled()(yield* errorOf(genOfSlow)));
    assert.equal(slow.cancelled(), true, "cancelling the generator cancels the native task it awaits");
  });
});

test("cancelling a generator task blocked in a nested yield* chain reaches the innermost future", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    const events: string[] = [];
    function* level2(): asyncio.Coroutine<number> {
      try {
        return yield* fut;
      } finally {
        events.push("level2 finally");
      }
    }
    function* level1(): asyncio.Coroutine<number> {
      try {
        return yield* level2();
      } finally {
        events.push("level1 finally");
      }
    }
    const task = asyncio.createTask(level1());
    yield* asyncio.sleep(0);
    task.cancel();
    assert.ok(isCancelled()(yield* errorOf(task)));
    assert.equal(fut.cancelled(), true);
    assert.deepEqual(events, ["level2 finally", "level1 finally"]);
  });
});

test("cancellation of the main task of run() rejects run() with CancelledError (both styles)", async () => {
  await assert.rejects(
    runVirtual(function* (): asyncio.Coroutine<void> {
      (asyncio.currentTask() as asyncio.Task<unknown>).cancel();
      yield* asyncio.sleep(1);
    }),
    isCancelled(),
  );
  await assert.rejects(
    runVirtual(async () => {
      (asyncio.currentTask() as asyncio.Task<unknown>).cancel();
      await asyncio.sleep(1);
    }),
    isCancelled(),
  );
});

// ---- a pending request meets a coroutine that does not suspend -----------------

test("a native task with a pending cancel request awaits a generator Coro that finishes without suspending: it returns, and the cancellation comes at the next suspension", async () => {
  // biome-ignore lint/correctness/useYield: a coroutine that never suspends is the case under test
  const quick = asyncio.coroutine(function* (x: number): asyncio.Coroutine<number> {
    return x * 2;
  });
  await runVirtual(async () => {
    const steps: string[] = [];
    let release!: () => void;
    const foreign = new Promise<void>((resolve) => {
      release = resolve;
    });
    const task = asyncio.createTask(async () => {
      await foreign; // a foreign Promise: the cancel request stays pending
      steps.push(`quick=${await quick(21)}`);
      try {
        await asyncio.sleep(1);
        steps.push("slept");
      } catch (e) {
        steps.push(e instanceof asyncio.CancelledError ? `cancelled:${e.message}` : "other");
        throw e;
      }
    });
    await asyncio.sleep(0);
    task.cancel("stop");
    release();
    await assert.rejects(async () => {
      await task;
    }, asyncio.CancelledError);
    assert.deepEqual(steps, ["quick=42", "cancelled:stop"]);
  });
});
