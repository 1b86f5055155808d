/**
 * The transports' adjustment of V8's heap heuristics (src/node/v8_heap.ts):
 * when it applies, and what it is for: received chunks that die young are
 * reclaimed by minor collections, not by full ones. The transfers run in a
 * child process (test/fixtures/buffer_gc.mjs), a fresh heap whose first
 * transport makes the decision.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const { v8Between, wantsHeapAdjustment } = (await import(new URL("../../dist/node/v8_heap.js", import.meta.url).href)) as {
  v8Between(version: string, major: number, minor: number, belowMajor: number): boolean;
  wantsHeapAdjustment(v8Version: string, execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean;
};

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/buffer_gc.mjs", import.meta.url));

interface Transfer {
  minor: number;
  major: number;
  received: number;
  applied: boolean;
}

function transfer(backend: "native" | "net", mib: number, style: "async" | "generator", env: NodeJS.ProcessEnv = {}): Transfer {
  const child = spawnSync(process.execPath, [FIXTURE, String(mib), style], {
    env: { ...process.env, ASYNCIO_TS_KEEP_V8_FLAGS: "", ...env, ASYNCIO_TS_TRANSPORTS: backend },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as Transfer;
}

test("v8Between reads V8's version strings", () => {
  assert.ok(v8Between("13.6.233.10-node.18", 13, 6, 14));
  assert.ok(v8Between("13.7.1", 13, 6, 14));
  assert.ok(!v8Between("13.5.212.10", 13, 6, 14));
  assert.ok(!v8Between("11.3.244.8-node.38", 13, 6, 14));
  assert.ok(!v8Between("14.1.0", 13, 6, 14), "later majors are left alone");
  assert.ok(!v8Between("", 13, 6, 14));
  assert.ok(!v8Between("garbage", 13, 6, 14));
});

test("the adjustment applies on V8 13.6 and later 13.x only, unless the command line or the environment says otherwise", () => {
  const v24 = "13.6.233.10-node.18";
  assert.ok(wantsHeapAdjustment(v24, [], {}));
  assert.ok(wantsHeapAdjustment(v24, ["--max-old-space-size=4096"], {}));
  assert.ok(!wantsHeapAdjustment("11.3.244.8-node.38", [], {}), "Node 20's V8 scavenges young ArrayBuffers by itself");
  assert.ok(!wantsHeapAdjustment(v24, [], { ASYNCIO_TS_KEEP_V8_FLAGS: "1" }));
  for (const arg of [
    "--scavenger-max-new-space-capacity-mb=16",
    "--scavenger_max_new_space_capacity_mb=16",
    "--external-memory-accounted-in-global-limit",
    "--no-external_memory_accounted_in_global_limit",
  ]) {
    assert.ok(!wantsHeapAdjustment(v24, [arg], {}), `${arg} on the command line is the user's choice`);
  }
});

for (const [backend, style] of [
  ["native", "async"],
  ["net", "generator"],
] as const) {
  test(`received chunks are reclaimed by minor collections (${backend} transports, ${style} sender)`, () => {
    const result = transfer(backend, 1024, style);
    assert.equal(result.received, 1024 * 1024 * 1024, "every byte arrived");
    assert.equal(result.applied, wantsHeapAdjustment(process.versions.v8, [], {}), "the child runs without either flag");
    assert.ok(
      result.minor > 2 * result.major,
      `1 GiB of 64 KiB chunks: ${result.minor} minor and ${result.major} major collections (V8 ${process.versions.v8})`,
    );
  });
}

test("ASYNCIO_TS_KEEP_V8_FLAGS=1 leaves V8's heuristics as they are", () => {
  const result = transfer("native", 64, "async", { ASYNCIO_TS_KEEP_V8_FLAGS: "1" });
  assert.equal(result.received, 64 * 1024 * 1024);
  assert.equal(result.applied, false);
});
