/**
 * Display the date every second with callLater(): the callback reschedules
 * itself until `ticks` dates were printed, then stops the loop (the seeds'
 * "Display the current date with call_later()", which runs for 5 seconds;
 * counting ticks rather than reading the clock keeps the output the same
 * on a busy machine).
 *
 *     node build/examples/display_date_calllater.js [--ticks 5] [--interval 1]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

function displayDate(ticksLeft: number, interval: number, loop: asyncio.AbstractEventLoop): void {
  console.log(new Date().toISOString());
  if (ticksLeft > 1) loop.callLater(interval, displayDate, ticksLeft - 1, interval, loop);
  else loop.stop();
}

export async function main(ticks = 5, interval = 1): Promise<void> {
  const loop = asyncio.newEventLoop();
  // Schedule the first call to displayDate(); it counts the ticks left (the seeds look at the clock).
  loop.callSoon(displayDate, ticks, interval, loop);
  await loop.runForever();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { ticks: { type: "string", default: "5" }, interval: { type: "string", default: "1" } },
  });
  await main(Number(values.ticks), Number(values.interval));
}
