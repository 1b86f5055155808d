/**
 * `asyncio.events`: Handle and TimerHandle (cancel, context, repr),
 * getRunningLoop (and its advice when an async main was called too early),
 * and the policy functions, in the main thread and in a worker thread.
 * Tests that touch the policy restore the default one afterwards.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { Worker } from "node:worker_threads";
import * as asyncio from "asyncio-ts";
import { runVirtual, VirtualTimeLoop } from "asyncio-ts/testing";
import { withLoop } from "./helpers.js";

/** Runs `body` with a fresh default policy, and restores a fresh default policy afterwards. */
async function withFreshPolicy<T>(body: () => Promise<T> | T): Promise<T> {
  asyncio.setEventLoopPolicy(null);
  try {
    return await body();
  } finally {
    asyncio.setEventLoopPolicy(null);
  }
}

function isNoRunningLoopError(error: unknown): boolean {
  return (
    error instanceof asyncio.RuntimeError && /no running event loop/.test(error.message) && /run\(main\)/.test(error.message)
  );
}

// ---- Handle and TimerHandle -------------------------------------------------------

test("callSoon returns a Handle, callLater and callAt a TimerHandle", async () => {
  await withLoop((loop) => {
    const soon = loop.callSoon(() => {});
    const later = loop.callLater(1, () => {});
    const at = loop.callAt(1, () => {});
    assert.ok(soon instanceof asyncio.Handle);
    assert.ok(!(soon instanceof asyncio.TimerHandle));
    assert.ok(later instanceof asyncio.TimerHandle);
    assert.ok(at instanceof asyncio.TimerHandle);
    assert.ok(later instanceof asyncio.Handle);
  });
});

test("Handle.cancelled() says whether cancel() was called; cancel() is idempotent", async () => {
  await withLoop(async (loop) => {
    let ran = false;
    const handle = loop.callSoon(() => {
      ran = true;
    });
    assert.equal(handle.cancelled(), false);
    handle.cancel();
    assert.equal(handle.cancelled(), true);
    handle.cancel();
    assert.equal(handle.cancelled(), true);
    const timer = loop.callLater(1, () => {
      ran = true;
    });
    timer.cancel();
    timer.cancel();
    assert.equal(timer.cancelled(), true);
    await loop.runUntilComplete(asyncio.sleep(2));
    assert.equal(ran, false);
  });
});

test("a callback runs in a copy of the context current when it was scheduled; getContext() returns it", async () => {
  await withLoop(async (loop) => {
    const color = new asyncio.ContextVar<string>("color", { default: "none" });
    const ctx = new asyncio.Context();
    const seen: string[] = [];
    const handle = ctx.run(() => {
      color.set("red");
      return loop.callSoon(() => {
        seen.push(color.get());
        color.set("blue");
      });
    });
    const timer = ctx.run(() => loop.callLater(1, () => seen.push(color.get())));
    const outside = loop.callSoon(() => seen.push(color.get()));
    assert.ok(handle.getContext() instanceof asyncio.Context);
    assert.equal(handle.getContext().get(color), "red");
    assert.equal(timer.getContext().get(color), "red");
    assert.equal(outside.getContext().get(color), undefined);
    await loop.runUntilComplete(asyncio.sleep(2));
    assert.deepEqual(seen, ["red", "none", "red"]);
    // What the callback set stayed in the handle's context.
    assert.equal(ctx.get(color), "red");
    assert.equal(handle.getContext().get(color), "blue");
  });
});

test("the repr of Handle and TimerHandle names the callback (util.inspect and String)", async () => {
  await withLoop((loop) => {
    function namedCallback(_a: number, _b: string): void {}
    function laterCallback(): void {}
    const handle = loop.callSoon(namedCallback, 1, "x");
    assert.match(inspect(handle), /^<Handle .*namedCallback\(1, "x"\).*>$/);
    assert.equal(String(handle), inspect(handle));
    loop.advance(5);
    const timer = loop.callLater(10, laterCallback);
    assert.match(inspect(timer), /^<TimerHandle .*when=15.*laterCallback\(\).*>$/);
    timer.cancel();
    assert.match(inspect(timer), /^<TimerHandle .*cancelled.*>$/);
    handle.cancel();
    assert.match(inspect(handle), /^<Handle .*cancelled.*>$/);
    // In debug mode a cancelled handle still names its callback.
    loop.setDebug(true);
    const debugHandle = loop.callSoon(namedCallback, 2, "y");
    debugHandle.cancel();
    assert.match(inspect(debugHandle), /cancelled/);
    assert.match(inspect(debugHandle), /namedCallback\(2, "y"\)/);
  });
});

// ---- getRunningLoop -----------------------------------------------------------

