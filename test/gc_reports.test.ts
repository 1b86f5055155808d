/**
 * What the loop reports when objects are garbage-collected: exceptions
 * never retrieved (futures and tasks, both coroutine styles), pending tasks
 * of a closed loop, and (debug mode) coroutines never awaited. Needs
 * `--expose-gc` (the test script passes it).
 *
 * Every "nothing is reported" check runs beside a control object that is
 * reported, and waits for the control's report first, so that it cannot
 * pass merely because the collector did not run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual, VirtualTimeLoop } from "asyncio-ts/testing";
import { captureExceptions } from "./helpers.js";

const gc = (globalThis as { gc?: () => void }).gc;

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Collects garbage and gives finalizers a few turns until `done()` holds (at most 50 tries). */
async function collectUntil(done: () => boolean): Promise<boolean> {
  assert.ok(gc, "these tests need node --expose-gc");
  for (let i = 0; i < 50 && !done(); i++) {
    gc();
    await turn();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return done();
}

/** A few more collections, for reports that must not come. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc?.();
    await turn();
  }
}

function messages(seen: asyncio.ExceptionContext[]): string[] {
  return seen.map((c) => c.message);
}

/** Makes a future of `loop` that fails with `error`; `retrieve` decides what is done with it. */
function failedFuture(loop: asyncio.AbstractEventLoop, error: Error, retrieve: (f: asyncio.Future<unknown>) => void): void {
  const fut = loop.createFuture<unknown>();
  fut.setException(error);
  retrieve(fut);
}

test("a Future whose exception is never retrieved is reported when collected", async () => {
  const loop = new VirtualTimeLoop();
  const seen = captureExceptions(loop);
  const error = new asyncio.ValueError("lost");
  failedFuture(loop, error, () => {});
  assert.ok(await collectUntil(() => seen.length > 0), "the report arrives");
  assert.deepEqual(messages(seen), ["Future exception was never retrieved"]);
  assert.equal(seen[0].exception, error);
  assert.match(String(seen[0].futureRepr), /^<Future finished exception=ValueError/);
  loop.close();
});

test("retrieving the exception (result(), exception(), await, then, cancel) prevents the report", async () => {
  const loop = new VirtualTimeLoop();
  const seen = captureExceptions(loop);
  const retrieved = new asyncio.ValueError("retrieved");
  failedFuture(loop, retrieved, (f) => assert.throws(() => f.result()));
  failedFuture(loop, retrieved, (f) => assert.equal(f.exception(), retrieved));
  failedFuture(loop, retrieved, (f) => {
    f.cancel(); // a no-op on a done future, but it marks the exception as seen, as in CPython
  });
  const awaited: Promise<unknown>[] = [];
  failedFuture(loop, retrieved, (f) => {
    awaited.push(
      (async () => {
        try {
          await f;
        } catch (e) {
          return e;
        }
      })(),
    );
  });
  failedFuture(loop, retrieved, (f) => {
    awaited.push(f.then(undefined, (e: unknown) => e));
  });
  // Awaiting settles through a done callback: let the loop run it.
  const running = loop.runForever();
  for (const p of awaited) assert.equal(await p, retrieved);
  loop.stop();
  await running;

  const control = new asyncio.ValueError("control");
  failedFuture(loop, control, () => {});
  awaited.length = 0;
  assert.ok(await collectUntil(() => seen.length > 0), "the control is reported");
  await settle();
  assert.deepEqual(
    seen.map((c) => c.exception),
    [control],
  );
  loop.close();
});

test("a Task that fails and nobody looks at is reported (generator and native)", async () => {
  let loop: asyncio.AbstractEventLoop | null = null;
  let seen: asyncio.ExceptionContext[] = [];
  const genError = new asyncio.ValueError("generator failure");
  const nativeError = new asyncio.ValueError("native failure");
  await runVirtual(function* (): asyncio.Coroutine<void> {
    loop = asyncio.getRunningLoop();
    seen = captureExceptions(loop);
    asyncio.createTask(function* () {
      yield* asyncio.sleep(0);
      throw genError;
    });
    asyncio.createTask(async () => {
      await asyncio.sleep(0);
      throw nativeError;
    });
    yield* asyncio.sleep(1);
  });
  assert.ok(await collectUntil(() => seen.length >= 2), "both reports arrive");
  assert.deepEqual(messages(seen), ["Task exception was never retrieved", "Task exception was never retrieved"]);
  assert.deepEqual(new Set(seen.map((c) => c.exception)), new Set([genError, nativeError]));
  for (const context of seen) assert.match(String(context.futureRepr), /^<Task finished name='Task-\d+'/);
  assert.ok(loop);
});

test("a failed Task whose exception is retrieved is not reported (result, exception, await, yield*)", async () => {
  let seen: asyncio.ExceptionContext[] = [];
  const retrieved = new asyncio.ValueError("retrieved");
  const control = new asyncio.ValueError("control");
  await runVirtual(async () => {
    seen = captureExceptions(asyncio.getRunningLoop());
    const fail = async (error: Error): Promise<never> => {
      await asyncio.sleep(0);
      throw error;
    };
    const t1 = asyncio.createTask(() => fail(retrieved));
    const t2 = asyncio.createTask(() => fail(retrieved));
    const t3 = asyncio.createTask(() => fail(retrieved));
    const t4 = asyncio.createTask(() => fail(retrieved));
    asyncio.createTask(() => fail(control));
    await asyncio.sleep(1);
    assert.throws(() => t1.result());
    assert.equal(t2.exception(), retrieved);
    await assert.rejects(async () => await t3);
    const byGenerator = asyncio.createTask(function* () {
      try {
        yield* t4;
      } catch {
        return "caught";
      }
      return "not caught";
    });
    assert.equal(await byGenerator, "caught");
  });
  assert.ok(await collectUntil(() => seen.length > 0), "the control is reported");
  await settle();
  assert.deepEqual(
    seen.map((c) => c.exception),
    [control],
  );
});

test("a pending task of a loop that is closed and dropped is reported as destroyed (both styles)", async () => {
  const loop = new VirtualTimeLoop();
  const seen = captureExceptions(loop);
  (() => {
    const never = loop.createFuture<void>();
    loop.createTask(function* () {
      yield* never;
    });
    loop.createTask(async () => {
      await never;
    });
  })();
  // Run until both tasks wait on the future, then close the loop under them.
  await loop.runUntilComplete(asyncio.sleep(0));
  assert.equal(asyncio.allTasks(loop).size, 2);
  loop.close();
  assert.ok(await collectUntil(() => seen.length >= 2), "both reports arrive");
  assert.deepEqual(messages(seen), ["Task was destroyed but it is pending!", "Task was destroyed but it is pending!"]);
  for (const context of seen) assert.match(String(context.futureRepr), /^<Task pending/);
});

test("a pending task that never started, of a closed loop, is reported as destroyed", async () => {
  const loop = new VirtualTimeLoop();
  const seen = captureExceptions(loop);
  (() => {
    loop.createTask(asyncio.sleep(1));
  })();
  loop.close();
  assert.ok(await collectUntil(() => seen.length > 0), "the report arrives");
  assert.deepEqual(messages(seen), ["Task was destroyed but it is pending!"]);
});

test("in debug mode, a Coro that is never awaited is reported through the logger", async () => {
  const warnings: string[] = [];
  const record = (...args: unknown[]): void => {
    warnings.push(args.map(String).join(" "));
  };
  asyncio.setLogger({ debug: () => {}, info: () => {}, warn: record, error: record });
  try {
    const forgotten = asyncio.coroutine(function* forgottenWork() {
      yield* asyncio.sleep(1);
    });
    const used = asyncio.coroutine(function* usedWork() {
      yield* asyncio.sleep(1);
    });
    await runVirtual(
      async () => {
        forgotten();
        await used();
      },
      { debug: true },
    );
    assert.ok(await collectUntil(() => warnings.some((w) => w.includes("was never awaited"))), "the warning arrives");
    await settle();
    const neverAwaited = warnings.filter((w) => w.includes("was never awaited"));
    assert.equal(neverAwaited.length, 1);
    assert.match(neverAwaited[0], /forgottenWork/);
  } finally {
    asyncio.setLogger(null);
  }
});

test("outside debug mode a Coro that is never awaited is not reported", async () => {
  const warnings: string[] = [];
  const record = (...args: unknown[]): void => {
    warnings.push(args.map(String).join(" "));
  };
  asyncio.setLogger({ debug: () => {}, info: () => {}, warn: record, error: record });
  try {
    const forgotten = asyncio.coroutine(function* quietWork() {
      yield* asyncio.sleep(1);
    });
    // The control: a Future's lost exception, reported through the same machinery.
    const loop = new VirtualTimeLoop({ debug: false });
    const seen = captureExceptions(loop);
    await runVirtual(
      async () => {
        forgotten();
      },
      { debug: false },
    );
    failedFuture(loop, new asyncio.ValueError("control"), () => {});
    assert.ok(await collectUntil(() => seen.length > 0), "the control is reported");
    await settle();
    assert.equal(warnings.filter((w) => w.includes("was never awaited")).length, 0);
    loop.close();
  } finally {
    asyncio.setLogger(null);
  }
});
