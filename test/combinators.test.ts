/**
 * gather, wait, waitFor, asCompleted, shield and the FIRST_COMPLETED /
 * FIRST_EXCEPTION / ALL_COMPLETED constants, after CPython's
 * test_tasks.py and test_waitfor.py. Each behaviour from a generator
 * coroutine (`yield*`) and from an async function (`await`), with children
 * of both styles.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { collectGarbage, rejects, thrownBy } from "./helpers.js";

class MyExc extends Error {}

/** Runs `body` on a virtual loop, then returns the messages of the errors reported as never retrieved. */
async function reportedErrors(body: () => Promise<void>): Promise<string[]> {
  const seen: asyncio.ExceptionContext[] = [];
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    loop.setExceptionHandler((_loop, context) => {
      seen.push(context);
    });
    await body();
    // The control: a failed future nobody looks at is reported.
    (() => {
      loop.createFuture().setException(new MyExc("control"));
    })();
  });
  await collectGarbage();
  return seen.map((context) => (context.exception as Error).message).sort();
}

// ---- gather -------------------------------------------------------------------------

test("gather: results in argument order, whatever the completion order (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const results = yield* asyncio.gather(asyncio.sleep(3, "a"), asyncio.sleep(1, "b"), asyncio.sleep(2, "c"));
    assert.deepEqual(results, ["a", "b", "c"]);
    assert.equal(loop.time(), 3);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const results = await asyncio.gather(
      async () => {
        await asyncio.sleep(3);
        return 1;
      },
      function* () {
        yield* asyncio.sleep(1);
        return 2;
      },
    );
    assert.deepEqual(results, [1, 2]);
    assert.equal(loop.time(), 3);
  });
});

test("gather: the result is typed as a tuple", async () => {
  await runVirtual(async () => {
    const [n, s, b]: [number, string, boolean] = await asyncio.gather(
      asyncio.sleep(1, 1),
      async () => "two",
      function* (): asyncio.Coroutine<boolean> {
        yield* asyncio.sleep(0);
        return true;
      },
    );
    assert.deepEqual([n, s, b], [1, "two", true]);
    const settled: [number | Error, string | Error] = await asyncio.gather(asyncio.sleep(0, 1), Promise.resolve("x"), {
      returnExceptions: true,
    });
    assert.deepEqual(settled, [1, "x"]);
  });
});

test("gather: a mix of tasks, futures, thunks, generators, Coros and foreign Promises (both styles)", async () => {
  async function mix(): Promise<unknown[]> {
    const loop = asyncio.getRunningLoop();
    const task = asyncio.createTask(asyncio.sleep(1, "task"));
    const fut = loop.createFuture<string>();
    loop.callLater(2, () => fut.setResult("future"));
    function* gen(): asyncio.Coroutine<string> {
      yield* asyncio.sleep(1);
      return "generator";
    }
    const coro = asyncio.coroutine(gen)();
    const promise = new Promise<string>((resolve) => setImmediate(() => resolve("promise")));
    return await asyncio.gather(
      task,
      fut,
      async () => "async thunk",
      gen,
      gen(),
      coro,
      promise,
      () => asyncio.sleep(1, "sleep thunk"),
    );
  }
  const expected = ["task", "future", "async thunk", "generator", "generator", "generator", "promise", "sleep thunk"];
  assert.deepEqual(await runVirtual(mix), expected);
  const fromGenerator = await runVirtual(function* (): asyncio.Coroutine<unknown[]> {
    return yield* asyncio.ensureFuture(mix);
  });
  assert.deepEqual(fromGenerator, expected);
});

test("gather: duplicates are awaited once, and the result is repeated", async () => {
  await runVirtual(async () => {
    let calls = 0;
    const thunk = async (): Promise<number> => {
      calls += 1;
      await asyncio.sleep(1);
      return calls;
    };
    const task = asyncio.createTask(asyncio.sleep(1, "t"));
    const results = await asyncio.gather(thunk, task, thunk, task);
    assert.deepEqual(results, [1, "t", 1, "t"]);
    assert.equal(calls, 1);
  });
});

test("gather: an empty gather resolves to [] (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    assert.deepEqual(yield* asyncio.gather(), []);
    assert.deepEqual(yield* asyncio.gather({ returnExceptions: true }), []);
  });
  await runVirtual(async () => {
    assert.deepEqual(await asyncio.gather(), []);
  });
});

