/**
 * Display the date every second with callLater(): the callback reschedules
 * itself until `ticks` dates were printed, then stops the loop (the seeds'
 * "Display the current date with call_later()", which runs for 5 seconds).
 *
 *     node build/examples/display_date_calllater.js [--ticks 5] [--interval 1]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

function displayDate(endTime: number, interval: number, loop: asyncio.AbstractEventLoop): void {
  console.log(new Date().toISOString());
  if (loop.time() + interval < endTime) loop.callLater(interval, displayDate, endTime, interval, loop);
  else loop.stop();
}

export async function main(ticks = 5, interval = 1): Promise<void> {
  const loop = asyncio.newEventLoop();
  // Schedule the first call to displayDate(); the last one is due before endTime.
  const endTime = loop.time() + (ticks - 0.5) * interval;
  loop.callSoon(displayDate, endTime, interval, loop);
  await loop.runForever();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { ticks: { type: "string", default: "5" }, interval: { type: "string", default: "1" } },
  });
  await main(Number(values.ticks), Number(values.interval));
}
