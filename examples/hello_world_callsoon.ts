/**
 * Hello World with callSoon(): a callback prints "Hello World" and stops
 * the loop (the seeds' "Hello World with call_soon()").
 *
 *     node build/examples/hello_world_callsoon.js
 */
import * as asyncio from "asyncio-ts";

function helloWorld(loop: asyncio.AbstractEventLoop): void {
  console.log("Hello World");
  loop.stop();
}

export async function main(): Promise<void> {
  const loop = asyncio.newEventLoop();
  // Schedule a call to helloWorld()
  loop.callSoon(helloWorld, loop);
  // Blocking call interrupted by loop.stop() (a Promise here: JavaScript cannot block)
  await loop.runForever();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
