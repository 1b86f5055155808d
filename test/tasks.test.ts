/**
 * Task: names, accessors, what a task accepts, currentTask/allTasks, the
 * checks of Task.__step (awaiting itself, `yield` instead of `yield*`, bare
 * `yield`), ensureFuture, sleep, and eager tasks. Both coroutine styles.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { withLoop } from "./helpers.js";

function taskNumber(task: asyncio.Task<unknown>): number {
  const match = /^Task-(\d+)$/.exec(task.getName());
  assert.ok(match, `default name ${task.getName()} is Task-N`);
  return Number(match[1]);
}

// ---- names and accessors --------------------------------------------------

test("default names are Task-N with increasing N; setName/getName; name option", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const a = asyncio.createTask(asyncio.sleep(0));
    const b = asyncio.createTask(async () => {});
    const c = asyncio.createTask(asyncio.sleep(0));
    assert.ok(taskNumber(a) < taskNumber(b));
    assert.ok(taskNumber(b) < taskNumber(c));
    b.setName("worker");
    assert.equal(b.getName(), "worker");
    b.setName(12);
    assert.equal(b.getName(), "12");
    const named = asyncio.createTask(asyncio.sleep(0), { name: "named" });
    assert.equal(named.getName(), "named");
    for (const t of [a, b, c, named]) yield* t;
  });
});

test("getCoro returns what the task was created with; getContext its context", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
    function* gen(): asyncio.Coroutine<number> {
      return 1;
    }
    const coro = gen();
    const t1 = asyncio.createTask(coro);
    assert.equal(t1.getCoro(), coro);
    const fn = async (): Promise<number> => 2;
    const t2 = asyncio.createTask(fn);
    assert.equal(t2.getCoro(), fn);
    const ctx = new asyncio.Context();
    const t3 = asyncio.createTask(async () => 3, { context: ctx });
    assert.equal(t3.getContext(), ctx);
    assert.ok(t1.getContext() instanceof asyncio.Context);
    assert.notEqual(t1.getContext(), t2.getContext());
    assert.deepEqual([yield* t1, yield* t2, yield* t3], [1, 2, 3]);
  });
});

test("repr of a task names its state, name and coroutine", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    function* worker(): asyncio.Coroutine<number> {
      yield* asyncio.sleep(1);
      return 5;
    }
    const task = asyncio.createTask(worker(), { name: "w" });
    assert.match(inspect(task), /^<Task pending name='w' coro=<.*>>$/);
    yield* task;
    assert.match(inspect(task), /^<Task finished name='w' coro=<.*> result=5>$/);
    const native = asyncio.createTask(async function job() {}, { name: "n" });
    native.cancel();
    yield* asyncio.sleep(0);
    assert.match(inspect(native), /^<Task cancelled name='n' coro=<job\(\)>>$/);
  });
});

// ---- what a task accepts -------------------------------------------------------

test("new Task(promise) and createTask(promise) throw TypeError telling to pass the function", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const promise = Promise.resolve(1);
    assert.throws(
      () => asyncio.createTask(promise as never),
      (e: unknown) => e instanceof TypeError && /pass the async function/.test(e.message),
    );
    assert.throws(
      () => new asyncio.Task(promise as never, { loop }),
      (e: unknown) => e instanceof TypeError && /pass the async function/.test(e.message),
    );
    assert.throws(() => asyncio.createTask(42 as never), TypeError);
    const fut = loop.createFuture();
    assert.throws(() => asyncio.createTask(fut as never), TypeError);
  });
});

test("a thunk () => gen(arg) and () => asyncio.sleep(1, v) work as task coroutines", async () => {
  const result = await runVirtual(function* (): asyncio.Coroutine<[number, string]> {
    function* double(x: number): asyncio.Coroutine<number> {
      yield* asyncio.sleep(1);
      return 2 * x;
    }
    const t1 = asyncio.createTask(() => double(21));
    const t2 = asyncio.createTask(() => asyncio.sleep(1, "slept"));
    return [yield* t1, yield* t2];
  });
  assert.deepEqual(result, [42, "slept"]);
});

test("a task runs a generator function passed by itself, and a Coro", async () => {
  const result = await runVirtual(function* (): asyncio.Coroutine<number[]> {
    const t1 = asyncio.createTask(function* () {
      yield* asyncio.sleep(1);
      return 1;
    });
    const make = asyncio.coroutine(function* (x: number) {
      yield* asyncio.sleep(1);
      return x;
    });
    const t2 = asyncio.createTask(make(2));
    return [yield* t1, yield* t2];
  });
  assert.deepEqual(result, [1, 2]);
});

test("setResult and setException on a Task throw RuntimeError", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const task = asyncio.createTask(asyncio.sleep(1));
    assert.throws(() => task.setResult(undefined), asyncio.RuntimeError);
    assert.throws(() => task.setException(new Error("x")), asyncio.RuntimeError);
    yield* task;
    assert.throws(() => task.setResult(undefined), asyncio.RuntimeError);
  });
});

test("a task's exception and result are those of its coroutine (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const error = new asyncio.ValueError("failed");
    const gen = asyncio.createTask(function* () {
      yield* asyncio.sleep(0);
      throw error;
    });
    const native = asyncio.createTask(async () => {
      await asyncio.sleep(0);
      throw error;
    });
    for (const task of [gen, native]) {
      let caught: unknown;
      try {
        yield* task;
      } catch (e) {
        caught = e;
      }
      assert.equal(caught, error);
    }
    assert.equal(gen.exception(), error);
    assert.equal(native.exception(), error);
  });
});

// ---- currentTask / allTasks ----------------------------------------------------

test("currentTask() inside generator steps is the task; null in plain callbacks", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const main = asyncio.currentTask();
    assert.ok(main instanceof asyncio.Task);
    let inner: asyncio.Task<unknown> | null = null;
    const task = asyncio.createTask(function* () {
      const before = asyncio.currentTask();
      yield* asyncio.sleep(1);
      const after = asyncio.currentTask();
      return [before, after];
    });
    inner = task;
    const [before, after] = (yield* task) as unknown[];
    assert.equal(before, inner);
    assert.equal(after, inner);
    assert.equal(asyncio.currentTask(), main);

    const fromCallback = loop.createFuture<unknown>();
    loop.callSoon(() => fromCallback.setResult(asyncio.currentTask()));
    assert.equal(yield* fromCallback, null);
  });
});

test("currentTask() inside native functions is the task, also after awaits; null in callbacks they schedule", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const seen: unknown[] = [];
    const task = asyncio.createTask(async () => {
      seen.push(asyncio.currentTask());
      await asyncio.sleep(1);
      seen.push(asyncio.currentTask());
      await Promise.resolve();
      seen.push(asyncio.currentTask());
      const fut = loop.createFuture<unknown>();
      loop.callSoon(() => fut.setResult(asyncio.currentTask()));
      seen.push(await fut);
    });
    await task;
    assert.deepEqual(seen, [task, task, task, null]);
  });
});

test("currentTask() of interleaved native tasks is each one's own", async () => {
  await runVirtual(async () => {
    const mismatches: string[] = [];
    const worker = async (): Promise<void> => {
      const me = asyncio.currentTask();
      for (let i = 0; i < 5; i++) {
        await asyncio.sleep(0);
        if (asyncio.currentTask() !== me) mismatches.push(`${me} saw ${asyncio.currentTask()}`);
        await Promise.resolve();
        if (asyncio.currentTask() !== me) mismatches.push(`${me} saw ${asyncio.currentTask()} after a Promise`);
      }
    };
    const tasks = [asyncio.createTask(worker), asyncio.createTask(worker), asyncio.createTask(worker)];
    for (const t of tasks) await t;
    assert.deepEqual(mismatches, []);
  });
});

test("currentTask() with no running loop throws RuntimeError; with another loop given it is null", async () => {
  assert.throws(() => asyncio.currentTask(), asyncio.RuntimeError);
  await withLoop(async (other) => {
    // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
    await runVirtual(function* (): asyncio.Coroutine<void> {
      assert.equal(asyncio.currentTask(other), null);
      assert.ok(asyncio.currentTask(asyncio.getRunningLoop()) !== null);
    });
  });
});

test("allTasks() holds the pending tasks only", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const main = asyncio.currentTask();
    const sleeper = asyncio.createTask(asyncio.sleep(10));
    const native = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    const quick = asyncio.createTask(async () => 1);
    yield* asyncio.sleep(1);
    assert.equal(quick.done(), true);
    assert.deepEqual(asyncio.allTasks(), new Set([main, sleeper, native]));
    sleeper.cancel();
    yield* asyncio.sleep(0);
    assert.deepEqual(asyncio.allTasks(), new Set([main, native]));
    yield* native;
    assert.deepEqual(asyncio.allTasks(), new Set([main]));
  });
});

test("allTasks(loop) of a loop that is not running lists its scheduled tasks", async () => {
  await withLoop(async (loop) => {
    const task = loop.createTask(asyncio.sleep(0));
    assert.deepEqual(asyncio.allTasks(loop), new Set([task]));
    await loop.runUntilComplete(task);
    assert.equal(asyncio.allTasks(loop).size, 0);
  });
});

// ---- checks of the task step ---------------------------------------------------

test("a generator task awaiting itself gets RuntimeError thrown into it", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const holder: { task?: asyncio.Task<string> } = {};
    const task = asyncio.createTask(function* (): asyncio.Coroutine<string> {
      try {
        yield* holder.task as asyncio.Task<string>;
      } catch (e) {
        return e instanceof asyncio.RuntimeError ? "RuntimeError" : `other: ${e}`;
      }
      return "no error";
    });
    holder.task = task;
    assert.equal(yield* task, "RuntimeError");
  });
});

test("a native task awaiting itself gets RuntimeError", async () => {
  await runVirtual(async () => {
    const holder: { task?: asyncio.Task<string> } = {};
    const task = asyncio.createTask(async (): Promise<string> => {
      await asyncio.sleep(0);
      try {
        await (holder.task as asyncio.Task<string>);
      } catch (e) {
        return e instanceof asyncio.RuntimeError ? "RuntimeError" : `other: ${e}`;
      }
      return "no error";
    });
    holder.task = task;
    assert.equal(await task, "RuntimeError");
  });
});

test("awaiting a future of another loop throws RuntimeError into the coroutine (both styles)", async () => {
  await withLoop(async (other) => {
    const foreignFuture = other.createFuture<number>();
    const results = await runVirtual(async () => {
      const gen = asyncio.createTask(function* (): asyncio.Coroutine<string> {
        try {
          yield* foreignFuture;
        } catch (e) {
          return e instanceof asyncio.RuntimeError ? "RuntimeError" : `other: ${e}`;
        }
        return "no error";
      });
      const native = asyncio.createTask(async (): Promise<string> => {
        try {
          await foreignFuture;
        } catch (e) {
          return e instanceof asyncio.RuntimeError ? "RuntimeError" : `other: ${e}`;
        }
        return "no error";
      });
      return [await gen, await native];
    });
    assert.deepEqual(results, ["RuntimeError", "RuntimeError"]);
    assert.equal(foreignFuture.done(), false);
  });
});

test("`yield fut` instead of `yield* fut` throws RuntimeError into the coroutine", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    const task = asyncio.createTask(function* (): asyncio.Coroutine<string> {
      try {
        yield fut;
      } catch (e) {
        return e instanceof asyncio.RuntimeError ? "RuntimeError" : `other: ${e}`;
      }
      return "no error";
    });
    assert.equal(yield* task, "RuntimeError");
    assert.equal(fut.done(), false, "the wrongly yielded future is not awaited");
  });
});

test("yielding a generator, a Promise or garbage throws RuntimeError into the coroutine", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
    function* sub(): asyncio.Coroutine<number> {
      return 1;
    }
    for (const bad of [sub(), Promise.resolve(1), 42, "text"]) {
      const task = asyncio.createTask(function* (): asyncio.Coroutine<string> {
        try {
          yield bad;
        } catch (e) {
          return e instanceof asyncio.RuntimeError ? "RuntimeError" : `other: ${e}`;
        }
        return "no error";
      });
      assert.equal(yield* task, "RuntimeError", `yield ${inspect(bad)}`);
    }
  });
});

test("a task whose coroutine ignores the RuntimeError of a bad yield fails with it", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const task = asyncio.createTask(function* () {
      yield 42;
    });
    yield* asyncio.sleep(0);
    yield* asyncio.sleep(0);
    assert.ok(task.exception() instanceof asyncio.RuntimeError);
  });
});

test("a bare `yield` gives up exactly one loop iteration", async () => {
  const order = await runVirtual(function* (): asyncio.Coroutine<string[]> {
    const loop = asyncio.getRunningLoop();
    const order: string[] = [];
    loop.callSoon(() => {
      order.push("callback 1");
      loop.callSoon(() => order.push("callback 2"));
    });
    yield;
    order.push("task");
    yield;
    yield;
    return order;
  });
  assert.deepEqual(order, ["callback 1", "task", "callback 2"]);
});

// ---- sleep ------------------------------------------------------------------

test("sleep(delay, result) returns result (both styles) after the delay in loop time", async () => {
  const gen = await runVirtual(function* (): asyncio.Coroutine<[string, number]> {
    const loop = asyncio.getRunningLoop();
    const start = loop.time();
    const v = yield* asyncio.sleep(5, "five");
    return [v, loop.time() - start];
  });
  assert.deepEqual(gen, ["five", 5]);
  const native = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const start = loop.time();
    const v = await asyncio.sleep(5, "five");
    const zero = await asyncio.sleep(0, "zero");
    return [v, zero, loop.time() - start];
  });
  assert.deepEqual(native, ["five", "zero", 5]);
  assert.equal(await runVirtual(() => asyncio.sleep(0, "z")), "z");
});

test("sleep(NaN) throws ValueError; a non-number delay throws TypeError", () => {
  assert.throws(() => asyncio.sleep(Number.NaN), asyncio.ValueError);
  assert.throws(() => asyncio.sleep("1" as never), TypeError);
});

test("sleep with a negative delay is like sleep(0)", async () => {
  assert.equal(await runVirtual(() => asyncio.sleep(-5, "neg")), "neg");
});

test("sleep(0) in a generator is exactly one iteration", async () => {
  const order = await runVirtual(function* (): asyncio.Coroutine<string[]> {
    const loop = asyncio.getRunningLoop();
    const order: string[] = [];
    loop.callSoon(() => {
      order.push("callback 1");
      loop.callSoon(() => order.push("callback 2"));
    });
    yield* asyncio.sleep(0);
    order.push("task");
    yield* asyncio.sleep(0);
    yield* asyncio.sleep(0);
    return order;
  });
  assert.deepEqual(order, ["callback 1", "task", "callback 2"]);
});

test("await sleep(0) in a native function is exactly one iteration", async () => {
  const order = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const order: string[] = [];
    loop.callSoon(() => {
      order.push("callback 1");
      loop.callSoon(() => order.push("callback 2"));
    });
    await asyncio.sleep(0);
    order.push("task");
    await asyncio.sleep(0);
    await asyncio.sleep(0);
    return order;
  });
  assert.deepEqual(order, ["callback 1", "task", "callback 2"]);
});

test("two tasks alternating with sleep(0) interleave step by step (both styles)", async () => {
  const order = await runVirtual(async () => {
    const order: string[] = [];
    const gen = function* (): asyncio.Coroutine<void> {
      for (let i = 0; i < 3; i++) {
        order.push(`g${i}`);
        yield* asyncio.sleep(0);
      }
    };
    const native = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        order.push(`n${i}`);
        await asyncio.sleep(0);
      }
    };
    const tasks = [asyncio.createTask(gen()), asyncio.createTask(native)];
    for (const t of tasks) await t;
    return order;
  });
  assert.deepEqual(order, ["g0", "n0", "g1", "n1", "g2", "n2"]);
});

test("a task looping on sleep(0) still lets Node's macrotasks run (both styles)", async () => {
  for (const style of ["generator", "native"]) {
    const outcome = await runVirtual(async () => {
      let hostRan = false;
      let iterations = 0;
      setImmediate(() => {
        hostRan = true;
      });
      const busy =
        style === "generator"
          ? asyncio.createTask(function* () {
              while (!hostRan && iterations < 200_000) {
                iterations++;
                yield* asyncio.sleep(0);
              }
            })
          : asyncio.createTask(async () => {
              while (!hostRan && iterations < 200_000) {
                iterations++;
                await asyncio.sleep(0);
              }
            });
      await busy;
      return hostRan;
    });
    assert.equal(outcome, true, `${style}: the setImmediate callback ran while the task was busy`);
  }
});

// ---- ensureFuture -----------------------------------------------------------

test("ensureFuture: a future is returned as is; with a different loop it is a ValueError", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    assert.equal(asyncio.ensureFuture(fut), fut);
    assert.equal(asyncio.ensureFuture(fut, { loop }), fut);
    await withLoop((other) => {
      assert.throws(() => asyncio.ensureFuture(fut, { loop: other }), asyncio.ValueError);
    });
  });
});

test("ensureFuture: a coroutine becomes a Task (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    function* gen(): asyncio.Coroutine<number> {
      yield* asyncio.sleep(1);
      return 1;
    }
    const t1 = asyncio.ensureFuture(gen());
    const t2 = asyncio.ensureFuture(async () => 2);
    const t3 = asyncio.ensureFuture(asyncio.sleep(1, 3));
    for (const t of [t1, t2, t3]) assert.ok(t instanceof asyncio.Task);
    assert.deepEqual([yield* t1, yield* t2, yield* t3], [1, 2, 3]);
  });
});

test("ensureFuture: a Promise becomes a Future that follows it", async () => {
  await runVirtual(async () => {
    const ok = asyncio.ensureFuture(Promise.resolve("v"));
    assert.ok(ok instanceof asyncio.Future);
    assert.equal(ok instanceof asyncio.Task, false);
    assert.equal(await ok, "v");
    assert.equal(ok.result(), "v");

    const error = new asyncio.ValueError("rejected");
    const bad = asyncio.ensureFuture(Promise.reject(error));
    await assert.rejects(
      async () => await bad,
      (e: unknown) => e === error,
    );
    assert.equal(bad.exception(), error);

    const thenable = { then: (resolve: (v: number) => void) => resolve(7) } as PromiseLike<number>;
    assert.equal(await asyncio.ensureFuture(thenable), 7);
  });
});

test("ensureFuture: garbage is a TypeError", async () => {
  await withLoop((loop) => {
    for (const bad of [42, "text", null, { a: 1 }]) {
      assert.throws(() => asyncio.ensureFuture(bad as never, { loop }), TypeError);
    }
  });
});

test("ensureFuture(promise) from a generator coroutine can be yield*-ed", async () => {
  const v = await runVirtual(function* (): asyncio.Coroutine<number> {
    return yield* asyncio.ensureFuture(Promise.resolve(11));
  });
  assert.equal(v, 11);
});

// ---- eager tasks ------------------------------------------------------------------

test("eagerStart: a generator that finishes without suspending is done when createTask returns", async () => {
  // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const order: string[] = [];
    const task = asyncio.createTask(
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      function* () {
        order.push("body");
        return "eager";
      },
      { eagerStart: true },
    );
    order.push("after createTask");
    assert.equal(task.done(), true);
    assert.equal(task.result(), "eager");
    assert.deepEqual(order, ["body", "after createTask"]);
    assert.equal(asyncio.allTasks().has(task), false);
  });
});

test("eagerStart: the coroutine sees its own task as current, then suspends and resumes normally", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const main = asyncio.currentTask();
    const seen: unknown[] = [];
    const task = asyncio.createTask(
      function* () {
        seen.push(asyncio.currentTask());
        yield* asyncio.sleep(1);
        seen.push(asyncio.currentTask());
        return 1;
      },
      { eagerStart: true },
    );
    assert.equal(asyncio.currentTask(), main, "the current task is restored after the eager step");
    assert.equal(task.done(), false);
    assert.equal(seen.length, 1);
    assert.equal(yield* task, 1);
    assert.deepEqual(seen, [task, task]);
  });
});

test("eagerStart: a native function's synchronous part runs before createTask returns", async () => {
  await runVirtual(async () => {
    const order: string[] = [];
    let inside: unknown;
    const task = asyncio.createTask(
      async () => {
        order.push("sync part");
        inside = asyncio.currentTask();
        await asyncio.sleep(0);
        order.push("after await");
        return 5;
      },
      { eagerStart: true },
    );
    order.push("after createTask");
    assert.equal(inside, task);
    assert.equal(await task, 5);
    assert.deepEqual(order, ["sync part", "after createTask", "after await"]);
  });
});

test("eagerStart: an eager task that fails at once is done with the exception", async () => {
  // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const error = new asyncio.ValueError("at once");
    const task = asyncio.createTask(
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      function* () {
        throw error;
      },
      { eagerStart: true },
    );
    assert.equal(task.done(), true);
    assert.equal(task.exception(), error);
  });
});

test("setTaskFactory(eagerTaskFactory) starts tasks eagerly; names and contexts are kept", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    loop.setTaskFactory(asyncio.eagerTaskFactory);
    assert.equal(loop.getTaskFactory(), asyncio.eagerTaskFactory);
    try {
      const ctx = new asyncio.Context();
      const v = new asyncio.ContextVar<string>("v");
      const task = asyncio.createTask(
        // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
        function* () {
          v.set("inside");
          return asyncio.currentTask();
        },
        { name: "eager-one", context: ctx },
      );
      assert.equal(task.done(), true);
      assert.equal(task.result(), task);
      assert.equal(task.getName(), "eager-one");
      assert.equal(ctx.get(v), "inside");

      let ran = false;
      const native = asyncio.createTask(async () => {
        ran = true;
        await asyncio.sleep(0);
      });
      assert.equal(ran, true);
      yield* native;
    } finally {
      loop.setTaskFactory(null);
    }
    assert.equal(loop.getTaskFactory(), null);
  });
});

test("createEagerTaskFactory(Subclass) makes eager instances of the subclass", async () => {
  class MyTask<T> extends asyncio.Task<T> {}
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    loop.setTaskFactory(asyncio.createEagerTaskFactory(MyTask));
    try {
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      const task = asyncio.createTask(function* () {
        return 1;
      });
      assert.ok(task instanceof MyTask);
      assert.equal(task.done(), true);
      const lazy = asyncio.createTask(asyncio.sleep(1, 2));
      assert.ok(lazy instanceof MyTask);
      assert.equal(yield* lazy, 2);
    } finally {
      loop.setTaskFactory(null);
    }
  });
});

test("eager start when the loop is not running falls back to a normal schedule", async () => {
  await withLoop(async (loop) => {
    const order: string[] = [];
    const gen = new asyncio.Task(
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      function* () {
        order.push("generator body");
        return 1;
      },
      { loop, eagerStart: true },
    );
    const native = new asyncio.Task(
      async () => {
        order.push("native body");
        return 2;
      },
      { loop, eagerStart: true },
    );
    assert.equal(order.length, 0);
    assert.equal(gen.done(), false);
    assert.equal(native.done(), false);
    assert.equal(await loop.runUntilComplete(gen), 1);
    assert.equal(await loop.runUntilComplete(native), 2);
    assert.deepEqual(order, ["generator body", "native body"]);
  });
});

test("setTaskFactory refuses a non-function; a custom factory is used by createTask", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    assert.throws(() => loop.setTaskFactory(42 as never), TypeError);
    const made: unknown[] = [];
    loop.setTaskFactory((l, coro, opts) => {
      const task = new asyncio.Task(coro, { ...opts, loop: l });
      made.push(task);
      return task;
    });
    try {
      const task = asyncio.createTask(asyncio.sleep(0, "x"));
      assert.deepEqual(made, [task]);
      assert.equal(yield* task, "x");
    } finally {
      loop.setTaskFactory(null);
    }
  });
});
