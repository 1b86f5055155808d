/**
 * The executor section of `asyncio-ts bench`: the round-trip latency of a
 * job (submit -> result) on a `ThreadPoolExecutor` and a
 * `ProcessPoolExecutor`, awaited directly and through the loop
 * (`loop.runInExecutor`), and CPU-bound work (4 jobs summing squares to
 * 5 x 10^7) run on one worker after the other versus on two at once, beside
 * the same work in the main thread. Workers are started and warmed up before
 * anything is timed.
 */
import * as asyncio from "../index.js";

/** One measured line. */
export interface ExecutorMeasurement {
  name: string;
  n: number;
  /** Mean microseconds per round trip, or milliseconds for the CPU rows. */
  value: number;
  unit: "us/job" | "ms";
}

/** What `runExecutorBench` returns: the rows, and the table text. */
export interface ExecutorBenchResult {
  results: ExecutorMeasurement[];
  text: string;
}

/** Each CPU job sums squares to this N; 4 of them make the work long enough that starting workers does not count. */
const CPU_N = 5e7;
const CPU_JOBS = 4;

function sumSquares(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += i * i;
  return total;
}

function identity(x: number): number {
  return x;
}

async function roundTrips(pool: asyncio.Executor, n: number): Promise<number> {
  for (let i = 0; i < 20; i++) await pool.submit(identity, i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await pool.submit(identity, i);
  return ((performance.now() - start) * 1000) / n;
}

async function loopRoundTrips(pool: asyncio.Executor, n: number): Promise<number> {
  return asyncio.run(
    async () => {
      const loop = asyncio.getRunningLoop();
      for (let i = 0; i < 20; i++) await loop.runInExecutor(pool, identity, i);
      const start = performance.now();
      for (let i = 0; i < n; i++) await loop.runInExecutor(pool, identity, i);
      return ((performance.now() - start) * 1000) / n;
    },
    { loopFactory: () => new asyncio.EventLoop() },
  );
}

/** Milliseconds for `jobs` sums of squares on a pool of `workers` (all warmed up first). */
async function cpuOnPool(workers: number, jobs: number): Promise<number> {
  const pool = new asyncio.ThreadPoolExecutor({ maxWorkers: workers });
  try {
    await Promise.all(Array.from({ length: workers }, () => pool.submit(sumSquares, 1000)));
    const start = performance.now();
    await Promise.all(Array.from({ length: jobs }, () => pool.submit(sumSquares, CPU_N)));
    return performance.now() - start;
  } finally {
    await pool.shutdown();
  }
}

function cpuInMainThread(jobs: number): number {
  sumSquares(1000);
  const start = performance.now();
  for (let i = 0; i < jobs; i++) sumSquares(CPU_N);
  return performance.now() - start;
}

/** Runs the executor measurements; `scale` multiplies the number of round trips. */
export async function runExecutorBench(scale: number): Promise<ExecutorBenchResult> {
  const results: ExecutorMeasurement[] = [];
  const threadTrips = Math.max(1, Math.round(2000 * scale));
  const processTrips = Math.max(1, Math.round(1000 * scale));
  for (const [label, pool, n] of [
    ["ThreadPoolExecutor", new asyncio.ThreadPoolExecutor({ maxWorkers: 1 }), threadTrips],
    ["ProcessPoolExecutor", new asyncio.ProcessPoolExecutor({ maxWorkers: 1 }), processTrips],
  ] as const) {
    try {
      results.push({ name: `${label}: await submit()`, n, value: await roundTrips(pool, n), unit: "us/job" });
      results.push({ name: `${label}: await loop.runInExecutor()`, n, value: await loopRoundTrips(pool, n), unit: "us/job" });
    } finally {
      await pool.shutdown();
    }
  }
  const jobs = `${CPU_JOBS} x sumSquares(${CPU_N.toExponential()})`;
  results.push({ name: `${jobs}, main thread`, n: CPU_JOBS, value: cpuInMainThread(CPU_JOBS), unit: "ms" });
  results.push({ name: `${jobs}, 1 thread (sequential)`, n: CPU_JOBS, value: await cpuOnPool(1, CPU_JOBS), unit: "ms" });
  results.push({ name: `${jobs}, 2 threads (parallel)`, n: CPU_JOBS, value: await cpuOnPool(2, CPU_JOBS), unit: "ms" });
  return { results, text: render(results) };
}

function render(results: ExecutorMeasurement[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = ["", "executors (round trip: submit -> result, one worker, sequential jobs)", ""];
  for (const r of results) {
    const value = r.unit === "ms" ? `${r.value.toFixed(1)} ms` : `${r.value.toFixed(1)} us/job`;
    lines.push(`  ${r.name.padEnd(width)}  N=${String(r.n).padStart(5)}  ${value.padStart(12)}`);
  }
  const sequential = results.find((r) => r.name.includes("(sequential)"))?.value;
  const parallel = results.find((r) => r.name.includes("(parallel)"))?.value;
  if (sequential !== undefined && parallel !== undefined && parallel > 0) {
    lines.push(`  parallel speed-up on 2 threads: ${(sequential / parallel).toFixed(2)}x (2.00x is the most 2 cores give)`);
  }
  return `${lines.join("\n")}\n`;
}
