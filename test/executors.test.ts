/**
 * `ThreadPoolExecutor` and `ProcessPoolExecutor`: what runs in a worker
 * (self-contained functions, `{ module, name }` references), what comes
 * back (results, errors with their class, message and the worker's stack),
 * closures refused with a clear error, parallelism proved by rendezvous
 * (two jobs that can only finish if they run at the same time), workers
 * started lazily, reused and replaced after a crash, `map`, and `shutdown`
 * with `cancelFutures`. Each pool is shut down by its test; the suite ends
 * with nothing left running.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";

const JOBS = new URL("../../test/fixtures/executor_jobs.mjs", import.meta.url);

type Place = { pid: number; threadId: number };
const KINDS = [
  ["ThreadPoolExecutor", (maxWorkers?: number) => new asyncio.ThreadPoolExecutor({ maxWorkers })],
  ["ProcessPoolExecutor", (maxWorkers?: number) => new asyncio.ProcessPoolExecutor({ maxWorkers })],
] as const;

/** Runs `body` with a pool of `kind`, shut down (waiting) afterwards. */
async function withPool<T>(
  make: (n?: number) => asyncio.Executor,
  maxWorkers: number,
  body: (pool: asyncio.Executor) => Promise<T>,
) {
  const pool = make(maxWorkers);
  try {
    return await body(pool);
  } finally {
    await pool.shutdown({ wait: true, cancelFutures: true });
  }
}

function sumSquares(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += i * i;
  return total;
}

/**
 * Sums squares, then waits (up to `timeoutMs`) for the other job at the
 * shared counter: both report `met` only if they ran at the same time.
 */
function sumSquaresThenRendezvous(shared: SharedArrayBuffer, n: number, timeoutMs: number): { sum: number; met: boolean } {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i * i;
  const cells = new Int32Array(shared);
  Atomics.add(cells, 0, 1);
  Atomics.notify(cells, 0);
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(cells, 0) < 2) {
    const left = deadline - Date.now();
    if (left <= 0) return { sum, met: false };
    Atomics.wait(cells, 0, 1, left);
  }
  return { sum, met: true };
}

/** Blocks until the main thread stores 1 at the shared cell, then returns `value`. */
function blockUntilReleased(shared: SharedArrayBuffer, value: number): number {
  const cells = new Int32Array(shared);
  Atomics.add(cells, 1, 1);
  while (Atomics.load(cells, 0) === 0) Atomics.wait(cells, 0, 0, 5000);
  return value;
}

/** Uses the global `crypto`: no enclosing scope declares one. */
function globalCryptoType(): string {
  return typeof crypto.randomUUID;
}

function release(shared: SharedArrayBuffer): void {
  const cells = new Int32Array(shared);
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
}

