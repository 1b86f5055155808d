/**
 * What keeps the Node process alive: a running loop does (as a blocked
 * Python `run_forever()` would), a stopped or closed loop does not, and
 * nothing is left behind once `run()` returns. Each scenario runs in a child
 * process (test/fixtures/process_alive.mjs) that must end by itself; it is
 * killed after a timeout otherwise, which fails the test.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/process_alive.mjs", import.meta.url));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the fixture in `mode`; a process still alive after the timeout is killed. */
function runScenario(mode: string): Promise<Outcome> {
  const { ASYNCIO_DEBUG: _unset, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, mode], { env, timeout: 10000, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function assertExitedByItself(outcome: Outcome, expectedLines: string[]): void {
  assert.equal(outcome.signal, null, "the process ended by itself, it was not killed after the timeout");
  assert.equal(outcome.code, 0, outcome.stderr);
  assert.deepEqual(outcome.stdout.trim().split("\n"), expectedLines);
}

test("a running loop with nothing scheduled keeps the process alive until it is stopped", async () => {
  // Without the loop keeping it alive, the process would end before the
  // unref'd timer fires, with the top-level await unsettled (exit code 13).
  assertExitedByItself(await runScenario("idle-running"), ["woken", "stopped"]);
});

test("a stopped loop with a timer an hour away does not keep the process alive", async () => {
  assertExitedByItself(await runScenario("stopped-with-far-timer"), ["stopped running=false closed=false"]);
});

test("a stopped and closed loop does not keep the process alive", async () => {
  assertExitedByItself(await runScenario("closed-with-far-timer"), ["closed running=false closed=true"]);
});

test("a loop stopped before runUntilComplete's future completed does not keep the process alive", async () => {
  assertExitedByItself(await runScenario("stopped-before-future"), ["RuntimeError: Event loop stopped before Future completed."]);
});

test("after run() returns, nothing keeps the process alive (leftover tasks and timers, both styles)", async () => {
  assertExitedByItself(await runScenario("after-run"), ["native done", "generator done"]);
});