test("gather: the first error fails the gather at once; the other children go on (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const slow = asyncio.createTask(asyncio.sleep(5, "slow"));
    const error = yield* thrownBy(
      asyncio.gather(slow, async () => {
        await asyncio.sleep(1);
        throw new MyExc("first");
      }),
    );
    assert.ok(error instanceof MyExc && error.message === "first");
    assert.equal(loop.time(), 1);
    assert.equal(slow.done(), false);
    assert.equal(yield* slow, "slow");
  });
  await runVirtual(async () => {
    const slow = asyncio.createTask(asyncio.sleep(5, "slow"));
    await rejects(
      asyncio.gather(slow, function* () {
        yield* asyncio.sleep(1);
        throw new MyExc("first");
      }),
      MyExc,
    );
    assert.equal(slow.done(), false);
    assert.equal(await slow, "slow");
  });
});

test("gather: { returnExceptions: true } puts errors and CancelledErrors among the results (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const boom = new MyExc("boom");
    const cancelled = asyncio.getRunningLoop().createFuture<number>();
    asyncio.getRunningLoop().callLater(0.5, () => cancelled.cancel("stop"));
    const results = yield* asyncio.gather(
      asyncio.sleep(1, "ok"),
      async () => {
        throw boom;
      },
      cancelled,
      { returnExceptions: true },
    );
    assert.equal(results[0], "ok");
    assert.equal(results[1], boom);
    assert.ok(results[2] instanceof asyncio.CancelledError);
    assert.equal((results[2] as Error).message, "stop");
  });
  await runVirtual(async () => {
    const cancelled = asyncio.createTask(asyncio.sleep(10));
    asyncio.getRunningLoop().callLater(0.5, () => cancelled.cancel("stop"));
    const fut = asyncio.getRunningLoop().createFuture<number>();
    fut.cancel("future stopped");
    const results = await asyncio.gather(
      function* () {
        yield* asyncio.sleep(1);
        throw new MyExc("gen");
      },
      cancelled,
      fut,
      { returnExceptions: true },
    );
    assert.ok(results[0] instanceof MyExc);
    assert.ok(results[1] instanceof asyncio.CancelledError);
    assert.ok(results[2] instanceof asyncio.CancelledError);
    assert.equal((results[2] as Error).message, "future stopped");
  });
});

test("gather: a trailing plain object is the options; { returnExceptions: false } fails on errors", async () => {
  await runVirtual(async () => {
    await rejects(
      asyncio.gather(
        async () => {
          throw new MyExc("x");
        },
        { returnExceptions: false },
      ),
      MyExc,
    );
    const nullProto = Object.assign(Object.create(null) as object, { returnExceptions: true });
    const [r] = await asyncio.gather(
      async () => {
        throw new MyExc("y");
      },
      nullProto as { returnExceptions: true },
    );
    assert.ok(r instanceof MyExc);
  });
});

test("gather: a child cancelled from outside fails the gather with CancelledError (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const a = asyncio.createTask(asyncio.sleep(10, "a"));
    const b = asyncio.createTask(asyncio.sleep(1, "b"));
    asyncio.getRunningLoop().callLater(0.5, () => a.cancel("outside"));
    const error = yield* thrownBy(asyncio.gather(a, b));
    assert.ok(error instanceof asyncio.CancelledError);
    assert.equal(error.message, "outside");
    assert.equal(asyncio.currentTask()?.cancelling(), 0, "the task awaiting the gather was not cancelled");
  });
  await runVirtual(async () => {
    const a = asyncio.createTask(async () => {
      await asyncio.sleep(10);
    });
    asyncio.getRunningLoop().callLater(0.5, () => a.cancel());
    await rejects(asyncio.gather(a, asyncio.sleep(1)), asyncio.CancelledError);
    assert.equal(asyncio.currentTask()?.cancelled(), false);
  });
});

test("gather: cancelling the gather cancels every unfinished child (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const children = [
      asyncio.createTask(asyncio.sleep(10)),
      asyncio.createTask(async () => {
        await asyncio.sleep(10);
      }),
    ];
    const done = asyncio.createTask(asyncio.sleep(0, "done"));
    yield* asyncio.sleep(1);
    const g = asyncio.gather(...children, done);
    assert.ok(g.cancel("stop"));
    const error = yield* thrownBy(g);
    assert.ok(error instanceof asyncio.CancelledError);
    assert.ok(children.every((t) => t.cancelled()));
    assert.equal(done.result(), "done");
    assert.equal(g.cancel(), false, "a finished gather cannot be cancelled");
  });
  await runVirtual(async () => {
    const children = [asyncio.createTask(asyncio.sleep(10)), asyncio.createTask(asyncio.sleep(10))];
    const g = asyncio.gather(...children, { returnExceptions: true });
    asyncio.getRunningLoop().callLater(1, () => g.cancel());
    // Even with returnExceptions, a cancelled gather ends with CancelledError.
    await rejects(g, asyncio.CancelledError);
    assert.ok(children.every((t) => t.cancelled()));
  });
});