for (const [kindName, make] of KINDS) {
  const broken = kindName === "ThreadPoolExecutor" ? asyncio.BrokenThreadPool : asyncio.BrokenProcessPool;

  test(`${kindName}: submit runs a self-contained function; arguments and results are structured-cloned`, {
    timeout: 20000,
  }, async () => {
    await withPool(make, 2, async (pool) => {
      assert.equal(await pool.submit((a: number, b: number) => a + b, 2, 40), 42);
      const result = await pool.submit(
        (m: Map<string, number[]>, d: Date) => ({ keys: [...m.keys()], year: d.getUTCFullYear(), big: 2n ** 70n }),
        new Map([["a", [1]]]),
        new Date(Date.UTC(2024, 0, 1)),
      );
      assert.deepEqual(result, { keys: ["a"], year: 2024, big: 2n ** 70n });
      assert.equal(
        await pool.submit(async (ms: number) => new Promise((r) => setTimeout(() => r(`slept ${ms}`), ms)), 5),
        "slept 5",
      );
      const method = {
        double(x: number) {
          return 2 * x;
        },
      };
      assert.equal(await pool.submit(method.double, 21), 42, "a method's source is sent as well");
    });
  });

  test(`${kindName}: { module, name } runs an exported function, built-ins included`, { timeout: 20000 }, async () => {
    await withPool(make, 1, async (pool) => {
      const where = (await pool.submit({ module: JOBS, name: "whereAmI" })) as Place;
      if (kindName === "ProcessPoolExecutor") assert.notEqual(where.pid, process.pid);
      else assert.equal(where.pid, process.pid);
      const hostname = await pool.submit({ module: "node:os", name: "hostname" });
      assert.equal(typeof hostname, "string");
      await assert.rejects(Promise.resolve(pool.submit({ module: JOBS, name: "notAFunction" })), (error: Error) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /has no exported function 'notAFunction' \(it is a number/);
        return true;
      });
      assert.throws(() => pool.submit({ module: "", name: "f" }), TypeError);
    });
  });

  test(`${kindName}: a function that closes over a variable fails with an error naming it`, { timeout: 20000 }, async () => {
    const factor = 3;
    const scale = (x: number): number => x * factor;
    await withPool(make, 1, async (pool) => {
      await assert.rejects(Promise.resolve(pool.submit(scale, 2)), (error: Error) => {
        assert.ok(error instanceof ReferenceError);
        assert.equal(
          error.message,
          "function scale closes over 'factor', which does not exist in the worker: pass it as an argument or use { module, name }",
        );
        return true;
      });
      // The same function made self-contained works.
      assert.equal(await pool.submit((x: number, f: number) => x * f, 2, factor), 6);
      // A closure over a variable named like one of the worker's globals is refused before it is sent.
      const crypto = { tag: "not the global crypto" };
      const tagOf = (): string => crypto.tag;
      assert.throws(
        () => pool.submit(tagOf),
        (error: Error) =>
          error instanceof ReferenceError &&
          error.message ===
            "function tagOf closes over 'crypto', which in the worker would silently be the worker's global 'crypto' instead: pass it as an argument or use { module, name }",
      );
      assert.equal(
        await pool.submit(globalCryptoType),
        "function",
        "where no variable hides it, the name is the worker's global",
      );
      assert.throws(() => pool.submit(Math.max, 1, 2), /native or bound function.*\{ module, name \}/);
      assert.throws(() => pool.submit(scale.bind(null), 1), /native or bound function/);
      assert.throws(() => pool.submit(class Job {} as unknown as () => void), /class Job/);
    });
  });

  test(`${kindName}: errors arrive with their class name, message, properties and the worker's stack`, {
    timeout: 20000,
  }, async () => {
    await withPool(make, 1, async (pool) => {
      const error = await pool
        .submit(function parse(text: string) {
          class ParseError extends Error {
            readonly offset = 7;
          }
          throw new ParseError(`cannot parse ${JSON.stringify(text)}`, { cause: new RangeError("inner") });
        }, "x=")
        .then(
          () => assert.fail("expected a ParseError"),
          (e: unknown) => e as Error & { offset: number },
        );
      assert.equal(error.constructor.name, "ParseError");
      assert.ok(error instanceof Error);
      assert.equal(error.message, 'cannot parse "x="');
      assert.equal(error.offset, 7);
      assert.match(error.stack ?? "", /at parse \(asyncio-ts-job:parse:/, "the worker's stack, naming the function");
      assert.ok(error.cause instanceof RangeError);
      const fromModule = await pool.submit({ module: JOBS, name: "raiseValueError" }, 5).then(
        () => assert.fail("expected a ValueError"),
        (e: unknown) => e as Error,
      );
      assert.ok(fromModule instanceof asyncio.ValueError, "this package's classes are revived as themselves");
      assert.equal(fromModule.message, "bad value: 5");
      assert.match(fromModule.stack ?? "", /executor_jobs\.mjs/);
      const typeError = await pool
        .submit((x: unknown) => (x as { valueOf(): unknown }).valueOf(), null)
        .then(
          () => assert.fail("expected a TypeError"),
          (e: unknown) => e,
        );
      assert.ok(typeError instanceof TypeError);
      await assert.rejects(Promise.resolve(pool.submit(() => () => 1)), /result of the job cannot be sent back/);
      await assert.rejects(
        Promise.resolve(
          pool.submit(
            (f: unknown) => f,
            () => 1,
          ),
        ),
        /arguments of <anonymous> cannot be sent/,
      );
      assert.equal(await pool.submit(() => 1), 1, "the worker still serves after all these failures");
    });
  });

  test(`${kindName}: a crashed worker fails its job with a clear error and is replaced`, { timeout: 20000 }, async () => {
    await withPool(make, 1, async (pool) => {
      const first = await pool.submit({ module: JOBS, name: "whereAmI" });
      const error = await pool
        .submit(function crash() {
          process.exit(3);
        })
        .then(
          () => assert.fail("expected the job to fail"),
          (e: unknown) => e as Error,
        );
      assert.ok(error instanceof broken);
      assert.ok(error instanceof asyncio.BrokenExecutor);
      assert.match(error.message, /exited with code 3 while running crash; the job is lost, the worker will be replaced/);
      const second = await pool.submit({ module: JOBS, name: "whereAmI" });
      assert.notDeepEqual(second, first, "a new worker runs the next job");
    });
  });

  test(`${kindName}: map yields the results in order; an error is raised when its turn comes`, { timeout: 20000 }, async () => {
    await withPool(make, 2, async (pool) => {
      const squares: number[] = [];
      for await (const square of pool.map((x: number) => x * x, [1, 2, 3, 4])) squares.push(square);
      assert.deepEqual(squares, [1, 4, 9, 16]);
      const seen: number[] = [];
      await assert.rejects(async () => {
        for await (const value of pool.map(
          (x: number) => {
            if (x === 2) throw new RangeError("two");
            return x;
          },
          [1, 2, 3],
        ))
          seen.push(value);
      }, RangeError);
      assert.deepEqual(seen, [1]);
    });
  });

  test(`${kindName}: workers start when needed, up to maxWorkers, and are reused`, { timeout: 20000 }, async () => {
    await withPool(make, 2, async (pool) => {
      assert.match(inspect(pool), new RegExp(`^<${kindName} maxWorkers=2 workers=0 busy=0 queued=0>$`));
      const places = (await Promise.all(
        [1, 2, 3, 4, 5, 6].map(() => pool.submit({ module: JOBS, name: "whereAmI" })),
      )) as Place[];
      const distinct = new Set(places.map((p) => `${p.pid}/${p.threadId}`));
      assert.ok(distinct.size >= 1 && distinct.size <= 2, `at most maxWorkers workers ran the jobs: ${[...distinct]}`);
      assert.match(inspect(pool), /workers=[12] busy=0 queued=0/);
    });
    assert.throws(() => make(0), asyncio.ValueError);
    assert.throws(() => make(1.5), TypeError);
    const byDefault = make();
    assert.equal((byDefault as asyncio.ThreadPoolExecutor).maxWorkers, (await import("node:os")).availableParallelism());
    await byDefault.shutdown();
  });

  test(`${kindName}: shutdown({ cancelFutures }) cancels the jobs not started; the running one finishes`, {
    timeout: 20000,
  }, async () => {
    const pool = make(1);
    const shared = new SharedArrayBuffer(8);
    // A SharedArrayBuffer cannot go to another process: there the running job simply returns.
    const running =
      kindName === "ThreadPoolExecutor" ? pool.submit(blockUntilReleased, shared, 1) : pool.submit((v: number) => v, 1);
    const queued = [2, 3, 4].map((v) => pool.submit((x: number) => x, v));
    assert.equal(running.running(), true);
    assert.equal(queued[0]?.state, "PENDING");
    const stopped = pool.shutdown({ wait: true, cancelFutures: true });
    assert.deepEqual(
      queued.map((f) => f.cancelled()),
      [true, true, true],
    );
    assert.throws(() => pool.submit(() => 1), /cannot schedule new futures after shutdown/);
    if (kindName === "ThreadPoolExecutor") release(shared);
    assert.equal(await running, 1);
    await stopped;
    assert.match(inspect(pool), /shutdown maxWorkers=1 workers=0/);
  });
}