test("getRunningLoop() outside a loop throws RuntimeError telling to pass the function itself", () => {
  const error = (() => {
    try {
      asyncio.getRunningLoop();
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(isNoRunningLoopError(error), String(error));
});

test("an async main called before the loop runs fails at its first asyncio call; run() of its promise is a TypeError", async () => {
  async function main(): Promise<number> {
    await asyncio.sleep(0.01);
    return 1;
  }
  const started = main();
  await assert.rejects(started, isNoRunningLoopError);
  const refused = (async () => asyncio.run(started as unknown as asyncio.CoroutineLike<number>))();
  await assert.rejects(refused, (error: unknown) => error instanceof TypeError && /run\(main\)/.test(error.message));

  async function usesLoop(): Promise<void> {
    asyncio.getRunningLoop();
  }
  await assert.rejects(usesLoop(), isNoRunningLoopError);
  async function createsTask(): Promise<void> {
    asyncio.createTask(asyncio.sleep(0));
  }
  await assert.rejects(createsTask(), isNoRunningLoopError);
});

test("getRunningLoop() returns the loop in callbacks, generator tasks and native tasks (after awaits too)", async () => {
  const seen: [string, boolean][] = [];
  let loop: asyncio.AbstractEventLoop | undefined;
  const check = (where: string): void => {
    seen.push([where, asyncio.getRunningLoop() === loop && asyncio.getEventLoop() === loop]);
  };
  function* generator(): asyncio.Coroutine<void> {
    check("generator start");
    yield* asyncio.sleep(0);
    check("generator after sleep(0)");
    yield* asyncio.sleep(1);
    check("generator after sleep(1)");
  }
  async function native(): Promise<void> {
    check("native start");
    await asyncio.sleep(0);
    check("native after sleep(0)");
    await asyncio.sleep(1);
    check("native after sleep(1)");
    await Promise.resolve();
    check("native after a resolved Promise");
    await new Promise((resolve) => setImmediate(resolve));
    check("native after setImmediate");
    await new Promise((resolve) => setTimeout(resolve, 1));
    check("native after setTimeout");
  }
  await runVirtual(async () => {
    loop = asyncio.getRunningLoop();
    loop.callSoon(check, "callSoon");
    loop.callLater(0.5, check, "callLater");
    await asyncio.createTask(generator());
    await asyncio.createTask(native);
  });
  assert.equal(seen.length, 11);
  for (const [where, ok] of seen) assert.ok(ok, where);
  assert.throws(() => asyncio.getRunningLoop(), asyncio.RuntimeError);
});

// ---- the policy -------------------------------------------------------------------

test("getEventLoop() in the main thread creates a loop once and returns the same one", async () => {
  await withFreshPolicy(() => {
    const loop = asyncio.getEventLoop();
    try {
      assert.ok(loop instanceof asyncio.EventLoop);
      assert.equal(asyncio.getEventLoop(), loop);
      assert.equal(asyncio.getEventLoopPolicy().getEventLoop(), loop);
    } finally {
      loop.close();
    }
  });
});

test("getEventLoop() returns the running loop when one runs", async () => {
  await withFreshPolicy(async () => {
    const current = asyncio.newEventLoop();
    asyncio.setEventLoop(current);
    const running = new VirtualTimeLoop();
    try {
      let seen: asyncio.AbstractEventLoop | undefined;
      await running.runUntilComplete(async () => {
        seen = asyncio.getEventLoop();
      });
      assert.equal(seen, running);
      assert.equal(asyncio.getEventLoop(), current);
    } finally {
      running.close();
      current.close();
    }
  });
});

test("setEventLoop(loop) makes it current; setEventLoop(null) makes getEventLoop() raise RuntimeError", async () => {
  await withFreshPolicy(() => {
    const loop = new VirtualTimeLoop();
    try {
      asyncio.setEventLoop(loop);
      assert.equal(asyncio.getEventLoop(), loop);
      asyncio.setEventLoop(null);
      assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
      assert.throws(() => asyncio.setEventLoop({} as unknown as asyncio.AbstractEventLoop), TypeError);
    } finally {
      loop.close();
    }
  });
});

test("newEventLoop() returns a new EventLoop each time, without making it current", async () => {
  await withFreshPolicy(() => {
    const current = asyncio.newEventLoop();
    asyncio.setEventLoop(current);
    const a = asyncio.newEventLoop();
    const b = asyncio.newEventLoop();
    try {
      assert.ok(a instanceof asyncio.EventLoop);
      assert.ok(a instanceof asyncio.AbstractEventLoop);
      assert.notEqual(a, b);
      assert.notEqual(a, current);
      assert.equal(asyncio.getEventLoop(), current);
      assert.equal(a.isRunning(), false);
      assert.equal(a.isClosed(), false);
    } finally {
      for (const loop of [current, a, b]) loop.close();
    }
  });
});

test("getEventLoopPolicy() returns the default policy; setEventLoopPolicy(null) resets it", async () => {
  await withFreshPolicy(() => {
    const policy = asyncio.getEventLoopPolicy();
    assert.ok(policy instanceof asyncio.DefaultEventLoopPolicy);
    assert.ok(policy instanceof asyncio.AbstractEventLoopPolicy);
    assert.equal(asyncio.getEventLoopPolicy(), policy);
    const custom = new asyncio.DefaultEventLoopPolicy();
    asyncio.setEventLoopPolicy(custom);
    assert.equal(asyncio.getEventLoopPolicy(), custom);
    asyncio.setEventLoopPolicy(null);
    const reset = asyncio.getEventLoopPolicy();
    assert.ok(reset instanceof asyncio.DefaultEventLoopPolicy);
    assert.notEqual(reset, custom);
    assert.throws(() => asyncio.setEventLoopPolicy({} as unknown as asyncio.AbstractEventLoopPolicy), TypeError);
    assert.equal(asyncio.getEventLoopPolicy(), reset);
  });
});

test("a custom AbstractEventLoopPolicy subclass is used by getEventLoop, setEventLoop, newEventLoop and run()", async () => {
  class RecordingPolicy extends asyncio.AbstractEventLoopPolicy {
    readonly calls: string[] = [];
    current: asyncio.AbstractEventLoop | null = null;
    readonly made: asyncio.AbstractEventLoop[] = [];

    getEventLoop(): asyncio.AbstractEventLoop {
      this.calls.push("get");
      if (this.current === null) throw new asyncio.RuntimeError("no loop in RecordingPolicy");
      return this.current;
    }

    setEventLoop(loop: asyncio.AbstractEventLoop | null): void {
      this.calls.push(loop === null ? "set null" : "set");
      this.current = loop;
    }

    newEventLoop(): asyncio.AbstractEventLoop {
      this.calls.push("new");
      const loop = new VirtualTimeLoop();
      this.made.push(loop);
      return loop;
    }
  }
  await withFreshPolicy(async () => {
    const policy = new RecordingPolicy();
    asyncio.setEventLoopPolicy(policy);
    assert.equal(asyncio.getEventLoopPolicy(), policy);
    assert.throws(() => asyncio.getEventLoop(), asyncio.RuntimeError);
    const loop = asyncio.newEventLoop();
    assert.ok(loop instanceof VirtualTimeLoop);
    asyncio.setEventLoop(loop);
    assert.equal(asyncio.getEventLoop(), loop);
    assert.deepEqual(policy.calls, ["get", "new", "set", "get"]);
    loop.close();

    // run() makes its loop through the policy: a virtual-time loop, so the hour passes at once.
    policy.calls.length = 0;
    const [ranOn, elapsed] = await asyncio.run(async () => {
      const running = asyncio.getRunningLoop();
      await asyncio.sleep(3600);
      return [running, running.time()] as const;
    });
    assert.equal(ranOn, policy.made[1]);
    assert.equal(elapsed, 3600);
    assert.deepEqual(policy.calls, ["new", "set", "set null"]);
    assert.equal(ranOn.isClosed(), true);
  });
});

test("in a worker thread getEventLoop() raises unless a loop was set; each thread runs its own loop", {
  timeout: 10000,
}, async () => {
  const fixture = fileURLToPath(new URL("../../test/fixtures/worker_loop.mjs", import.meta.url));
  const outcome = await asyncio.run(
    async () => {
      const loop = asyncio.getRunningLoop();
      const workerRunning = loop.createFuture<unknown>();
      const report = loop.createFuture<Record<string, unknown>>();
      const exited = loop.createFuture<number>();
      const worker = new Worker(fixture);
      worker.on("message", (message: { kind: string; report?: Record<string, unknown> }) => {
        loop.callSoonThreadsafe(() => {
          if (message.kind === "report") report.setResult(message.report as Record<string, unknown>);
          else workerRunning.setResult(message);
        });
      });
      worker.on("error", (error) => {
        loop.callSoonThreadsafe(() => {
          for (const fut of [workerRunning, report]) if (!fut.done()) fut.setException(error);
        });
      });
      worker.on("exit", (code) => loop.callSoonThreadsafe(() => exited.setResult(code)));
      await workerRunning;
      // Both loops are running now: this thread's, and the worker's (waiting for this message).
      const mainSeesOwnLoop = asyncio.getRunningLoop() === loop && loop.isRunning();
      worker.postMessage("main loop running");
      return { report: await report, exitCode: await exited, mainSeesOwnLoop };
    },
    { loopFactory: () => new asyncio.EventLoop() },
  );
  assert.equal(outcome.mainSeesOwnLoop, true);
  assert.equal(outcome.exitCode, 0);
  assert.deepEqual(outcome.report, {
    getEventLoopBeforeSet: { ok: false, name: "RuntimeError", isRuntimeError: true },
    getRunningLoopOutside: { ok: false, name: "RuntimeError", isRuntimeError: true },
    getEventLoopAfterSet: { ok: true, value: "true" },
    result: { runningIsOwn: true, parentSaid: "main loop running", runningIsOwnAfterAwait: true },
    getEventLoopAfterUnset: { ok: false, name: "RuntimeError", isRuntimeError: true },
  });
});