test("gather: cancelling the task that awaits it cancels the children (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const children = [asyncio.createTask(asyncio.sleep(10)), asyncio.createTask(asyncio.sleep(10))];
    const waiter = asyncio.createTask(function* () {
      return yield* asyncio.gather(...children);
    });
    yield* asyncio.sleep(1);
    waiter.cancel();
    assert.ok((yield* thrownBy(waiter)) instanceof asyncio.CancelledError);
    assert.ok(waiter.cancelled());
    assert.ok(children.every((t) => t.cancelled()));
  });
  await runVirtual(async () => {
    const children = [asyncio.createTask(asyncio.sleep(10)), asyncio.createTask(asyncio.sleep(10))];
    const waiter = asyncio.createTask(async () => await asyncio.gather(...children));
    await asyncio.sleep(1);
    waiter.cancel();
    await rejects(waiter, asyncio.CancelledError);
    assert.ok(children.every((t) => t.cancelled()));
  });
});

test("gather: the errors of the children are retrieved, even after the gather failed", async () => {
  const reported = await reportedErrors(async () => {
    await rejects(
      asyncio.gather(
        async () => {
          await asyncio.sleep(1);
          throw new MyExc("first");
        },
        async () => {
          await asyncio.sleep(2);
          throw new MyExc("second, after the gather failed");
        },
      ),
      MyExc,
    );
    await asyncio.sleep(5);
    await asyncio.gather(
      async () => {
        throw new MyExc("returned");
      },
      { returnExceptions: true },
    );
  });
  assert.deepEqual(reported, ["control"]);
});

// ---- wait ---------------------------------------------------------------------------------

test("wait: ALL_COMPLETED (the default) returns the same futures in done (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const a = asyncio.createTask(asyncio.sleep(1, "a"));
    const b = asyncio.createTask(async () => {
      await asyncio.sleep(2);
      throw new MyExc("b");
    });
    const [done, pending] = yield* asyncio.wait([a, b]);
    assert.deepEqual(done, new Set([a, b]));
    assert.equal(pending.size, 0);
    assert.equal(asyncio.getRunningLoop().time(), 2);
    assert.ok(b.exception() instanceof MyExc);
  });
  await runVirtual(async () => {
    const a = asyncio.createTask(asyncio.sleep(1, "a"));
    const b = asyncio.createTask(asyncio.sleep(2, "b"));
    const [done, pending] = await asyncio.wait(new Set([a, b]), { returnWhen: asyncio.ALL_COMPLETED });
    assert.deepEqual(done, new Set([a, b]));
    assert.equal(pending.size, 0);
  });
});

test("wait: FIRST_COMPLETED returns at the first done future (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const a = asyncio.createTask(asyncio.sleep(1, "a"));
    const b = asyncio.createTask(asyncio.sleep(2, "b"));
    const [done, pending] = yield* asyncio.wait([a, b], { returnWhen: asyncio.FIRST_COMPLETED });
    assert.deepEqual(done, new Set([a]));
    assert.deepEqual(pending, new Set([b]));
    assert.equal(asyncio.getRunningLoop().time(), 1);
    assert.equal(b.cancelled(), false);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    loop.callLater(1, () => fut.setResult(1));
    const b = asyncio.createTask(asyncio.sleep(2, "b"));
    const [done, pending] = await asyncio.wait([fut, b], { returnWhen: asyncio.FIRST_COMPLETED });
    assert.deepEqual(done, new Set([fut]));
    assert.deepEqual(pending, new Set([b]));
  });
});

test("wait: FIRST_EXCEPTION returns at the first error, or when all are done (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const ok = asyncio.createTask(asyncio.sleep(1, "ok"));
    const failing = asyncio.createTask(async () => {
      await asyncio.sleep(2);
      throw new MyExc("x");
    });
    const slow = asyncio.createTask(asyncio.sleep(10));
    const [done, pending] = yield* asyncio.wait([ok, failing, slow], { returnWhen: asyncio.FIRST_EXCEPTION });
    assert.deepEqual(done, new Set([ok, failing]));
    assert.deepEqual(pending, new Set([slow]));
    assert.equal(asyncio.getRunningLoop().time(), 2);
  });
  await runVirtual(async () => {
    const cancelled = asyncio.createTask(asyncio.sleep(10));
    asyncio.getRunningLoop().callLater(1, () => cancelled.cancel());
    const ok = asyncio.createTask(asyncio.sleep(2, "ok"));
    // A cancelled future is not an exception: wait goes on until all are done.
    const [done, pending] = await asyncio.wait([cancelled, ok], { returnWhen: asyncio.FIRST_EXCEPTION });
    assert.deepEqual(done, new Set([cancelled, ok]));
    assert.equal(pending.size, 0);
    assert.equal(asyncio.getRunningLoop().time(), 2);
  });
});

