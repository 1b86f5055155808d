/**
 * Display the date every second with a coroutine and sleep() (the seeds'
 * "Coroutine displaying the current date", which reads the clock for 5
 * seconds), bounded to `ticks` dates.
 * Both styles: an async function, and a generator coroutine.
 *
 *     node build/examples/display_date_coroutine.js [--ticks 5] [--interval 1] [--generator]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

export async function displayDate(ticks = 5, interval = 1): Promise<void> {
  for (let tick = 1; ; tick++) {
    console.log(new Date().toISOString());
    if (tick >= ticks) break;
    await asyncio.sleep(interval);
  }
}

export function* displayDateGenerator(ticks = 5, interval = 1): asyncio.Coroutine<void> {
  for (let tick = 1; ; tick++) {
    console.log(new Date().toISOString());
    if (tick >= ticks) break;
    yield* asyncio.sleep(interval);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      ticks: { type: "string", default: "5" },
      interval: { type: "string", default: "1" },
      generator: { type: "boolean" },
    },
  });
  const [ticks, interval] = [Number(values.ticks), Number(values.interval)];
  await asyncio.run(values.generator ? displayDateGenerator(ticks, interval) : () => displayDate(ticks, interval));
}
