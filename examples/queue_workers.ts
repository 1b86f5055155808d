/**
 * A queue with worker tasks (the asyncio documentation's Queue example):
 * items go into a Queue, three workers take them and "work" for the time
 * each says, join() waits until every item is done, then the workers are
 * cancelled.
 *
 *     node build/examples/queue_workers.js [--items 9] [--scale 0.1]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

async function worker(name: string, queue: asyncio.Queue<number>, done: string[]): Promise<void> {
  for (;;) {
    const sleepFor = await queue.get();
    await asyncio.sleep(sleepFor);
    queue.taskDone();
    done.push(name);
    console.log(`${name} has slept for ${sleepFor.toFixed(2)} seconds`);
  }
}

export async function main(items = 9, scale = 0.1): Promise<number> {
  const queue = new asyncio.Queue<number>();
  let total = 0;
  for (let i = 0; i < items; i++) {
    const sleepFor = ((((i * 7) % 10) + 1) * scale) / 10; // deterministic "random" durations
    total += sleepFor;
    queue.putNowait(sleepFor);
  }
  const done: string[] = [];
  const workers = [0, 1, 2].map((i) => asyncio.createTask(() => worker(`worker-${i}`, queue, done), { name: `worker-${i}` }));
  const started = asyncio.getRunningLoop().time();
  await queue.join();
  const elapsed = asyncio.getRunningLoop().time() - started;
  for (const task of workers) task.cancel();
  await asyncio.gather(...workers, { returnExceptions: true });
  console.log("====");
  console.log(`3 workers slept in parallel for ${elapsed.toFixed(2)} seconds`);
  console.log(`total expected sleep time: ${total.toFixed(2)} seconds`);
  return done.length;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { items: { type: "string", default: "9" }, scale: { type: "string", default: "1" } } });
  await asyncio.run(() => main(Number(values.items), Number(values.scale)));
}