test("wait: on timeout it returns what is pending and cancels nothing (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const a = asyncio.createTask(asyncio.sleep(1, "a"));
    const b = asyncio.createTask(asyncio.sleep(10, "b"));
    const [done, pending] = yield* asyncio.wait([a, b], { timeout: 5 });
    assert.deepEqual(done, new Set([a]));
    assert.deepEqual(pending, new Set([b]));
    assert.equal(asyncio.getRunningLoop().time(), 5);
    assert.equal(yield* b, "b");
  });
  await runVirtual(async () => {
    const b = asyncio.createTask(asyncio.sleep(10, "b"));
    const [done, pending] = await asyncio.wait([b], { timeout: 0 });
    assert.equal(done.size, 0);
    assert.deepEqual(pending, new Set([b]));
    assert.equal(await b, "b");
  });
});

test("wait: cancelling the waiting task does not cancel the futures (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const a = asyncio.createTask(asyncio.sleep(10, "a"));
    const waiter = asyncio.createTask(asyncio.wait([a]));
    yield* asyncio.sleep(1);
    waiter.cancel();
    assert.ok((yield* thrownBy(waiter)) instanceof asyncio.CancelledError);
    assert.equal(a.cancelled(), false);
    assert.equal(yield* a, "a");
  });
  await runVirtual(async () => {
    const a = asyncio.createTask(asyncio.sleep(10, "a"));
    const waiter = asyncio.createTask(async () => await asyncio.wait([a]));
    await asyncio.sleep(1);
    waiter.cancel();
    await rejects(waiter, asyncio.CancelledError);
    assert.equal(await a, "a");
  });
});

test("wait: thunks and foreign Promises become futures; duplicates count once", async () => {
  await runVirtual(async () => {
    const task = asyncio.createTask(asyncio.sleep(1, "t"));
    const [done, pending] = await asyncio.wait([task, task, async () => "thunk", Promise.resolve("promise")]);
    assert.equal(done.size, 3);
    assert.equal(pending.size, 0);
    assert.ok(done.has(task));
    assert.deepEqual([...done].map((f) => f.result()).sort(), ["promise", "t", "thunk"]);
  });
});

test("wait: refuses an empty collection, bare coroutines, a single future and a bad returnWhen (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const empty = yield* thrownBy(asyncio.wait([]));
    assert.ok(empty instanceof asyncio.ValueError);
    function* gen(): asyncio.Coroutine<void> {
      yield* asyncio.sleep(0);
    }
    const generator = gen();
    const bare = yield* thrownBy(asyncio.wait([generator]));
    assert.ok(bare instanceof TypeError && bare.message === "Passing coroutines is forbidden, use tasks explicitly.");
    assert.ok((yield* thrownBy(asyncio.wait([asyncio.sleep(1)]))) instanceof TypeError);
    const fut = loop.createFuture();
    assert.ok((yield* thrownBy(asyncio.wait(fut as never))) instanceof TypeError);
    const bad = yield* thrownBy(asyncio.wait([fut], { returnWhen: "SOMETIMES" as never }));
    assert.ok(bad instanceof asyncio.ValueError);
  });
  await runVirtual(async () => {
    await rejects(asyncio.wait([]), asyncio.ValueError);
    await rejects(asyncio.wait([asyncio.sleep(1)]), TypeError);
  });
});

// ---- waitFor ----------------------------------------------------------------------------

test("waitFor: returns the result when in time, for every kind of awaitable (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(0.1, () => fut.setResult("ok"));
    assert.equal(yield* asyncio.waitFor(fut, 0.2), "ok");
    assert.equal(yield* asyncio.waitFor(asyncio.sleep(1, "coro"), 2), "coro");
    assert.equal(yield* asyncio.waitFor(asyncio.createTask(asyncio.sleep(1, "task")), 2), "task");
    assert.equal(
      yield* asyncio.waitFor(async () => {
        await asyncio.sleep(1);
        return "async thunk";
      }, 2),
      "async thunk",
    );
    function* gen(): asyncio.Coroutine<string> {
      yield* asyncio.sleep(1);
      return "generator";
    }
    assert.equal(yield* asyncio.waitFor(gen(), 2), "generator");
    assert.equal(yield* asyncio.waitFor(gen, 2), "generator");
    assert.equal(yield* asyncio.waitFor(Promise.resolve("promise"), 2), "promise");
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    assert.equal(await asyncio.waitFor(asyncio.sleep(1, "coro"), 2), "coro");
    const n: number = await asyncio.waitFor(async () => 5, 1);
    assert.equal(n, 5);
  });
});

