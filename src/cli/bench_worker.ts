/**
 * Runs one variant of one workload of `asyncio-ts bench` in a process of
 * its own (started by `bench.ts` with `--expose-gc`), so that measurements
 * do not share a heap or a JIT history:
 *
 *   node --expose-gc bench_worker.js WORKLOAD VARIANT N REPEAT
 *
 * Timed variants first run once at N/10 to warm the JIT up (not measured),
 * then REPEAT times at N. Prints one JSON object: `{ n, samples: [...] }`.
 */
import type { Measurement } from "./bench_workloads.js";
import { WORKLOADS } from "./bench_workloads.js";

/** What the worker prints. */
export interface WorkerReport {
  n: number;
  /** One measurement per repetition (`ms` or `bytes_per_task`). */
  samples: number[];
}

function measuredValue(measurement: Measurement): number {
  const value = measurement.ms ?? measurement.bytes_per_task;
  if (value === undefined) throw new Error("a measurement without a value");
  return value;
}

async function main(args: string[]): Promise<void> {
  const [workloadName, variantKey, nText, repeatText] = args;
  const workload = WORKLOADS.find((w) => w.name === workloadName);
  const variant = workload?.variants.find((v) => v.key === variantKey);
  if (workload === undefined || variant === undefined) throw new Error(`unknown workload or variant: ${args.join(" ")}`);
  const n = Number(nText);
  const repeat = Number(repeatText ?? 1);
  if (workload.unit === "ms") await variant.run(Math.max(1, Math.round(n / 10)));
  const samples: number[] = [];
  for (let i = 0; i < repeat; i++) samples.push(measuredValue(await variant.run(n)));
  const report: WorkerReport = { n, samples };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
