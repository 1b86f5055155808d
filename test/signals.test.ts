/**
 * Signal handlers of the loop (`addSignalHandler`, `removeSignalHandler`):
 * a signal sent to this process reaches the callback inside the loop, by
 * name or number, with its arguments; a new handler replaces the old one;
 * removal and `loop.close()` take the Node listener away; bad signals are
 * errors. In a child process (test/fixtures/signals.mjs): after removal
 * the default action applies again (SIGUSR2 terminates the child), and a
 * handler does not keep a process alive by itself. Both coroutine styles.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import os from "node:os";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import * as asyncio from "asyncio-ts";
import { future, runIo, STYLES } from "./io_helpers.js";

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/signals.mjs", import.meta.url));

/** Runs the fixture in `mode` through the loop's subprocess transport; resolves to `[stdout, returncode]`. */
function* runFixture(mode: string): Generator<asyncio.Awaitable<unknown>, [string, number | null]> {
  let out = "";
  const lost = future();
  class Collect extends asyncio.SubprocessProtocol {
    override pipeDataReceived(_fd: number, data: Buffer): void {
      out += data.toString();
    }
    override connectionLost(): void {
      lost.setResult();
    }
  }
  const [transport] = (yield asyncio
    .getRunningLoop()
    .subprocessExec(() => new Collect(), process.execPath, FIXTURE, mode, { stdin: asyncio.DEVNULL, stderr: null })) as [
    asyncio.SubprocessTransport,
    Collect,
  ];
  yield lost;
  return [out, transport.getReturncode()];
}

for (const style of STYLES) {
  test(`${style}: a signal sent to the process runs the handler inside the loop, with its arguments`, async () => {
    await runIo(style, function* () {
      const loop = asyncio.getRunningLoop();
      const calls: unknown[][] = [];
      const called = future();
      const others = process.listenerCount("SIGUSR1");
      loop.addSignalHandler(
        "SIGUSR1",
        (...args: unknown[]) => {
          calls.push([...args, asyncio.getRunningLoop() === loop]);
          if (!called.done()) called.setResult();
        },
        "a",
        2,
      );
      assert.equal(process.listenerCount("SIGUSR1"), others + 1);
      process.kill(process.pid, "SIGUSR1");
      yield called;
      assert.deepEqual(calls, [["a", 2, true]]);
      assert.equal(loop.removeSignalHandler("SIGUSR1"), true);
      assert.equal(loop.removeSignalHandler("SIGUSR1"), false);
      assert.equal(process.listenerCount("SIGUSR1"), others);
    });
  });

  test(`${style}: signals by number and by short name; a new handler replaces the old one`, async () => {
    // SIGURG: ignored by default, and listened to by nobody else (Node 24's test runner writes a report on SIGUSR2).
    await runIo(style, function* () {
      const loop = asyncio.getRunningLoop();
      const seen: string[] = [];
      const second = future();
      const others = process.listenerCount("SIGURG");
      loop.addSignalHandler(os.constants.signals.SIGURG, () => seen.push("first"));
      loop.addSignalHandler("urg", () => {
        seen.push("second");
        second.setResult();
      });
      assert.equal(process.listenerCount("SIGURG"), others + 1);
      process.kill(process.pid, "SIGURG");
      yield second;
      assert.deepEqual(seen, ["second"]);
      assert.equal(loop.removeSignalHandler(os.constants.signals.SIGURG), true);
      assert.equal(process.listenerCount("SIGURG"), others);
    });
  });

  test(`${style}: a signal that arrives while the loop is stopped is handled when it runs again`, async () => {
    const loop = new asyncio.EventLoop();
    const others = process.listenerCount("SIGUSR1");
    let handled = 0;
    loop.addSignalHandler("SIGUSR1", () => {
      handled++;
    });
    process.kill(process.pid, "SIGUSR1");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(handled, 0, "nothing runs outside the loop");
    await runIo(
      style,
      function* () {
        yield asyncio.sleep(0);
        assert.equal(handled, 1);
      },
      loop,
    );
    assert.equal(process.listenerCount("SIGUSR1"), others, "loop.close() removed the handler");
  });

  test(`${style}: bad signals and callbacks: ValueError, RuntimeError for SIGKILL/SIGSTOP, TypeError`, async () => {
    await runIo(style, function* () {
      const loop = asyncio.getRunningLoop();
      const cb = (): void => {};
      const others = process.listenerCount("SIGUSR1");
      assert.throws(() => loop.addSignalHandler(99, cb), asyncio.ValueError);
      assert.throws(() => loop.addSignalHandler(-1, cb), asyncio.ValueError);
      assert.throws(() => loop.addSignalHandler("SIGNOPE", cb), asyncio.ValueError);
      assert.throws(() => loop.addSignalHandler("SIGKILL", cb), asyncio.RuntimeError);
      assert.throws(() => loop.addSignalHandler("SIGSTOP", cb), asyncio.RuntimeError);
      assert.throws(() => loop.addSignalHandler({} as never, cb), TypeError);
      assert.throws(() => loop.addSignalHandler("SIGUSR1", "not a function" as never), TypeError);
      const coroFn = asyncio.coroutine(function* () {
        yield* asyncio.sleep(0);
      });
      assert.throws(() => loop.addSignalHandler("SIGUSR1", coroFn), TypeError);
      assert.throws(() => loop.removeSignalHandler(99), asyncio.ValueError);
      assert.equal(loop.removeSignalHandler("SIGKILL"), false);
      assert.equal(process.listenerCount("SIGKILL"), 0);
      assert.equal(process.listenerCount("SIGUSR1"), others);
    });
  });

  test(`${style}: after removal the default action applies again: SIGUSR2 terminates the child`, async () => {
    await runIo(
      style,
      function* () {
        const [out, returncode] = yield* runFixture("default-restored");
        assert.equal(out, "handled\nremoved=true\n");
        assert.equal(returncode, -12, "the child was killed by SIGUSR2");
      },
      new asyncio.EventLoop(),
      10,
    );
  });

  test(`${style}: a handler does not keep the process alive once the loop stopped`, async () => {
    await runIo(
      style,
      function* () {
        const [out, returncode] = yield* runFixture("not-kept-alive");
        assert.equal(out, "stopped with a handler installed\n");
        assert.equal(returncode, 0);
      },
      new asyncio.EventLoop(),
      10,
    );
  });
}

test("addSignalHandler in a worker thread is a RuntimeError: signals reach only the main thread", async () => {
  const worker = new Worker(fileURLToPath(new URL("../../test/fixtures/signals_worker.mjs", import.meta.url)));
  const [outcome] = (await once(worker, "message")) as [string];
  await once(worker, "exit");
  assert.match(outcome, /^RuntimeError: .*main thread/);
});

test("addSignalHandler on a closed loop is a RuntimeError", () => {
  const loop = new asyncio.EventLoop();
  loop.close();
  assert.throws(() => loop.addSignalHandler("SIGUSR1", () => {}), asyncio.RuntimeError);
});