test("waitFor: a coroutine runs inline in the caller's task", async () => {
  await runVirtual(async () => {
    const caller = asyncio.currentTask();
    // The task travels in an array: an async function returning a task would adopt its result.
    const [seen] = await asyncio.waitFor(async () => {
      await asyncio.sleep(0);
      return [asyncio.currentTask()];
    }, 1);
    assert.equal(seen, caller);
    const [fromGenerator] = await asyncio.waitFor(
      asyncio.coroutine(function* () {
        yield* asyncio.sleep(0);
        return [asyncio.currentTask()];
      })(),
      1,
    );
    assert.equal(fromGenerator, caller);
  });
});

test("waitFor: on timeout the inner task is cancelled and awaited, then TimeoutError (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    let cleanedUpAt = -1;
    const inner = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch (e) {
        await asyncio.sleep(0.5);
        cleanedUpAt = loop.time();
        throw e;
      }
    });
    const error = yield* thrownBy(asyncio.waitFor(inner, 1));
    assert.ok(error instanceof asyncio.TimeoutError);
    assert.ok((error as Error).cause instanceof asyncio.CancelledError);
    assert.equal(cleanedUpAt, 1.5);
    assert.equal(loop.time(), 1.5);
    assert.ok(inner.cancelled());
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let running = true;
    const inner = asyncio.createTask(function* () {
      try {
        yield* asyncio.sleep(10);
      } finally {
        running = false;
      }
      return "done";
    });
    await rejects(asyncio.waitFor(inner, 0.1), asyncio.TimeoutError);
    assert.ok(inner.cancelled());
    assert.equal(running, false);
    assert.equal(loop.time(), 0.1);
  });
});

test("waitFor: an inline coroutine that times out gets the CancelledError, then TimeoutError (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let sawCancel = false;
    const error = yield* thrownBy(
      asyncio.waitFor(function* () {
        try {
          yield* asyncio.sleep(10);
        } catch (e) {
          sawCancel = e instanceof asyncio.CancelledError;
          throw e;
        }
      }, 1),
    );
    assert.ok(error instanceof asyncio.TimeoutError);
    assert.ok(sawCancel);
  });
  await runVirtual(async () => {
    let sawCancel = false;
    await rejects(
      asyncio.waitFor(async () => {
        try {
          await asyncio.sleep(10);
        } catch (e) {
          sawCancel = e instanceof asyncio.CancelledError;
          throw e;
        }
      }, 1),
      asyncio.TimeoutError,
    );
    assert.ok(sawCancel);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("waitFor: an error raised while the inner is cancelled is raised instead of TimeoutError", async () => {
  await runVirtual(async () => {
    const inner = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(0.2);
      } finally {
        // biome-ignore lint/correctness/noUnsafeFinally: the inner fails while cancelled, on purpose
        throw new MyExc("in finally");
      }
    });
    await rejects(asyncio.waitFor(inner, 0.01), MyExc);
  });
});

test("waitFor: null waits as long as it takes (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    assert.equal(yield* asyncio.waitFor(asyncio.sleep(1e6, "late"), null), "late");
  });
  await runVirtual(async () => {
    assert.equal(await asyncio.waitFor(asyncio.sleep(1e6, "late"), undefined), "late");
  });
});

test("waitFor: timeout 0 returns a done future's result, cancels anything else, never starts a coroutine (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    fut.setResult("done");
    assert.equal(yield* asyncio.waitFor(fut, 0), "done");
    let started = false;
    const error = yield* thrownBy(
      asyncio.waitFor(async () => {
        started = true;
      }, 0),
    );
    assert.ok(error instanceof asyncio.TimeoutError);
    assert.equal(started, false);
    for (const timeout of [0, -1]) {
      let running = false;
      const inner = asyncio.createTask(function* () {
        running = true;
        try {
          yield* asyncio.sleep(10);
        } finally {
          running = false;
        }
      });
      yield* asyncio.sleep(0);
      assert.ok(running);
      const t0 = loop.time();
      assert.ok((yield* thrownBy(asyncio.waitFor(inner, timeout))) instanceof asyncio.TimeoutError);
      assert.ok(inner.cancelled());
      assert.equal(running, false);
      assert.equal(loop.time(), t0);
    }
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    fut.setResult("done");
    assert.equal(await asyncio.waitFor(fut, 0), "done");
    let started = false;
    await rejects(
      asyncio.waitFor(
        asyncio.coroutine(function* () {
          started = true;
          yield* asyncio.sleep(0);
        })(),
        0,
      ),
      asyncio.TimeoutError,
    );
    assert.equal(started, false);
  });
});

