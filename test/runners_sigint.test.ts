/**
 * Ctrl-C under `run()`, as in CPython's runners: the first SIGINT cancels
 * the main task (its `finally` runs) and `run()` rejects with
 * `KeyboardInterrupt`; a second SIGINT ends the process with the signal's
 * default action; the listener is gone once `run()` returns. Each scenario
 * runs in a child process (test/fixtures/runner_sigint.mjs) killed after a
 * timeout if it does not end by itself.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/runner_sigint.mjs", import.meta.url));

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

/** Runs the fixture, sending SIGINT `signals` times, each after the line that says the child is waiting. */
function interrupt(style: string, mode: string, signals: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, style, mode], { timeout: 15000, killSignal: "SIGKILL" });
    let stdout = "";
    let sent = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const waiting = (stdout.match(/^(started|swallowed)$/gm) ?? []).length;
      while (sent < Math.min(waiting, signals)) {
        sent += 1;
        child.kill("SIGINT");
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, lines: stdout.trim().split("\n") }));
  });
}

for (const style of ["generator", "native"]) {
  test(`${style}: the first SIGINT cancels the main task and run() rejects with KeyboardInterrupt`, async () => {
    const outcome = await interrupt(style, "cancel", 1);
    assert.equal(outcome.signal, null, "the child ended by itself");
    assert.equal(outcome.code, 0);
    assert.deepEqual(outcome.lines, [
      "started",
      "finally ran",
      "KeyboardInterrupt: interrupted by SIGINT: the main task was cancelled",
      "listeners left: 0",
    ]);
  });

  test(`${style}: a second SIGINT ends a main task that swallowed the first`, async () => {
    const outcome = await interrupt(style, "stubborn", 2);
    assert.equal(outcome.signal, "SIGINT");
    assert.deepEqual(outcome.lines, ["started", "swallowed"]);
  });
}
