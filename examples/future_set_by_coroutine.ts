/**
 * A future set by another coroutine (the seeds' "Future with
 * run_until_complete()" and "Future with run_forever()"): slowOperation()
 * sets the result; the loop waits for the future, or a done callback
 * prints it and stops the loop.
 *
 *     node build/examples/future_set_by_coroutine.js [--run-forever] [--delay 1]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

function* slowOperation(future: asyncio.Future<string>, delay: number): asyncio.Coroutine<void> {
  yield* asyncio.sleep(delay);
  future.setResult("Future is done!");
}

/** With runUntilComplete(): the loop runs until the future is done. */
export async function withRunUntilComplete(delay = 1): Promise<void> {
  const loop = asyncio.newEventLoop();
  const future = loop.createFuture<string>();
  asyncio.ensureFuture(slowOperation(future, delay), { loop });
  await loop.runUntilComplete(future);
  console.log(future.result());
  loop.close();
}

/** With runForever(): a done callback prints the result and stops the loop. */
export async function withRunForever(delay = 1): Promise<void> {
  const loop = asyncio.newEventLoop();
  const future = loop.createFuture<string>();
  asyncio.ensureFuture(slowOperation(future, delay), { loop });
  future.addDoneCallback((done) => {
    console.log(done.result());
    loop.stop();
  });
  try {
    await loop.runForever();
  } finally {
    loop.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { "run-forever": { type: "boolean" }, delay: { type: "string", default: "1" } } });
  await (values["run-forever"] ? withRunForever : withRunUntilComplete)(Number(values.delay));
}
