import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";

test("run() runs a generator coroutine and returns its result", async () => {
  function* main(): asyncio.Coroutine<number> {
    yield* asyncio.sleep(0.01);
    return 42;
  }
  assert.equal(await asyncio.run(main()), 42);
});

test("run() runs a native async function and returns its result", async () => {
  async function main(): Promise<number> {
    await asyncio.sleep(0.01);
    return 42;
  }
  assert.equal(await asyncio.run(main), 42);
});

test("runVirtual() makes an hour of sleep instant and exact", async () => {
  const elapsed = await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const start = loop.time();
    await asyncio.sleep(3600);
    return loop.time() - start;
  });
  assert.equal(elapsed, 3600);
});