test("ThreadPoolExecutor: CPU-bound jobs run on several threads at once (a rendezvous only both can reach)", {
  timeout: 30000,
}, async () => {
  const n = 1e7;
  const expected = sumSquares(n);
  await withPool(KINDS[0][1], 2, async (pool) => {
    const shared = new SharedArrayBuffer(4);
    const results = await Promise.all([1, 2].map(() => pool.submit(sumSquaresThenRendezvous, shared, n, 10000)));
    assert.deepEqual(results, [
      { sum: expected, met: true },
      { sum: expected, met: true },
    ]);
  });
  // The control: one worker runs them one after the other, so the first cannot meet the second.
  await withPool(KINDS[0][1], 1, async (pool) => {
    const shared = new SharedArrayBuffer(4);
    const results = await Promise.all([1, 2].map(() => pool.submit(sumSquaresThenRendezvous, shared, 10, 100)));
    assert.deepEqual(
      results.map((r) => r.met),
      [false, true],
    );
  });
});

test("ProcessPoolExecutor: jobs run in several processes at once (a rendezvous only both can reach)", {
  timeout: 30000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-exec-"));
  try {
    await withPool(KINDS[1][1], 2, async (pool) => {
      const [a, b] = (await Promise.all([
        pool.submit({ module: JOBS, name: "rendezvousFiles" }, dir, "a", "b", 10000),
        pool.submit({ module: JOBS, name: "rendezvousFiles" }, dir, "b", "a", 10000),
      ])) as { met: boolean; pid: number }[] as [{ met: boolean; pid: number }, { met: boolean; pid: number }];
      assert.equal(a.met && b.met, true);
      assert.notEqual(a.pid, b.pid);
      assert.notEqual(a.pid, process.pid);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("executors from tasks, in both coroutine styles: wrapFuture(submit(...)) and await submit(...)", {
  timeout: 20000,
}, async () => {
  const pool = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
  try {
    const fromGenerator = await asyncio.run(
      (function* (): asyncio.Coroutine<number> {
        return yield* asyncio.wrapFuture(pool.submit((x: number) => x + 1, 1));
      })(),
    );
    const fromAsync = await asyncio.run(async () => {
      const wrapped = await asyncio.wrapFuture(pool.submit((x: number) => x + 2, 1));
      return wrapped + (await pool.submit((x: number) => x, 10));
    });
    assert.deepEqual([fromGenerator, fromAsync], [2, 13]);
  } finally {
    await pool.shutdown();
  }
});

test("await using shuts a pool down at the end of the block", { timeout: 20000 }, async () => {
  let outer: asyncio.ThreadPoolExecutor | undefined;
  {
    await using pool = new asyncio.ThreadPoolExecutor({ maxWorkers: 1 });
    outer = pool;
    assert.equal(await pool.submit(() => "inside"), "inside");
  }
  assert.throws(() => outer?.submit(() => 1), asyncio.RuntimeError);
});

test("ProcessPoolExecutor in a `node -e` script: the children run the worker, not the parent's script again", {
  timeout: 30000,
}, () => {
  const index = new URL("../../dist/index.js", import.meta.url).href;
  const script = `import(${JSON.stringify(index)}).then(async (asyncio) => {
    const pool = new asyncio.ProcessPoolExecutor({ maxWorkers: 1 });
    const argv = await pool.submit(() => process.execArgv);
    await pool.shutdown();
    console.log(JSON.stringify(argv));
  });`;
  const child = spawnSync(process.execPath, ["--no-warnings", "-e", script], {
    encoding: "utf8",
    timeout: 20000,
    killSignal: "SIGKILL",
  });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), ["--no-warnings"]);
});
