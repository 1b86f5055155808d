/**
 * Future: states, errors, done callbacks (always through the loop, in
 * order, in their context), cancellation, Promise behaviour, `await` and
 * `yield*`, and the repr.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { withLoop } from "./helpers.js";

test("a new future is pending: result() and exception() throw InvalidStateError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    assert.equal(fut.done(), false);
    assert.equal(fut.cancelled(), false);
    assert.equal(fut.getLoop(), loop);
    assert.throws(
      () => fut.result(),
      (e: unknown) => e instanceof asyncio.InvalidStateError && e.message === "Result is not ready.",
    );
    assert.throws(() => fut.exception(), asyncio.InvalidStateError);
  });
});

test("new Future({ loop }) is bound to that loop", async () => {
  await withLoop((loop) => {
    const fut = new asyncio.Future<number>({ loop });
    assert.equal(fut.getLoop(), loop);
    assert.ok(asyncio.isFuture(fut));
    assert.equal(asyncio.isFuture(Promise.resolve(1)), false);
    assert.equal(asyncio.isFuture({ then() {} }), false);
  });
});

test("setResult: done, result() returns it, exception() is null", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    fut.setResult(42);
    assert.equal(fut.done(), true);
    assert.equal(fut.cancelled(), false);
    assert.equal(fut.result(), 42);
    assert.equal(fut.exception(), null);
  });
});

test("setException: result() throws it, exception() returns it", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    const error = new asyncio.ValueError("boom");
    fut.setException(error);
    assert.equal(fut.done(), true);
    assert.equal(fut.cancelled(), false);
    assert.throws(
      () => fut.result(),
      (e: unknown) => e === error,
    );
    assert.equal(fut.exception(), error);
  });
});

test("setting a done future again throws InvalidStateError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    fut.setResult(1);
    assert.throws(() => fut.setResult(2), asyncio.InvalidStateError);
    assert.throws(() => fut.setException(new Error("x")), asyncio.InvalidStateError);
    assert.equal(fut.result(), 1);

    const failed = loop.createFuture<number>();
    failed.setException(new Error("first"));
    assert.throws(() => failed.setResult(2), asyncio.InvalidStateError);
    failed.exception();

    const cancelled = loop.createFuture<number>();
    cancelled.cancel();
    assert.throws(() => cancelled.setResult(2), asyncio.InvalidStateError);
    assert.throws(() => cancelled.setException(new Error("x")), asyncio.InvalidStateError);
  });
});

test("cancel(msg): CancelledError with that message from result() and exception()", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    assert.equal(fut.cancel("stop now"), true);
    assert.equal(fut.done(), true);
    assert.equal(fut.cancelled(), true);
    assert.throws(
      () => fut.result(),
      (e: unknown) => e instanceof asyncio.CancelledError && e.message === "stop now",
    );
    assert.throws(
      () => fut.exception(),
      (e: unknown) => e instanceof asyncio.CancelledError && e.message === "stop now",
    );
    assert.equal(fut.cancel("again"), false);

    const plain = loop.createFuture<number>();
    plain.cancel();
    assert.throws(
      () => plain.result(),
      (e: unknown) => e instanceof asyncio.CancelledError && e.message === "",
    );
  });
});

test("cancel() on a done future returns false and changes nothing", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    fut.setResult(3);
    assert.equal(fut.cancel(), false);
    assert.equal(fut.cancelled(), false);
    assert.equal(fut.result(), 3);
  });
});

test("done callbacks run through the loop, never inline, in registration order, with the future", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<string>();
    const calls: [string, unknown][] = [];
    fut.addDoneCallback((f) => calls.push(["first", f]));
    fut.addDoneCallback((f) => calls.push(["second", f]));
    fut.addDoneCallback((f) => calls.push(["third", f]));
    fut.setResult("x");
    assert.equal(calls.length, 0, "callbacks must not run inside setResult");
    loop.stop();
    await loop.runForever(); // one iteration
    assert.deepEqual(
      calls.map(([name]) => name),
      ["first", "second", "third"],
    );
    for (const [, arg] of calls) assert.equal(arg, fut);
  });
});

test("a done callback added to a done future is scheduled, not called inline", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<string>();
    fut.setResult("x");
    const calls: string[] = [];
    fut.addDoneCallback(() => calls.push("late"));
    assert.equal(calls.length, 0);
    loop.stop();
    await loop.runForever();
    assert.deepEqual(calls, ["late"]);
  });
});

test("done callbacks are scheduled with callSoon: they run after callbacks scheduled before the future finished", async () => {
  const order = await runVirtual(function* () {
    const loop = asyncio.getRunningLoop();
    const order: string[] = [];
    const fut = loop.createFuture<void>();
    fut.addDoneCallback(() => order.push("done callback"));
    loop.callSoon(() => order.push("earlier callSoon"));
    fut.setResult(undefined);
    loop.callSoon(() => order.push("later callSoon"));
    yield* asyncio.sleep(0);
    yield* asyncio.sleep(0);
    return order;
  });
  assert.deepEqual(order, ["earlier callSoon", "done callback", "later callSoon"]);
});

test("done callbacks run in the given context, or in a copy of the context current when added", async () => {
  const v = new asyncio.ContextVar<string>("v", { default: "unset" });
  const seen = await runVirtual(function* () {
    const loop = asyncio.getRunningLoop();
    const seen: string[] = [];
    const fut = loop.createFuture<void>();
    const chosen = new asyncio.Context();
    chosen.run(() => v.set("chosen"));
    v.set("at registration");
    fut.addDoneCallback(() => seen.push(v.get()));
    fut.addDoneCallback(() => seen.push(v.get()), { context: chosen });
    fut.addDoneCallback(() => {
      v.set("changed by a callback");
    });
    v.set("after registration");
    fut.setResult(undefined);
    yield* asyncio.sleep(0);
    yield* asyncio.sleep(0);
    seen.push(v.get());
    return seen;
  });
  assert.deepEqual(seen, ["at registration", "chosen", "after registration"]);
});

test("removeDoneCallback removes every registration and returns the count", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<void>();
    const calls: string[] = [];
    const a = (): void => {
      calls.push("a");
    };
    const b = (): void => {
      calls.push("b");
    };
    fut.addDoneCallback(a);
    fut.addDoneCallback(b);
    fut.addDoneCallback(a);
    assert.equal(fut.removeDoneCallback(a), 2);
    assert.equal(fut.removeDoneCallback(a), 0);
    assert.equal(
      fut.removeDoneCallback(() => {}),
      0,
    );
    fut.setResult(undefined);
    loop.stop();
    await loop.runForever();
    assert.deepEqual(calls, ["b"]);
  });
});

test("addDoneCallback refuses a non-function with TypeError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<void>();
    assert.throws(() => fut.addDoneCallback(42 as never), TypeError);
  });
});

test("cancel() schedules the done callbacks", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<void>();
    const seen: boolean[] = [];
    fut.addDoneCallback((f) => seen.push(f.cancelled()));
    fut.cancel();
    assert.equal(seen.length, 0);
    loop.stop();
    await loop.runForever();
    assert.deepEqual(seen, [true]);
  });
});

test("then/catch/finally behave like a Promise's", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();

    const ok = loop.createFuture<number>();
    const chained = ok.then((v) => v * 2);
    assert.ok(chained instanceof Promise);
    loop.callSoon(() => ok.setResult(21));
    assert.equal(await chained, 42);
    assert.equal(await ok.then(), 21, "then() without handlers passes the value through");

    const bad = loop.createFuture<number>();
    const error = new asyncio.ValueError("bad");
    loop.callSoon(() => bad.setException(error));
    assert.equal(await bad.catch((e: unknown) => (e === error ? "caught" : "wrong")), "caught");
    assert.equal(
      await bad.then(
        () => "fulfilled",
        (e: unknown) => (e === error ? "rejected" : "wrong"),
      ),
      "rejected",
    );

    const events: string[] = [];
    const fin = loop.createFuture<string>();
    loop.callSoon(() => fin.setResult("v"));
    assert.equal(await fin.finally(() => events.push("finally")), "v");
    assert.deepEqual(events, ["finally"]);

    const finBad = loop.createFuture<string>();
    loop.callSoon(() => finBad.setException(error));
    await assert.rejects(
      finBad.finally(() => events.push("finally 2")),
      (e: unknown) => e === error,
    );
    assert.deepEqual(events, ["finally", "finally 2"]);

    const cancelled = loop.createFuture<string>();
    loop.callSoon(() => cancelled.cancel("gone"));
    await assert.rejects(
      cancelled.then((v) => v),
      (e: unknown) => e instanceof asyncio.CancelledError && e.message === "gone",
    );

    // Promise combinators accept futures.
    const f1 = loop.createFuture<number>();
    const f2 = loop.createFuture<number>();
    loop.callSoon(() => {
      f1.setResult(1);
      f2.setResult(2);
    });
    assert.deepEqual(await Promise.all([f1, f2]), [1, 2]);
  });
});

test("then() on an already finished future settles (asynchronously)", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    fut.setResult(5);
    let value: number | undefined;
    const p = fut.then((v) => {
      value = v;
    });
    assert.equal(value, undefined);
    const running = loop.runForever();
    await p;
    loop.stop();
    await running;
    assert.equal(value, 5);
  });
});

test("await fut in a native async function returns the result or throws the exception", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(1, () => fut.setResult("later"));
    assert.equal(await fut, "later");

    const bad = loop.createFuture<string>();
    const error = new asyncio.ValueError("nope");
    loop.callSoon(() => bad.setException(error));
    await assert.rejects(
      async () => await bad,
      (e: unknown) => e === error,
    );

    const done = loop.createFuture<string>();
    done.setResult("already");
    assert.equal(await done, "already");
  });
});

test("yield* fut in a generator coroutine returns the result or throws the exception", async () => {
  const result = await runVirtual(function* () {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callLater(1, () => fut.setResult("later"));
    const value = yield* fut;

    const bad = loop.createFuture<string>();
    const error = new asyncio.ValueError("nope");
    loop.callSoon(() => bad.setException(error));
    let caught: unknown;
    try {
      yield* bad;
    } catch (e) {
      caught = e;
    }
    assert.equal(caught, error);

    const done = loop.createFuture<string>();
    done.setResult("already");
    const already = yield* done;
    return [value, already];
  });
  assert.deepEqual(result, ["later", "already"]);
});

test("yield* on a cancelled future throws CancelledError into the generator", async () => {
  const message = await runVirtual(function* () {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<string>();
    loop.callSoon(() => fut.cancel("bye"));
    try {
      yield* fut;
    } catch (e) {
      assert.ok(e instanceof asyncio.CancelledError);
      return e.message;
    }
    return "not cancelled";
  });
  assert.equal(message, "bye");
});

test("the future's iterator yields the future itself once, then returns the result", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    const it = fut[Symbol.iterator]();
    const first = it.next();
    assert.equal(first.done, false);
    assert.equal(first.value, fut);
    fut.setResult(7);
    assert.deepEqual(it.next(), { value: 7, done: true });
  });
});

test("the future's iterator resumed while the future is pending throws RuntimeError", async () => {
  await withLoop((loop) => {
    const fut = loop.createFuture<number>();
    const it = fut[Symbol.iterator]();
    it.next();
    assert.throws(() => it.next(), asyncio.RuntimeError);
  });
});

test("repr via util.inspect: pending, finished result, finished exception, cancelled, callbacks", async () => {
  await withLoop((loop) => {
    const pending = loop.createFuture<number>();
    assert.equal(inspect(pending), "<Future pending>");
    assert.equal(String(pending), "<Future pending>");

    function onDone(): void {}
    pending.addDoneCallback(onDone);
    assert.equal(inspect(pending), "<Future pending cb=[onDone]>");

    const finished = loop.createFuture<number>();
    finished.setResult(42);
    assert.equal(inspect(finished), "<Future finished result=42>");

    const text = loop.createFuture<string>();
    text.setResult("hi");
    assert.equal(inspect(text), '<Future finished result="hi">');

    const failed = loop.createFuture<number>();
    failed.setException(new asyncio.ValueError("bad"));
    assert.match(inspect(failed), /^<Future finished exception=ValueError\("bad"\)>$/);
    failed.exception();

    const cancelled = loop.createFuture<number>();
    cancelled.cancel();
    assert.equal(inspect(cancelled), "<Future cancelled>");
  });
});

test("a Future subclass keeps its class name in the repr", async () => {
  class MyFuture<T> extends asyncio.Future<T> {}
  await withLoop((loop) => {
    const fut = new MyFuture<number>({ loop });
    assert.equal(inspect(fut), "<MyFuture pending>");
  });
});

test("a done future can be awaited after its loop is closed", async () => {
  let kept: asyncio.Task<number> | undefined;
  await asyncio.run(async () => {
    kept = asyncio.createTask(async () => 7);
    await kept;
  });
  assert.equal(await kept, 7);
  let failed: asyncio.Future<unknown> | undefined;
  await asyncio.run(function* (): asyncio.Coroutine<void> {
    failed = asyncio.getRunningLoop().createFuture();
    failed.setException(new asyncio.ValueError("bad"));
    yield;
  });
  await assert.rejects(async () => {
    await failed;
  }, asyncio.ValueError);
});
