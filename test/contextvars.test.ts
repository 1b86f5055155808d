/**
 * Context variables: ContextVar/Token/Context semantics (Python's
 * `contextvars`), and how they meet the loop: each task runs in its own
 * copy (both coroutine styles, across awaits and interleavings), callbacks
 * run in the context captured when scheduled, `createTask({ context })`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { withLoop } from "./helpers.js";

const { Context, ContextVar, Token, copyContext } = asyncio;

// ---- ContextVar and Token ----------------------------------------------------------

test("ContextVar: name, default, get with and without a default", () => {
  const withDefault = new ContextVar<number>("with_default", { default: 1 });
  const bare = new ContextVar<number>("bare");
  assert.equal(withDefault.name, "with_default");
  new Context().run(() => {
    assert.equal(withDefault.get(), 1);
    assert.equal(withDefault.get(5), 5, "the argument wins over the variable's default");
    assert.equal(bare.get(7), 7);
    assert.equal(bare.get(undefined), undefined, "an explicit undefined default is a default");
    assert.throws(() => bare.get(), asyncio.LookupError);
  });
  const undefinedDefault = new ContextVar<number | undefined>("u", { default: undefined });
  new Context().run(() => assert.equal(undefinedDefault.get(), undefined));
});

test("ContextVar refuses a non-string name with TypeError", () => {
  assert.throws(() => new ContextVar(42 as never), TypeError);
});

test("set returns a Token with var and oldValue (Token.MISSING when there was none); reset restores", () => {
  const v = new ContextVar<string>("v");
  new Context().run(() => {
    const t1 = v.set("a");
    assert.ok(t1 instanceof Token);
    assert.equal(t1.var, v);
    assert.equal(t1.oldValue, Token.MISSING);
    const t2 = v.set("b");
    assert.equal(t2.oldValue, "a");
    assert.equal(v.get(), "b");
    v.reset(t2);
    assert.equal(v.get(), "a");
    v.reset(t1);
    assert.throws(() => v.get(), asyncio.LookupError);
    assert.equal(v.get("gone"), "gone");
  });
});

test("reset with a token used twice is a RuntimeError", () => {
  const v = new ContextVar<number>("v");
  new Context().run(() => {
    const token = v.set(1);
    v.reset(token);
    assert.throws(() => v.reset(token), asyncio.RuntimeError);
  });
});

test("reset with a token of another variable or another context is a ValueError", () => {
  const a = new ContextVar<number>("a");
  const b = new ContextVar<number>("b");
  new Context().run(() => {
    const token = a.set(1);
    assert.throws(() => b.reset(token as never), asyncio.ValueError);
    assert.equal(a.get(), 1);
  });
  const ctx = new Context();
  const token = ctx.run(() => a.set(2));
  new Context().run(() => {
    assert.throws(() => a.reset(token), asyncio.ValueError);
  });
  ctx.run(() => {
    a.reset(token);
    assert.equal(a.get(0), 0);
  });
});

test("reset with something that is not a Token is a TypeError", () => {
  const v = new ContextVar<number>("v");
  new Context().run(() => {
    assert.throws(() => v.reset({} as never), TypeError);
  });
});

test("reprs of ContextVar, Token and Context", () => {
  const v = new ContextVar<number>("shown");
  assert.match(inspect(v), /shown/);
  const ctx = new Context();
  const token = ctx.run(() => v.set(1));
  assert.match(inspect(token), /shown/);
  assert.match(inspect(ctx), /Context/);
  ctx.run(() => v.reset(token));
  assert.match(inspect(token), /used/);
});

// ---- Context ---------------------------------------------------------------------------

test("Context: run returns the function's result with the arguments; the mapping API", () => {
  const a = new ContextVar<number>("a");
  const b = new ContextVar<string>("b");
  const ctx = new Context();
  assert.equal(ctx.size, 0);
  const result = ctx.run(
    (x: number, y: number) => {
      a.set(x);
      b.set(String(y));
      return x + y;
    },
    1,
    2,
  );
  assert.equal(result, 3);
  assert.equal(ctx.size, 2);
  assert.equal(ctx.get(a), 1);
  assert.equal(ctx.get(b), "2");
  assert.equal(ctx.has(a), true);
  const unset = new ContextVar<number>("unset");
  assert.equal(ctx.has(unset), false);
  assert.equal(ctx.get(unset), undefined);
  assert.equal(ctx.get(unset, 9), 9);
  assert.deepEqual(new Set(ctx.keys()), new Set([a, b]));
  assert.deepEqual(new Set(ctx.values()), new Set([1, "2"]));
  assert.deepEqual(
    new Map(ctx.entries()),
    new Map<unknown, unknown>([
      [a, 1],
      [b, "2"],
    ]),
  );
  assert.deepEqual(new Set(ctx), new Set([a, b]), "iterating a context gives its variables");
  assert.throws(() => ctx.get("a" as never), TypeError);
  assert.throws(() => ctx.has({} as never), TypeError);
});

test("Context.run makes changes inside visible only in that context; they outlive the run", () => {
  const v = new ContextVar<string>("v", { default: "outer" });
  const ctx = new Context();
  ctx.run(() => v.set("inside"));
  assert.equal(v.get(), "outer");
  assert.equal(ctx.get(v), "inside");
  assert.equal(
    ctx.run(() => v.get()),
    "inside",
  );
});

test("an exception in Context.run propagates and restores the previous context", () => {
  const v = new ContextVar<string>("v", { default: "outer" });
  const ctx = new Context();
  const error = new asyncio.ValueError("inside");
  assert.throws(
    () =>
      ctx.run(() => {
        v.set("changed");
        throw error;
      }),
    (e: unknown) => e === error,
  );
  assert.equal(v.get(), "outer");
  assert.equal(ctx.get(v), "changed");
});

test("copy() is independent: changes to either are not seen by the other", () => {
  const v = new ContextVar<number>("v");
  const original = new Context();
  original.run(() => v.set(1));
  const copy = original.copy();
  assert.equal(copy.get(v), 1);
  copy.run(() => v.set(2));
  original.run(() => v.set(3));
  assert.equal(copy.get(v), 2);
  assert.equal(original.get(v), 3);
});

test("copyContext() copies the current context", () => {
  const v = new ContextVar<number>("v");
  const ctx = new Context();
  ctx.run(() => {
    v.set(10);
    const copy = copyContext();
    assert.notEqual(copy, ctx);
    assert.equal(copy.get(v), 10);
    v.set(11);
    assert.equal(copy.get(v), 10);
  });
});

test("entering a context that is already entered is a RuntimeError", () => {
  const ctx = new Context();
  assert.throws(() => ctx.run(() => ctx.run(() => 1)), asyncio.RuntimeError);
  const other = new Context();
  assert.throws(() => ctx.run(() => other.run(() => ctx.run(() => 1))), asyncio.RuntimeError);
  assert.equal(
    ctx.run(() => 5),
    5,
    "the context can be entered again once left",
  );
  assert.equal(
    ctx.run(() => other.run(() => 6)),
    6,
    "nesting different contexts is fine",
  );
});

// ---- tasks ------------------------------------------------------------------------------

test("a task runs in a copy: its sets are invisible to the parent and to siblings (both styles)", async () => {
  const v = new ContextVar<string>("v", { default: "default" });
  const seen = await runVirtual(function* (): asyncio.Coroutine<Record<string, string>> {
    v.set("parent");
    const seen: Record<string, string> = {};
    const gen = asyncio.createTask(function* () {
      seen.genStart = v.get();
      v.set("gen");
      yield* asyncio.sleep(1);
      seen.genEnd = v.get();
    });
    const native = asyncio.createTask(async () => {
      seen.nativeStart = v.get();
      v.set("native");
      await asyncio.sleep(1);
      seen.nativeEnd = v.get();
    });
    yield* asyncio.sleep(0);
    seen.parentWhileChildrenRun = v.get();
    yield* gen;
    yield* native;
    seen.parentAfter = v.get();
    return seen;
  });
  assert.deepEqual(seen, {
    genStart: "parent",
    nativeStart: "parent",
    parentWhileChildrenRun: "parent",
    genEnd: "gen",
    nativeEnd: "native",
    parentAfter: "parent",
  });
});

test("a task's copy is taken when it is created, not when it starts", async () => {
  const v = new ContextVar<string>("v", { default: "default" });
  const seen = await runVirtual(async () => {
    v.set("at creation");
    const task = asyncio.createTask(async () => v.get());
    v.set("after creation");
    return await task;
  });
  assert.equal(seen, "at creation");
});

test("native functions keep their task's context across awaits of every kind", async () => {
  const v = new ContextVar<string>("v");
  const seen = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const task = asyncio.createTask(async () => {
      v.set("mine");
      const seen: string[] = [];
      await asyncio.sleep(1);
      seen.push(v.get());
      await asyncio.sleep(0);
      seen.push(v.get());
      await Promise.resolve();
      seen.push(v.get());
      await new Promise<void>((resolve) => setImmediate(resolve));
      seen.push(v.get());
      const fut = loop.createFuture<void>();
      loop.callSoon(() => fut.setResult(undefined));
      await fut;
      seen.push(v.get());
      const inner = async (): Promise<string> => {
        await asyncio.sleep(0);
        return v.get();
      };
      seen.push(await inner());
      return seen;
    });
    return await task;
  });
  assert.deepEqual(seen, ["mine", "mine", "mine", "mine", "mine", "mine"]);
});

test("concurrently interleaved native tasks each see their own values", async () => {
  const v = new ContextVar<number>("v");
  const mismatches = await runVirtual(async () => {
    const mismatches: string[] = [];
    const worker = async (id: number): Promise<void> => {
      v.set(id);
      for (let i = 0; i < 10; i++) {
        if (i % 3 === 0) await asyncio.sleep(0);
        else if (i % 3 === 1) await Promise.resolve();
        else await asyncio.sleep(0.1 * id);
        if (v.get() !== id) mismatches.push(`task ${id} saw ${v.get()} at step ${i}`);
        v.set(id);
      }
    };
    const tasks = [1, 2, 3, 4].map((id) => asyncio.createTask(() => worker(id)));
    for (const t of tasks) await t;
    return mismatches;
  });
  assert.deepEqual(mismatches, []);
});

test("generator and native tasks interleaved keep separate contexts", async () => {
  const v = new ContextVar<string>("v");
  const result = await runVirtual(function* (): asyncio.Coroutine<string[]> {
    const out: string[] = [];
    const gen = asyncio.createTask(function* () {
      for (let i = 0; i < 3; i++) {
        v.set(`gen${i}`);
        yield* asyncio.sleep(0);
        out.push(v.get());
      }
    });
    const native = asyncio.createTask(async () => {
      for (let i = 0; i < 3; i++) {
        v.set(`native${i}`);
        await asyncio.sleep(0);
        out.push(v.get());
      }
    });
    yield* gen;
    yield* native;
    return out;
  });
  assert.deepEqual(result, ["gen0", "native0", "gen1", "native1", "gen2", "native2"]);
});

test("a generator Coro awaited from a native task runs in that task's context", async () => {
  const v = new ContextVar<string>("v", { default: "none" });
  const seen = await runVirtual(async () => {
    const inner = asyncio.coroutine(function* () {
      const before = v.get();
      yield* asyncio.sleep(1);
      v.set("set by the coro");
      return before;
    });
    const task = asyncio.createTask(async () => {
      v.set("task value");
      const before = await inner();
      return [before, v.get()];
    });
    return await task;
  });
  assert.deepEqual(seen, ["task value", "set by the coro"]);
});

test("createTask(coro, { context }) runs in exactly that context (both styles)", async () => {
  const v = new ContextVar<string>("v", { default: "default" });
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const ctxGen = new Context();
    ctxGen.run(() => v.set("preset gen"));
    const ctxNative = new Context();
    ctxNative.run(() => v.set("preset native"));
    const gen = asyncio.createTask(
      function* () {
        const seen = v.get();
        v.set("changed by gen");
        yield* asyncio.sleep(1);
        return seen;
      },
      { context: ctxGen },
    );
    const native = asyncio.createTask(
      async () => {
        const seen = v.get();
        await asyncio.sleep(1);
        v.set("changed by native");
        return seen;
      },
      { context: ctxNative },
    );
    assert.equal(gen.getContext(), ctxGen);
    assert.equal(native.getContext(), ctxNative);
    assert.equal(yield* gen, "preset gen");
    assert.equal(yield* native, "preset native");
    assert.equal(ctxGen.get(v), "changed by gen");
    assert.equal(ctxNative.get(v), "changed by native");
    assert.equal(v.get(), "default");
  });
});

test("a task's context is current for its own getContext(): sets show there", async () => {
  const v = new ContextVar<number>("v");
  await runVirtual(async () => {
    const task = asyncio.createTask(async () => {
      v.set(1);
      await asyncio.sleep(0);
      v.set(2);
    });
    await task;
    assert.equal(task.getContext().get(v), 2);
  });
});

// ---- callbacks ---------------------------------------------------------------------------

test("callbacks run in a copy of the context current when they were scheduled", async () => {
  const v = new ContextVar<string>("v", { default: "default" });
  const seen = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const seen: string[] = [];
    v.set("first");
    loop.callSoon(() => {
      seen.push(`soon: ${v.get()}`);
      v.set("changed by the callback");
    });
    v.set("second");
    loop.callLater(1, () => seen.push(`later: ${v.get()}`));
    const chosen = new Context();
    chosen.run(() => v.set("chosen"));
    chosen.run(() => loop.callSoon(() => seen.push(`in chosen: ${v.get()}`)));
    v.set("third");
    await asyncio.sleep(2);
    seen.push(`task: ${v.get()}`);
    assert.equal(chosen.get(v), "chosen", "the callback ran in a copy of the chosen context");
    return seen;
  });
  assert.deepEqual(seen, ["soon: first", "in chosen: chosen", "later: second", "task: third"]);
});

test("callbacks scheduled from a native continuation capture the task's context", async () => {
  const v = new ContextVar<string>("v", { default: "default" });
  const seen = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const task = asyncio.createTask(async () => {
      v.set("task");
      await asyncio.sleep(0);
      await Promise.resolve();
      const fut = loop.createFuture<string>();
      loop.callSoon(() => fut.setResult(v.get()));
      return await fut;
    });
    return await task;
  });
  assert.equal(seen, "task");
});

test("handles report the context they run in (getContext)", async () => {
  const v = new ContextVar<string>("v");
  await withLoop((loop) => {
    const ctx = new Context();
    ctx.run(() => v.set("x"));
    const handle = ctx.run(() => loop.callSoon(() => {}));
    assert.equal(handle.getContext().get(v), "x");
    assert.notEqual(handle.getContext(), ctx, "a copy of the current context");
  });
});

test("done callbacks of a task run in the context they were added in, not the task's", async () => {
  const v = new ContextVar<string>("v", { default: "default" });
  const seen = await runVirtual(function* (): asyncio.Coroutine<string> {
    v.set("parent");
    const task = asyncio.createTask(function* () {
      v.set("child");
      yield* asyncio.sleep(0);
    });
    const fut = asyncio.getRunningLoop().createFuture<string>();
    task.addDoneCallback(() => fut.setResult(v.get()));
    return yield* fut;
  });
  assert.equal(seen, "parent");
});
