/**
 * `run()` and `Runner` (Python's `asyncio.runners`): results in both
 * coroutine styles, cancellation of leftover tasks, closing the loop,
 * refusal inside a running loop, options, and the Runner's lifecycle.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { VirtualTimeLoop } from "asyncio-ts/testing";

const virtual = { loopFactory: () => new VirtualTimeLoop() };

test("run() returns the result of a generator coroutine and of a native async function", async () => {
  function* gen(): asyncio.Coroutine<string> {
    yield* asyncio.sleep(1);
    return "generator";
  }
  assert.equal(await asyncio.run(gen(), virtual), "generator");
  assert.equal(
    await asyncio.run(async () => {
      await asyncio.sleep(1);
      return "native";
    }, virtual),
    "native",
  );
  assert.equal(await asyncio.run(asyncio.sleep(1, "coro"), virtual), "coro");
});

test("run() rethrows the main coroutine's exception (both styles)", async () => {
  function* gen(): asyncio.Coroutine<void> {
    yield* asyncio.sleep(1);
    throw new asyncio.ValueError("generator");
  }
  await assert.rejects(asyncio.run(gen(), virtual), asyncio.ValueError);
  await assert.rejects(
    asyncio.run(async () => {
      await asyncio.sleep(1);
      throw new asyncio.ValueError("native");
    }, virtual),
    asyncio.ValueError,
  );
});

test("run() cancels the tasks left behind, whose finally blocks run (and may await), then closes the loop", async () => {
  const seen: string[] = [];
  function* leftoverGenerator(): asyncio.Coroutine<void> {
    try {
      yield* asyncio.sleep(3600);
      seen.push("generator woke up");
    } catch (error) {
      seen.push(error instanceof asyncio.CancelledError ? "generator cancelled" : "generator other error");
      throw error;
    } finally {
      yield* asyncio.sleep(0);
      seen.push("generator finally");
    }
  }
  async function leftoverNative(): Promise<void> {
    try {
      await asyncio.sleep(3600);
      seen.push("native woke up");
    } catch (error) {
      seen.push(error instanceof asyncio.CancelledError ? "native cancelled" : "native other error");
      throw error;
    } finally {
      await asyncio.sleep(0);
      seen.push("native finally");
    }
  }
  const tasks: asyncio.Task<void>[] = [];
  let loop: asyncio.AbstractEventLoop | undefined;
  const result = await asyncio.run(async () => {
    loop = asyncio.getRunningLoop();
    tasks.push(asyncio.createTask(leftoverGenerator()), asyncio.createTask(leftoverNative));
    await asyncio.sleep(1);
    return "main done";
  }, virtual);
  assert.equal(result, "main done");
  assert.deepEqual([...seen].sort(), ["generator cancelled", "generator finally", "native cancelled", "native finally"]);
  for (const task of tasks) assert.equal(task.cancelled(), true);
  assert.equal(loop?.isClosed(), true);
  assert.equal(loop?.isRunning(), false);
});

test("run() closes its loop even when main fails, and with a generator main", async () => {
  let loop: asyncio.AbstractEventLoop | undefined;
  await assert.rejects(
    asyncio.run(async () => {
      loop = asyncio.getRunningLoop();
      throw new asyncio.ValueError("fails");
    }, virtual),
    asyncio.ValueError,
  );
  assert.equal(loop?.isClosed(), true);
  function* main(): asyncio.Coroutine<void> {
    loop = asyncio.getRunningLoop();
    yield* asyncio.sleep(0);
  }
  await asyncio.run(main(), virtual);
  assert.equal(loop?.isClosed(), true);
});

test("run() inside a running loop is a RuntimeError, from a callback and from tasks of both styles", async () => {
  const attempts: Promise<unknown>[] = [];
  const attempt = (): void => {
    const p = asyncio.run(async () => "never");
    p.catch(() => {});
    attempts.push(p);
  };
  let syncThrow: unknown = "no throw";
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    loop.callSoon(attempt);
    function* gen(): asyncio.Coroutine<void> {
      attempt();
      yield* asyncio.sleep(0);
    }
    await asyncio.createTask(gen());
    attempt();
    await asyncio.sleep(0);
    try {
      await asyncio.run(asyncio.sleep(0));
    } catch (error) {
      syncThrow = error;
    }
  }, virtual);
  assert.equal(attempts.length, 3);
  for (const p of attempts) await assert.rejects(p, asyncio.RuntimeError);
  assert.ok(syncThrow instanceof asyncio.RuntimeError);
});

test("run({ debug }) sets the loop's debug mode", async () => {
  assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug(), { ...virtual, debug: true }), true);
  assert.equal(await asyncio.run(async () => asyncio.getRunningLoop().getDebug(), { ...virtual, debug: false }), false);
});

test("run({ loopFactory }) runs main in the loop the factory makes", async () => {
  const made: asyncio.AbstractEventLoop[] = [];
  const seen = await asyncio.run(
    async () => {
      const loop = asyncio.getRunningLoop();
      await asyncio.sleep(3600);
      return [loop, loop.time()] as const;
    },
    {
      loopFactory: () => {
        const loop = new VirtualTimeLoop({ start: 10 });
        made.push(loop);
        return loop;
      },
    },
  );
  assert.equal(made.length, 1);
  assert.equal(seen[0], made[0]);
  assert.equal(seen[1], 3610);
  assert.equal(made[0]?.isClosed(), true);
});

test("run() without a loopFactory makes an EventLoop (through the policy) and unsets it afterwards", async () => {
  asyncio.setEventLoopPolicy(null);
  try {
    const loop = await asyncio.run(async () => {
      const running = asyncio.getRunningLoop();
      await asyncio.sleep(0.001);
      return running;
    });
    assert.ok(loop instanceof asyncio.EventLoop);
    assert.equal(loop.isClosed(), true);
    assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
  } finally {
    asyncio.setEventLoopPolicy(null);
  }
});

test("a leftover task failing while it is cancelled at shutdown is reported to the exception handler", async () => {
  const reports: asyncio.ExceptionContext[] = [];
  const tasks: asyncio.Task<void>[] = [];
  function* stubbornGenerator(): asyncio.Coroutine<void> {
    try {
      yield* asyncio.sleep(3600);
    } finally {
      // biome-ignore lint/correctness/noUnsafeFinally: the point of the test
      throw new asyncio.ValueError("generator refuses");
    }
  }
  async function stubbornNative(): Promise<void> {
    try {
      await asyncio.sleep(3600);
    } catch {
      throw new asyncio.ValueError("native refuses");
    }
  }
  await asyncio.run(async () => {
    asyncio.getRunningLoop().setExceptionHandler((_loop, context) => {
      reports.push(context);
    });
    tasks.push(asyncio.createTask(stubbornGenerator()), asyncio.createTask(stubbornNative));
    await asyncio.sleep(1);
  }, virtual);
  const shutdownReports = reports.filter((r) => r.message === "unhandled exception during asyncio.run() shutdown");
  assert.equal(shutdownReports.length, 2);
  assert.deepEqual(new Set(shutdownReports.map((r) => r.task)), new Set(tasks));
  for (const report of shutdownReports) assert.ok(report.exception instanceof asyncio.ValueError);
});

test("run() refuses a Promise and non-coroutines with a TypeError", async () => {
  const promise = Promise.resolve(1);
  await assert.rejects(
    asyncio.run(promise as unknown as asyncio.CoroutineLike<number>),
    (error: unknown) => error instanceof TypeError && /run\(main\)/.test(error.message),
  );
  await assert.rejects(asyncio.run(42 as unknown as asyncio.CoroutineLike<number>), TypeError);
});

// ---- Runner ----------------------------------------------------------------------

test("Runner runs several coroutines in one loop and one context", async () => {
  const runner = new asyncio.Runner(virtual);
  try {
    const color = new asyncio.ContextVar<string>("color", { default: "none" });
    const loop = runner.getLoop();
    assert.ok(loop instanceof VirtualTimeLoop);
    assert.equal(runner.getLoop(), loop);
    function* first(): asyncio.Coroutine<asyncio.AbstractEventLoop> {
      color.set("red");
      yield* asyncio.sleep(1);
      return asyncio.getRunningLoop();
    }
    const firstLoop = await runner.run(first());
    const [secondLoop, seen] = await runner.run(async () => {
      await asyncio.sleep(1);
      const value = color.get();
      color.set("blue");
      return [asyncio.getRunningLoop(), value] as const;
    });
    assert.equal(firstLoop, loop);
    assert.equal(secondLoop, loop);
    assert.equal(seen, "red");
    function* third(): asyncio.Coroutine<string> {
      yield* asyncio.sleep(0);
      return color.get();
    }
    assert.equal(await runner.run(third()), "blue");
    assert.equal(color.get(), "none", "the runner's context is its own");
    assert.equal(loop.isClosed(), false);
  } finally {
    await runner.close();
  }
});

test("Runner.run({ context }) runs in the given context", async () => {
  const runner = new asyncio.Runner(virtual);
  try {
    const color = new asyncio.ContextVar<string>("color", { default: "none" });
    const ctx = new asyncio.Context();
    ctx.run(() => color.set("green"));
    assert.equal(await runner.run(async () => color.get(), { context: ctx }), "green");
    assert.equal(await runner.run(async () => color.get()), "none");
  } finally {
    await runner.close();
  }
});

test("Runner.close() closes the loop; run() or getLoop() afterwards: RuntimeError('Runner is closed'); close() again is harmless", async () => {
  const runner = new asyncio.Runner(virtual);
  const loop = runner.getLoop();
  // In an array: a task is a thenable, which an async function's return would await.
  const [leftover] = await runner.run(async () => [asyncio.createTask(asyncio.sleep(3600))] as const);
  await runner.close();
  assert.equal(loop.isClosed(), true);
  assert.equal(leftover.cancelled(), true);
  await assert.rejects(
    runner.run(async () => 1),
    { name: "RuntimeError", message: "Runner is closed" },
  );
  assert.throws(() => runner.getLoop(), asyncio.RuntimeError);
  await runner.close();
});

test("Runner with debug runs its loop in debug mode", async () => {
  const runner = new asyncio.Runner({ ...virtual, debug: true });
  try {
    assert.equal(runner.getLoop().getDebug(), true);
    assert.equal(await runner.run(async () => asyncio.getRunningLoop().getDebug()), true);
  } finally {
    await runner.close();
  }
});

test("Runner is closed by await using ([Symbol.asyncDispose])", async () => {
  let loop: asyncio.AbstractEventLoop | undefined;
  let escaped: asyncio.Runner | undefined;
  {
    await using runner = new asyncio.Runner(virtual);
    escaped = runner;
    loop = runner.getLoop();
    assert.equal(await runner.run(asyncio.sleep(1, "inside")), "inside");
  }
  assert.equal(loop.isClosed(), true);
  await assert.rejects(
    escaped.run(async () => 1),
    asyncio.RuntimeError,
  );

  const runner = new asyncio.Runner(virtual);
  const other = runner.getLoop();
  await runner[Symbol.asyncDispose]();
  assert.equal(other.isClosed(), true);
});

test("Runner.run() inside a running loop is a RuntimeError", async () => {
  const runner = new asyncio.Runner(virtual);
  try {
    let error: unknown;
    await asyncio.run(async () => {
      try {
        await runner.run(async () => 1);
      } catch (e) {
        error = e;
      }
    }, virtual);
    assert.ok(error instanceof asyncio.RuntimeError);
    assert.equal(await runner.run(async () => "usable afterwards"), "usable afterwards");
  } finally {
    await runner.close();
  }
});
