/**
 * Coroutine objects: `coroutine()` and `Coro` (lazy, `yield*`-able and
 * `await`-able, single use), `isCoroutine`, `isCoroutineFunction`, and the
 * error a native function called too early gives.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";

test("calling a coroutine() function runs nothing until the Coro is awaited", async () => {
  const events: string[] = [];
  const work = asyncio.coroutine(function* (x: number) {
    events.push(`start ${x}`);
    yield* asyncio.sleep(1);
    return x * 2;
  });
  const coro = work(21);
  assert.ok(coro instanceof asyncio.Coro);
  assert.equal(events.length, 0);
  assert.equal(await runVirtual(coro), 42);
  assert.deepEqual(events, ["start 21"]);
});

test("a Coro can be yield*-ed from a generator and awaited from a native function", async () => {
  const double = asyncio.coroutine(function* (x: number) {
    yield* asyncio.sleep(1);
    return x * 2;
  });
  const fromGen = await runVirtual(function* (): asyncio.Coroutine<number> {
    return yield* double(2);
  });
  const fromNative = await runVirtual(async () => await double(3));
  assert.equal(fromGen, 4);
  assert.equal(fromNative, 6);
});

test("a Coro keeps `this` and the arguments of the call", async () => {
  class Counter {
    n = 10;
    add = asyncio.coroutine(function* (this: Counter, k: number) {
      yield* asyncio.sleep(0);
      this.n += k;
      return this.n;
    });
  }
  const counter = new Counter();
  assert.equal(await runVirtual(() => counter.add(5)), 15);
});

test("an exception in a Coro propagates to the awaiter (both styles)", async () => {
  const error = new asyncio.ValueError("in coro");
  const failing = asyncio.coroutine(function* () {
    yield* asyncio.sleep(1);
    throw error;
  });
  await assert.rejects(
    runVirtual(async () => {
      await failing();
    }),
    (e: unknown) => e === error,
  );
  await assert.rejects(
    runVirtual(function* (): asyncio.Coroutine<void> {
      yield* failing();
    }),
    (e: unknown) => e === error,
  );
  const caught = await runVirtual(async () => {
    try {
      await failing();
    } catch (e) {
      return e;
    }
    return null;
  });
  assert.equal(caught, error);
});

test("a Coro can be consumed once: reusing it throws RuntimeError (both styles)", async () => {
  const quick = asyncio.coroutine(function* () {
    yield* asyncio.sleep(0);
    return 1;
  });
  await runVirtual(async () => {
    const coro = quick();
    assert.equal(await coro, 1);
    await assert.rejects(async () => await coro, asyncio.RuntimeError);
  });
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const coro = quick();
    assert.equal(yield* coro, 1);
    assert.throws(() => coro[Symbol.iterator](), asyncio.RuntimeError);
  });
});

test("a Coro handed to createTask is consumed by the task", async () => {
  const quick = asyncio.coroutine(function* () {
    yield* asyncio.sleep(0);
    return "task result";
  });
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const coro = quick();
    const task = asyncio.createTask(coro);
    assert.equal(task.getCoro(), coro);
    assert.equal(yield* task, "task result");
    assert.throws(() => coro[Symbol.iterator](), asyncio.RuntimeError);
  });
});

test("a Coro awaited from native code yielding a future with `yield` gets RuntimeError thrown into it", async () => {
  const wrong = asyncio.coroutine(function* () {
    const fut = asyncio.getRunningLoop().createFuture<number>();
    try {
      yield fut;
    } catch (e) {
      return e instanceof asyncio.RuntimeError ? "RuntimeError" : "other";
    }
    return "no error";
  });
  assert.equal(await runVirtual(async () => await wrong()), "RuntimeError");
});

test("a Coro awaited from native code with a bare yield gives up one iteration", async () => {
  const order = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const order: string[] = [];
    const pause = asyncio.coroutine(function* () {
      yield;
      order.push("after yield");
    });
    loop.callSoon(() => {
      order.push("callback 1");
      loop.callSoon(() => order.push("callback 2"));
    });
    await pause();
    order.push("native resumed");
    await asyncio.sleep(0);
    await asyncio.sleep(0);
    return order;
  });
  assert.deepEqual(order, ["callback 1", "after yield", "native resumed", "callback 2"]);
});

test("isCoroutine: generator objects and Coro objects; not Promises, functions or futures", async () => {
  function* gen(): asyncio.Coroutine<void> {}
  const wrapped = asyncio.coroutine(gen);
  const coro = wrapped();
  assert.equal(asyncio.isCoroutine(gen()), true);
  assert.equal(asyncio.isCoroutine(coro), true);
  assert.equal(asyncio.isCoroutine(Promise.resolve()), false);
  assert.equal(asyncio.isCoroutine(gen), false);
  assert.equal(
    asyncio.isCoroutine(async () => {}),
    false,
  );
  assert.equal(asyncio.isCoroutine(null), false);
  assert.equal(asyncio.isCoroutine(42), false);
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const fut = asyncio.getRunningLoop().createFuture();
    assert.equal(asyncio.isCoroutine(fut), false);
    yield* coro;
  });
});

test("isCoroutineFunction: function*, async function and coroutine() wrappers; not plain functions", () => {
  function* gen(): asyncio.Coroutine<void> {}
  async function native(): Promise<void> {}
  assert.equal(asyncio.isCoroutineFunction(gen), true);
  assert.equal(asyncio.isCoroutineFunction(native), true);
  assert.equal(
    asyncio.isCoroutineFunction(async () => {}),
    true,
  );
  assert.equal(asyncio.isCoroutineFunction(asyncio.coroutine(gen)), true);
  assert.equal(
    asyncio.isCoroutineFunction(() => {}),
    false,
  );
  assert.equal(
    asyncio.isCoroutineFunction(() => Promise.resolve()),
    false,
  );
  assert.equal(asyncio.isCoroutineFunction(null), false);
  assert.equal(asyncio.isCoroutineFunction(gen()), false);
});

test("coroutine() refuses a non-function with TypeError and keeps the function's name", () => {
  assert.throws(() => asyncio.coroutine(42 as never), TypeError);
  const named = asyncio.coroutine(function* fetchThing() {});
  assert.equal(named.name, "fetchThing");
  const coro = named();
  assert.match(inspect(coro), /fetchThing/);
  coro[Symbol.iterator]();
  assert.match(String(coro), /fetchThing.*started/);
});

test("the task of a Coro names the coroutine in its repr", async () => {
  const fetchThing = asyncio.coroutine(function* fetchThing() {
    yield* asyncio.sleep(1);
  });
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const task = asyncio.createTask(fetchThing());
    assert.match(inspect(task), /coro=<fetchThing\(\)>/);
    yield* task;
  });
});

test("a native function called directly (run(main())) is refused; its asyncio call says to pass the function", async () => {
  let earlyError: unknown;
  async function main(): Promise<number> {
    try {
      await asyncio.sleep(0.1);
    } catch (e) {
      earlyError = e;
      throw e;
    }
    return 1;
  }
  const started = main();
  await assert.rejects(started, asyncio.RuntimeError);
  assert.ok(earlyError instanceof asyncio.RuntimeError);
  assert.match(earlyError.message, /no running event loop/);
  assert.match(earlyError.message, /run\(main\)/);
  await assert.rejects(asyncio.run(started as never), (e: unknown) => e instanceof TypeError && /run\(main\)/.test(e.message));
});

test("awaiting a future outside any loop says there is no running loop", async () => {
  async function early(): Promise<void> {
    await asyncio.sleep(0);
  }
  await assert.rejects(early(), asyncio.RuntimeError);
});

test("a Coro awaited from plain code while the loop runs is driven on the running loop", async () => {
  const work = asyncio.coroutine(function* () {
    yield* asyncio.sleep(1);
    return asyncio.currentTask();
  });
  const seen = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<unknown>();
    // A callback is not a task: the Coro it awaits has no task.
    loop.callSoon(() => {
      work().then(
        (v) => fut.setResult(v),
        (e: unknown) => fut.setException(e),
      );
    });
    return await fut;
  });
  assert.equal(seen, null);
});
