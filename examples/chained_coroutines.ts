/**
 * Chained coroutines (the seeds' "Chain coroutines", written there with
 * `yield from`): printSum() waits for compute(). Generator coroutines
 * delegate with yield*, as PEP 380's `yield from`.
 *
 *     node build/examples/chained_coroutines.js [--delay 1]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

function* compute(x: number, y: number, delay: number): asyncio.Coroutine<number> {
  console.log(`Compute ${x} + ${y} ...`);
  yield* asyncio.sleep(delay);
  return x + y;
}

export function* printSum(x: number, y: number, delay = 1): asyncio.Coroutine<void> {
  const result = yield* compute(x, y, delay);
  console.log(`${x} + ${y} = ${result}`);
}

export async function main(delay = 1): Promise<void> {
  const loop = asyncio.newEventLoop();
  await loop.runUntilComplete(printSum(1, 2, delay));
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { delay: { type: "string", default: "1" } } });
  await main(Number(values.delay));
}