test("waitFor: timeout 0 on a task that cleans up slowly waits for it, then TimeoutError caused by the CancelledError", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let done = false;
    const inner = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch (e) {
        await asyncio.sleep(1);
        throw e;
      } finally {
        done = true;
      }
    });
    await asyncio.sleep(0.5);
    const error = await asyncio.waitFor(inner, 0).then(
      () => assert.fail("expected TimeoutError"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof asyncio.TimeoutError && error.cause instanceof asyncio.CancelledError);
    assert.ok(done);
    assert.equal(loop.time(), 1.5);
  });
});

test("waitFor: a task or coroutine that swallows the cancellation and returns a value: the value is returned (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const inner = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(10);
      } catch {
        return 42;
      }
      return 0;
    });
    assert.equal(yield* asyncio.waitFor(inner, 0.1), 42);
    const inline = yield* asyncio.waitFor(function* () {
      try {
        yield* asyncio.sleep(1);
      } catch {
        return 1;
      }
      return 0;
    }, 0.01);
    assert.equal(inline, 1);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    const result = await asyncio.waitFor(async () => {
      try {
        await asyncio.sleep(10);
      } catch {
        return 42;
      }
      return 0;
    }, 0.1);
    assert.equal(result, 42);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("waitFor: a result set in the iteration the deadline passes is kept on its future; waitFor times out, as in CPython", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    // Scheduled before waitFor's timer for the same time: runs first in the same iteration.
    loop.callAt(1, () => fut.setResult("in time?"));
    const error = yield* thrownBy(asyncio.waitFor(fut, 1));
    assert.ok(error instanceof asyncio.TimeoutError);
    assert.equal(fut.result(), "in time?");
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    const waiting = asyncio.createTask(async () => await asyncio.waitFor(fut, 1));
    await asyncio.sleep(0);
    // Scheduled after waitFor's timer: the timeout cancels the future first.
    loop.callAt(1, () => {
      if (!fut.done()) fut.setResult("too late");
    });
    await rejects(waiting, asyncio.TimeoutError);
    assert.ok(fut.cancelled());
  });
});

test("waitFor: a task that holds up its cancellation still lets the caller be cancelled", async () => {
  await runVirtual(async () => {
    const inner = asyncio.createTask(async () => {
      try {
        await asyncio.sleep(0.3);
      } catch {
        try {
          await asyncio.sleep(0.3);
        } catch {
          await asyncio.sleep(0.3);
        }
      }
      return 42;
    });
    const waiting = asyncio.createTask(() => asyncio.waitFor(inner, 0.1));
    waiting.cancel();
    await rejects(waiting, asyncio.CancelledError);
    assert.equal(await inner, 42);
  });
});

test("waitFor: cancelling the caller cancels the inner, with or without a timeout (both styles)", async () => {
  for (const timeout of [null, 60]) {
    await runVirtual(function* (): asyncio.Coroutine<void> {
      const loop = asyncio.getRunningLoop();
      const inner = asyncio.createTask(function* () {
        yield* loop.createFuture(); // never set
      });
      const waiting = asyncio.createTask(asyncio.waitFor(inner, timeout));
      loop.callSoon(() => waiting.cancel());
      assert.ok((yield* thrownBy(waiting)) instanceof asyncio.CancelledError);
      assert.ok(inner.cancelled());
    });
    await runVirtual(async () => {
      const loop = asyncio.getRunningLoop();
      const inner = asyncio.createTask(async () => {
        await loop.createFuture();
      });
      const waiting = asyncio.createTask(async () => {
        await asyncio.waitFor(inner, timeout);
      });
      await asyncio.sleep(0); // waiting is now inside waitFor
      waiting.cancel();
      await rejects(waiting, asyncio.CancelledError);
      assert.ok(inner.cancelled());
    });
  }
});

test("waitFor: a cancellation right after the inner finished is not lost", async () => {
  await runVirtual(async () => {
    let reachedEnd = false;
    const task = asyncio.createTask(async () => {
      await asyncio.waitFor(async () => {}, 100);
      await asyncio.sleep(1);
      reachedEnd = true;
    });
    await asyncio.sleep(0);
    assert.equal(task.done(), false);
    task.cancel();
    await rejects(task, asyncio.CancelledError);
    assert.equal(reachedEnd, false);
  });
});

test("waitFor: checks its timeout argument", async () => {
  await runVirtual(async () => {
    assert.throws(() => asyncio.waitFor(asyncio.sleep(0), "1" as never), TypeError);
    assert.throws(() => asyncio.waitFor(asyncio.sleep(0), Number.NaN), asyncio.ValueError);
  });
});

