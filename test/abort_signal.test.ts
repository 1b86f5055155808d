/**
 * AbortSignal interop (API.md section 14): `createTask(coro, { signal })`
 * cancels the task when the signal aborts; `task.abortSignal()` is aborted
 * when the task is asked to cancel, for `fetch` and Node APIs.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";

function isCancelled(message?: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof asyncio.CancelledError && (message === undefined || e.message === message);
}

// ---- createTask(coro, { signal }) --------------------------------------------------

test("aborting the signal cancels the task, with the reason's message (both styles)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const controller = new AbortController();
    const fut = loop.createFuture<void>();
    const events: string[] = [];
    const gen = asyncio.createTask(
      function* () {
        try {
          yield* fut;
        } finally {
          events.push("gen finally");
        }
      },
      { signal: controller.signal },
    );
    const native = asyncio.createTask(
      async () => {
        try {
          await asyncio.sleep(100);
        } finally {
          events.push("native finally");
        }
      },
      { signal: controller.signal },
    );
    await asyncio.sleep(1);
    controller.abort(new Error("user pressed stop"));
    assert.equal(gen.cancelling(), 1, "cancel() was called at once");
    assert.equal(native.cancelling(), 1);
    assert.equal(fut.cancelled(), true, "the awaited future is cancelled at once");
    await assert.rejects(async () => await gen, isCancelled("user pressed stop"));
    await assert.rejects(async () => await native, isCancelled("user pressed stop"));
    assert.equal(loop.time(), 1, "the 100-second sleep ended at once");
    assert.deepEqual(events.sort(), ["gen finally", "native finally"]);
  });
});

test("a reason that is not an Error gives its string as the message; no reason gives the AbortError's message", async () => {
  await runVirtual(async () => {
    const c1 = new AbortController();
    const t1 = asyncio.createTask(() => asyncio.sleep(10), { signal: c1.signal });
    const c2 = new AbortController();
    const t2 = asyncio.createTask(() => asyncio.sleep(10), { signal: c2.signal });
    await asyncio.sleep(0);
    c1.abort("plain reason");
    c2.abort();
    await assert.rejects(async () => await t1, isCancelled("plain reason"));
    const expected = (c2.signal.reason as Error).message;
    await assert.rejects(async () => await t2, isCancelled(expected));
  });
});

test("an already aborted signal cancels the task at once: its body never runs (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let genRan = false;
    let nativeRan = false;
    const signal = AbortSignal.abort(new Error("too late"));
    const gen = asyncio.createTask(
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      function* () {
        genRan = true;
      },
      { signal },
    );
    const native = asyncio.createTask(
      async () => {
        nativeRan = true;
      },
      { signal },
    );
    assert.equal(gen.cancelling(), 1);
    assert.equal(native.cancelling(), 1);
    for (const task of [gen, native]) {
      let caught: unknown;
      try {
        yield* task;
      } catch (e) {
        caught = e;
      }
      assert.ok(isCancelled("too late")(caught));
    }
    assert.equal(genRan, false);
    assert.equal(nativeRan, false);
  });
});

test("the abort listener is removed when the task finishes: a later abort does nothing", async () => {
  await runVirtual(async () => {
    const controller = new AbortController();
    const signal = controller.signal;
    const gen = asyncio.createTask(asyncio.sleep(1, "gen"), { signal });
    const native = asyncio.createTask(
      async () => {
        await asyncio.sleep(1);
        return "native";
      },
      { signal },
    );
    const failing = asyncio.createTask(
      async () => {
        throw new asyncio.ValueError("x");
      },
      { signal },
    );
    assert.equal(getEventListeners(signal, "abort").length, 3);
    assert.equal(await gen, "gen");
    assert.equal(await native, "native");
    await assert.rejects(async () => await failing, asyncio.ValueError);
    assert.equal(getEventListeners(signal, "abort").length, 0, "no listener left behind");
    controller.abort();
    for (const task of [gen, native, failing]) {
      assert.equal(task.cancelled(), false);
      assert.equal(task.cancelling(), 0);
    }
  });
});

test("the listener of a task cancelled by other means is removed too", async () => {
  await runVirtual(async () => {
    const controller = new AbortController();
    const task = asyncio.createTask(() => asyncio.sleep(10), { signal: controller.signal });
    await asyncio.sleep(0);
    task.cancel();
    await assert.rejects(async () => await task, isCancelled());
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });
});

test("an eager task that finishes at once leaves no listener", async () => {
  // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const controller = new AbortController();
    const task = asyncio.createTask(
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      function* () {
        return 1;
      },
      { signal: controller.signal, eagerStart: true },
    );
    assert.equal(task.done(), true);
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    controller.abort();
    assert.equal(task.result(), 1);
  });
});

test("signal must be an AbortSignal: anything else is a TypeError, and no task is left behind", async () => {
  await runVirtual(async () => {
    let ran = false;
    const before = asyncio.allTasks().size;
    assert.throws(
      () =>
        asyncio.createTask(
          async () => {
            ran = true;
          },
          { signal: {} as never },
        ),
      TypeError,
    );
    assert.equal(asyncio.allTasks().size, before);
    await asyncio.sleep(0);
    assert.equal(ran, false);
  });
});

// ---- task.abortSignal() ---------------------------------------------------------------

test("task.abortSignal() is aborted with a CancelledError as soon as the task is asked to cancel", async () => {
  await runVirtual(async () => {
    const task = asyncio.createTask(() => asyncio.sleep(10));
    const signal = task.abortSignal();
    assert.ok(signal instanceof AbortSignal);
    assert.equal(task.abortSignal(), signal, "one signal per task");
    assert.equal(signal.aborted, false);
    await asyncio.sleep(0);
    task.cancel("enough");
    assert.equal(signal.aborted, true, "aborted synchronously by cancel()");
    assert.ok(isCancelled("enough")(signal.reason));
    await assert.rejects(async () => await task, isCancelled("enough"));
  });
});

test("task.abortSignal() taken after the cancel request is already aborted", async () => {
  await runVirtual(async () => {
    const pending = asyncio.createTask(() => asyncio.sleep(10));
    pending.cancel("early");
    const s1 = pending.abortSignal();
    assert.equal(s1.aborted, true);
    assert.ok(isCancelled("early")(s1.reason));
    await assert.rejects(async () => await pending, isCancelled());
    const finishedCancelled = pending.abortSignal();
    assert.equal(finishedCancelled.aborted, true);
  });
});

test("task.abortSignal() of a task that finishes normally is never aborted", async () => {
  await runVirtual(async () => {
    const task = asyncio.createTask(() => asyncio.sleep(1, "ok"));
    const signal = task.abortSignal();
    assert.equal(await task, "ok");
    assert.equal(signal.aborted, false);
    assert.equal(task.cancel(), false);
    assert.equal(signal.aborted, false);
    assert.equal(task.abortSignal().aborted, false);
  });
});

test("a native task awaiting a foreign Promise that listens to its abortSignal sees the abort at once", async () => {
  await runVirtual(async () => {
    const events: string[] = [];
    const task = asyncio.createTask(async () => {
      const signal = (asyncio.currentTask() as asyncio.Task<unknown>).abortSignal();
      await new Promise<void>((_resolve, reject) => {
        signal.addEventListener(
          "abort",
          () => {
            events.push("abort seen");
            reject(signal.reason);
          },
          { once: true },
        );
      });
      events.push("not reached");
    });
    await asyncio.sleep(0);
    task.cancel("bye");
    events.push("after cancel()");
    await assert.rejects(async () => await task, isCancelled("bye"));
    assert.equal(task.cancelled(), true);
    assert.deepEqual(events, ["abort seen", "after cancel()"]);
  });
});

test("a generator task can hand its abortSignal to a foreign Promise adopted with ensureFuture", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const task = asyncio.createTask(function* () {
      const signal = (asyncio.currentTask() as asyncio.Task<unknown>).abortSignal();
      const foreign = new Promise<void>((_resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
      yield* asyncio.ensureFuture(foreign);
    });
    yield* asyncio.sleep(0);
    task.cancel("stop");
    let caught: unknown;
    try {
      yield* task;
    } catch (e) {
      caught = e;
    }
    assert.ok(isCancelled("stop")(caught));
  });
});
