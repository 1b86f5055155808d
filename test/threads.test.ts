/**
 * `toThread` and the loop's executor methods (`runInExecutor`,
 * `setDefaultExecutor`, `shutdownDefaultExecutor`), in both coroutine
 * styles: a blocking call in a thread leaves the loop responsive, the
 * default executor is made lazily and shut down by `run()`, and cancelling
 * the awaiting task cancels a job that has not started and abandons (with a
 * warning) one that has.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";

const JOBS = new URL("../../test/fixtures/executor_jobs.mjs", import.meta.url);
const BIG_FILE_BYTES = 16 * 1024 * 1024;

/** Runs `body` with a temporary file of `BIG_FILE_BYTES` bytes. */
async function withBigFile<T>(body: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-threads-"));
  const path = join(dir, "big.bin");
  writeFileSync(path, Buffer.alloc(BIG_FILE_BYTES, 7));
  try {
    return await body(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Blocks until the main thread stores 1 at cell 0; counts its start at cell 1. */
function blockUntilReleased(shared: SharedArrayBuffer, value: number): number {
  const cells = new Int32Array(shared);
  Atomics.add(cells, 1, 1);
  Atomics.notify(cells, 1);
  while (Atomics.load(cells, 0) === 0) Atomics.wait(cells, 0, 0, 5000);
  return value;
}

function countStart(shared: SharedArrayBuffer): void {
  Atomics.add(new Int32Array(shared), 2, 1);
}

function release(shared: SharedArrayBuffer): void {
  const cells = new Int32Array(shared);
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
}

/** Records what the package logs. */
function captureLog(): { warnings: string[]; restore(): void } {
  const warnings: string[] = [];
  const sink = { debug() {}, info() {}, warn: (...a: unknown[]) => warnings.push(a.join(" ")), error() {} };
  asyncio.setLogger(sink);
  return { warnings, restore: () => asyncio.setLogger(null) };
}

test("toThread: a blocking readFileSync in a thread leaves the loop responsive (generator coroutine)", {
  timeout: 30000,
}, async () => {
  await withBigFile(async (path) => {
    const outcome = await asyncio.run(
      (function* (): asyncio.Coroutine<{ size: number; ticksSeen: number }> {
        const shared = new SharedArrayBuffer(4);
        const ticker = asyncio.createTask(
          (function* () {
            for (;;) {
              yield* asyncio.sleep(0.001);
              Atomics.add(new Int32Array(shared), 0, 1);
              Atomics.notify(new Int32Array(shared), 0);
            }
          })(),
        );
        // The job blocks in readFileSync, then until the ticker has ticked 5 times: it returns only if the loop kept running.
        const result = (yield* asyncio.toThread({ module: JOBS, name: "readThenWaitForTicks" }, path, shared, 5, 10000)) as {
          size: number;
          ticksSeen: number;
        };
        ticker.cancel();
        return result;
      })(),
    );
    assert.equal(outcome.size, BIG_FILE_BYTES);
    assert.ok(outcome.ticksSeen >= 5, `the loop ticked while the thread blocked (${outcome.ticksSeen} ticks)`);
  });
});

test("toThread: fs.readFileSync by reference; a ticker task keeps ticking meanwhile (async function)", {
  timeout: 30000,
}, async () => {
  await withBigFile(async (path) => {
    const outcome = await asyncio.run(async () => {
      const shared = new SharedArrayBuffer(4);
      let ticks = 0;
      const ticker = asyncio.createTask(async () => {
        for (;;) {
          await asyncio.sleep(0.001);
          ticks++;
          Atomics.add(new Int32Array(shared), 0, 1);
          Atomics.notify(new Int32Array(shared), 0);
        }
      });
      const data = (await asyncio.toThread({ module: "node:fs", name: "readFileSync" }, path)) as Uint8Array;
      const proof = (await asyncio.toThread({ module: JOBS, name: "readThenWaitForTicks" }, path, shared, ticks + 5, 10000)) as {
        ticksSeen: number;
      };
      ticker.cancel();
      return { length: data.length, ticksSeen: proof.ticksSeen, ticksBefore: ticks };
    });
    assert.equal(outcome.length, BIG_FILE_BYTES);
    assert.ok(outcome.ticksSeen >= 5);
  });
});

test("toThread runs a self-contained function with arguments; errors reach the task (both styles)", {
  timeout: 20000,
}, async () => {
  const generator = await asyncio.run(
    (function* (): asyncio.Coroutine<[number, unknown]> {
      const sum = yield* asyncio.toThread((a: number, b: number) => a + b, 20, 22);
      let caught: unknown;
      try {
        yield* asyncio.toThread(() => {
          throw new RangeError("out of range");
        });
      } catch (error) {
        caught = error;
      }
      return [sum, caught];
    })(),
  );
  const native = await asyncio.run(async () => {
    const sum = await asyncio.toThread((a: number, b: number) => a * b, 6, 7);
    const caught = await asyncio
      .toThread(() => Promise.reject(new URIError("bad uri")))
      .then(
        () => null,
        (e: unknown) => e,
      );
    return [sum, caught] as const;
  });
  assert.equal(generator[0], 42);
  assert.ok(generator[1] instanceof RangeError && generator[1].message === "out of range");
  assert.equal(native[0], 42);
  assert.ok(native[1] instanceof URIError);
});

test("toThread outside a running loop raises RuntimeError", () => {
  assert.throws(() => asyncio.toThread(() => 1), asyncio.RuntimeError);
});

test("runInExecutor: null uses the default ThreadPoolExecutor, made lazily; run() shuts it down", {
  timeout: 20000,
}, async () => {
  const defaultOf = (loop: asyncio.AbstractEventLoop): unknown =>
    (loop as unknown as { _defaultExecutor: unknown })._defaultExecutor;
  let made: unknown;
  const result = await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.equal(defaultOf(loop), null, "no executor before it is needed");
    const future = loop.runInExecutor(null, (x: number) => x + 1, 1);
    assert.ok(future instanceof asyncio.Future);
    assert.equal(future.getLoop(), loop);
    made = defaultOf(loop);
    assert.ok(made instanceof asyncio.ThreadPoolExecutor);
    assert.equal(made.maxWorkers, (await import("node:os")).availableParallelism());
    const again = await loop.runInExecutor(null, (x: number) => x + 2, 1);
    assert.equal(defaultOf(loop), made, "and the same one afterwards");
    return (await future) + again;
  });
  assert.equal(result, 5);
  assert.match(inspect(made), /^<ThreadPoolExecutor shutdown maxWorkers=\d+ workers=0 busy=0 queued=0>$/);
});

test("runInExecutor with an executor, in a generator coroutine; setDefaultExecutor takes a ThreadPoolExecutor only", {
  timeout: 20000,
}, async () => {
  const pool = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  const processes = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
  try {
    const outcome = await asyncio.run(
      (function* (): asyncio.Coroutine<unknown[]> {
        const loop = asyncio.getRunningLoop();
        const pid = yield* loop.runInExecutor(processes, () => process.pid);
        assert.throws(() => loop.setDefaultExecutor(processes), /executor must be ThreadPoolExecutor/);
        assert.throws(() => loop.setDefaultExecutor({} as asyncio.ThreadPoolExecutor), TypeError);
        loop.setDefaultExecutor(pool);
        const viaDefault = yield* loop.runInExecutor(null, () => "default");
        const viaToThread = yield* asyncio.toThread(() => "toThread");
        return [pid, viaDefault, viaToThread];
      })(),
    );
    assert.notEqual(outcome[0], process.pid);
    assert.deepEqual(outcome.slice(1), ["default", "toThread"]);
    // run() shut the default executor down: it was `pool`.
    assert.throws(() => pool.submit(() => 1), /after shutdown/);
  } finally {
    await processes.shutdown();
    await pool.shutdown();
  }
});

test("after shutdownDefaultExecutor(), runInExecutor(null) raises RuntimeError (both styles)", { timeout: 20000 }, async () => {
  await asyncio.run(async () => {
    const loop = asyncio.getRunningLoop();
    assert.equal(await loop.runInExecutor(null, () => 1), 1);
    await loop.shutdownDefaultExecutor();
    assert.throws(() => loop.runInExecutor(null, () => 1), /Executor shutdown has been called/);
  });
  await asyncio.run(
    (function* () {
      const loop = asyncio.getRunningLoop();
      yield* loop.shutdownDefaultExecutor();
      assert.throws(() => asyncio.toThread(() => 1), /Executor shutdown has been called/);
    })(),
  );
});

test("shutdownDefaultExecutor(timeout) stops waiting for a job that runs too long, with a warning", {
  timeout: 20000,
}, async () => {
  const log = captureLog();
  const shared = new SharedArrayBuffer(12);
  try {
    await asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const job = loop.runInExecutor(null, blockUntilReleased, shared, 1);
      await loop.shutdownDefaultExecutor(0.05);
      assert.equal(job.done(), false);
      release(shared);
      assert.equal(await job, 1);
    });
  } finally {
    release(shared);
    log.restore();
  }
  assert.ok(log.warnings.some((w) => /did not finish joining its workers within 0.05 seconds/.test(w)));
});