// ---- asCompleted -------------------------------------------------------------------------

test("asCompleted: plain iteration gives awaitables resolving in completion order (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const results: unknown[] = [];
    for (const next of asyncio.asCompleted([asyncio.sleep(3, "c"), asyncio.sleep(1, "a"), asyncio.sleep(2, "b")])) {
      results.push(yield* next);
    }
    assert.deepEqual(results, ["a", "b", "c"]);
  });
  await runVirtual(async () => {
    const results: unknown[] = [];
    const tasks = [3, 1, 2].map((d) => asyncio.createTask(asyncio.sleep(d, d)));
    for (const next of asyncio.asCompleted(tasks)) results.push(await next);
    assert.deepEqual(results, [1, 2, 3]);
  });
});

test("asCompleted: for await gives the finished futures themselves, in completion order", async () => {
  await runVirtual(async () => {
    const slow = asyncio.createTask(asyncio.sleep(2, "slow"));
    const fast = asyncio.createTask(asyncio.sleep(1, "fast"));
    const failing = asyncio.createTask(async () => {
      await asyncio.sleep(1.5);
      throw new MyExc("x");
    });
    const order: asyncio.FinishedFuture<string>[] = [];
    // The cast works around TypeScript's iteration cache (see FinishedFuture): this file also iterates plainly.
    type Finished = AsyncIterable<asyncio.FinishedFuture<string>>;
    for await (const fut of asyncio.asCompleted([slow, fast, failing]) as Finished) {
      assert.ok(fut instanceof asyncio.Future && fut.done());
      order.push(fut);
    }
    assert.deepEqual(order, [fast, failing, slow]);
    assert.ok(failing.exception() instanceof MyExc);
    const fromThunks: unknown[] = [];
    for await (const fut of asyncio.asCompleted([async () => "thunk"]) as Finished) {
      assert.ok(fut instanceof asyncio.Task);
      fromThunks.push(fut.result());
    }
    assert.deepEqual(fromThunks, ["thunk"]);
  });
});

test("asCompleted: an error is thrown by the awaitable of the future that failed (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const [first, second] = [
      ...asyncio.asCompleted([
        asyncio.sleep(2, "ok"),
        async () => {
          await asyncio.sleep(1);
          throw new MyExc("x");
        },
      ]),
    ];
    assert.ok((yield* thrownBy(first as asyncio.Awaitable<unknown>)) instanceof MyExc);
    assert.equal(yield* second as asyncio.Awaitable<unknown>, "ok");
  });
  await runVirtual(async () => {
    const [first] = [
      ...asyncio.asCompleted([
        function* () {
          yield* asyncio.sleep(1);
          throw new MyExc("y");
        },
      ]),
    ];
    await rejects(first as asyncio.Awaitable<unknown>, MyExc);
  });
});

test("asCompleted: TimeoutError once the time runs out, after what finished in time (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const results: unknown[] = [];
    const slow = asyncio.createTask(asyncio.sleep(10, "slow"));
    let caught: unknown;
    try {
      for (const next of asyncio.asCompleted([asyncio.sleep(1, "fast"), slow], { timeout: 5 })) results.push(yield* next);
    } catch (e) {
      caught = e;
    }
    assert.deepEqual(results, ["fast"]);
    assert.ok(caught instanceof asyncio.TimeoutError);
    assert.equal(asyncio.getRunningLoop().time(), 5);
    assert.equal(slow.cancelled(), false, "nothing is cancelled");
  });
  await runVirtual(async () => {
    const seen: unknown[] = [];
    await rejects(
      (async () => {
        const iterator = asyncio.asCompleted([asyncio.sleep(1, "fast"), asyncio.sleep(10, "slow")], { timeout: 5 });
        for await (const fut of iterator as AsyncIterable<asyncio.FinishedFuture<string>>) {
          seen.push(fut.result());
        }
      })(),
      asyncio.TimeoutError,
    );
    assert.deepEqual(seen, ["fast"]);
  });
});

test("asCompleted: duplicates count once; nothing given, nothing iterated; awaitables may be awaited together", async () => {
  await runVirtual(async () => {
    const t = asyncio.createTask(asyncio.sleep(1, "t"));
    assert.equal([...asyncio.asCompleted([t, t])].length, 1);
    assert.equal([...asyncio.asCompleted([])].length, 0);
    const nexts = [...asyncio.asCompleted([asyncio.sleep(2, "b"), asyncio.sleep(1, "a")])];
    assert.deepEqual(await asyncio.gather(...nexts), ["a", "b"]);
  });
});

