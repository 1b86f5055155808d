import assert from "node:assert/strict";
import { test } from "node:test";
import { runVirtual } from "asyncio-ts/testing";
import * as quickAsync from "../examples/quickstart_async.js";
import * as quickGenerator from "../examples/quickstart_generator.js";

test("the README's async-function quick start returns 'done'", async () => {
  assert.equal(await runVirtual(quickAsync.main), "done");
});

test("the README's generator quick start returns 42", async () => {
  assert.equal(await runVirtual(quickGenerator.main()), 42);
});
