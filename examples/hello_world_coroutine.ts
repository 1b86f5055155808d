/**
 * Hello World with a coroutine (the seeds' "Hello World coroutine"), in
 * both styles: an async function, and a generator coroutine.
 *
 *     node build/examples/hello_world_coroutine.js [--generator]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

export async function helloWorld(): Promise<void> {
  console.log("Hello World!");
}

export function* helloWorldGenerator(): asyncio.Coroutine<void> {
  yield* asyncio.sleep(0);
  console.log("Hello World!");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { generator: { type: "boolean" } } });
  await asyncio.run(values.generator ? helloWorldGenerator() : helloWorld);
}