test("asCompleted: a cancelled wait for the next one does not lose a completion", async () => {
  await runVirtual(async () => {
    const [first, second] = [...asyncio.asCompleted([asyncio.sleep(1, "a"), asyncio.sleep(2, "b")])];
    const waiting = asyncio.createTask(() => first as asyncio.Coro<string>);
    await asyncio.sleep(0.5);
    waiting.cancel();
    await rejects(waiting, asyncio.CancelledError);
    assert.equal(await (second as asyncio.Coro<string>), "a");
  });
});

test("asCompleted: refuses a single future or coroutine instead of an iterable", async () => {
  await runVirtual(async () => {
    const fut = asyncio.getRunningLoop().createFuture();
    assert.throws(() => asyncio.asCompleted(fut as never), TypeError);
    assert.throws(() => asyncio.asCompleted(asyncio.sleep(0) as never), TypeError);
  });
});

// ---- shield ---------------------------------------------------------------------------------

test("shield: cancelling the outer does not cancel the inner, which completes (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const inner = asyncio.createTask(asyncio.sleep(1, "saved"));
    const outer = asyncio.shield(inner);
    assert.ok(outer.cancel());
    assert.ok((yield* thrownBy(outer)) instanceof asyncio.CancelledError);
    assert.equal(inner.cancelled(), false);
    assert.equal(yield* inner, "saved");
  });
  await runVirtual(async () => {
    let finished = false;
    const inner = asyncio.createTask(async () => {
      await asyncio.sleep(1);
      finished = true;
      return "saved";
    });
    const outer = asyncio.shield(inner);
    outer.cancel();
    await rejects(outer, asyncio.CancelledError);
    assert.equal(await inner, "saved");
    assert.ok(finished);
  });
});

test("shield: a task cancelled while awaiting a shield gets CancelledError; the inner goes on (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let saved = false;
    const waiter = asyncio.createTask(function* () {
      yield* asyncio.shield(function* () {
        yield* asyncio.sleep(2);
        saved = true;
      });
    });
    yield* asyncio.sleep(1);
    waiter.cancel();
    assert.ok((yield* thrownBy(waiter)) instanceof asyncio.CancelledError);
    assert.equal(saved, false);
    yield* asyncio.sleep(2);
    assert.ok(saved);
  });
  await runVirtual(async () => {
    let saved = false;
    const waiter = asyncio.createTask(async () => {
      await asyncio.shield(async () => {
        await asyncio.sleep(2);
        saved = true;
      });
    });
    await asyncio.sleep(1);
    waiter.cancel();
    await rejects(waiter, asyncio.CancelledError);
    await asyncio.sleep(2);
    assert.ok(saved);
  });
});

test("shield: the inner's result, error and cancellation pass through (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    assert.equal(yield* asyncio.shield(asyncio.sleep(1, "value")), "value");
    const error = yield* thrownBy(
      asyncio.shield(async () => {
        await asyncio.sleep(1);
        throw new MyExc("inner");
      }),
    );
    assert.ok(error instanceof MyExc);
    const inner = asyncio.createTask(asyncio.sleep(10));
    const outer = asyncio.shield(inner);
    inner.cancel();
    assert.ok((yield* thrownBy(outer)) instanceof asyncio.CancelledError);
    assert.ok(outer.cancelled());
  });
  await runVirtual(async () => {
    assert.equal(await asyncio.shield(Promise.resolve("promise")), "promise");
    await rejects(
      asyncio.shield(function* () {
        yield* asyncio.sleep(1);
        throw new MyExc("inner");
      }),
      MyExc,
    );
  });
});

test("shield: a done future is returned as it is", async () => {
  await runVirtual(async () => {
    const fut = asyncio.getRunningLoop().createFuture<number>();
    fut.setResult(1);
    assert.equal(asyncio.shield(fut), fut);
  });
});

test("shield: an inner that fails after the outer was cancelled is not reported as never retrieved", async () => {
  const reported = await reportedErrors(async () => {
    const outer = asyncio.shield(async () => {
      await asyncio.sleep(1);
      throw new MyExc("after the outer was cancelled");
    });
    outer.cancel();
    await rejects(outer, asyncio.CancelledError);
    await asyncio.sleep(2);
  });
  assert.deepEqual(reported, ["control"]);
});

test("the constants are Python's names", () => {
  assert.equal(asyncio.FIRST_COMPLETED, "FIRST_COMPLETED");
  assert.equal(asyncio.FIRST_EXCEPTION, "FIRST_EXCEPTION");
  assert.equal(asyncio.ALL_COMPLETED, "ALL_COMPLETED");
});