for (const style of ["generator", "async"] as const) {
  test(`cancelling the awaiting task cancels a job not started and abandons a running one, with a warning (${style})`, {
    timeout: 20000,
  }, async () => {
    const log = captureLog();
    const shared = new SharedArrayBuffer(12);
    const pool = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
    try {
      await asyncio.run(async () => {
        const loop = asyncio.getRunningLoop();
        const runner = (fn: () => asyncio.Future<unknown>) =>
          style === "generator"
            ? asyncio.createTask(
                (function* () {
                  return yield* fn();
                })(),
              )
            : asyncio.createTask(async () => await fn());
        const running = runner(() => loop.runInExecutor(pool, blockUntilReleased, shared, 1));
        const queued = runner(() => loop.runInExecutor(pool, countStart, shared));
        await asyncio.sleep(0);
        queued.cancel();
        running.cancel();
        const outcomes = await asyncio.gather(running, queued, { returnExceptions: true });
        assert.ok(outcomes[0] instanceof asyncio.CancelledError);
        assert.ok(outcomes[1] instanceof asyncio.CancelledError);
        release(shared);
        // The abandoned job goes on and finishes; the queued one never ran.
        assert.equal(await pool.submit((x: number) => x, 5), 5);
        assert.equal(Atomics.load(new Int32Array(shared), 1), 1, "the running job started");
        assert.equal(Atomics.load(new Int32Array(shared), 2), 0, "the cancelled job never started");
      });
    } finally {
      release(shared);
      await pool.shutdown();
      log.restore();
    }
    assert.equal(log.warnings.length, 1, log.warnings.join("\n"));
    assert.match(log.warnings[0] as string, /blockUntilReleased state=running> was cancelled while running: it goes on/);
  });
}
