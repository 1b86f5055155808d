/**
 * Tasks computing factorials in parallel, gathered (the seeds' "Parallel
 * execution of tasks"): the three tasks interleave at each sleep().
 *
 *     node build/examples/factorial_tasks.js [--delay 1]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

export async function factorial(name: string, n: number, delay = 1): Promise<number> {
  let f = 1;
  for (let i = 2; i <= n; i++) {
    console.log(`Task ${name}: Compute factorial(${i})...`);
    await asyncio.sleep(delay);
    f *= i;
  }
  console.log(`Task ${name}: factorial(${n}) = ${f}`);
  return f;
}

export async function main(delay = 1): Promise<number[]> {
  return asyncio.gather(
    () => factorial("A", 2, delay),
    () => factorial("B", 3, delay),
    () => factorial("C", 4, delay),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { delay: { type: "string", default: "1" } } });
  await asyncio.run(() => main(Number(values.delay)));
}
