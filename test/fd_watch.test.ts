/**
 * How descriptor watchers' reports reach the loop (src/node/fd_watch.ts and
 * the addon's batching of one libuv poll phase into one dispatch), in both
 * coroutine styles: many descriptors ready in one poll phase are served in
 * one loop iteration; a watcher closed after its report but before the
 * dispatch gets nothing, even when a new watcher took its id at once; a
 * reader that throws costs the other descriptors nothing; reports that
 * arrive while the loop is stopped wait for it; loops in worker threads
 * have their own watchers and dispatch, and a worker that ends with
 * watchers open, or is terminated while they report, goes away cleanly; a
 * dispatcher that throws reaches 'uncaughtException' and the next poll
 * phase dispatches again (test/fixtures/fd_watch_worker.mjs).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import * as asyncio from "asyncio-ts";
import { captureExceptions } from "./helpers.js";
import { future, runIo, STYLES } from "./io_helpers.js";

const { socket } = asyncio;
type Socket = asyncio.socket.Socket;

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/fd_watch_worker.mjs", import.meta.url));

function loop(): asyncio.AbstractEventLoop {
  return asyncio.getRunningLoop();
}

/** `n` non-blocking socketpairs. */
function pairs(n: number): [Socket, Socket][] {
  return Array.from({ length: n }, () => {
    const [a, b] = socket.socketpair();
    a.setblocking(false);
    b.setblocking(false);
    return [a, b];
  });
}

function closeAll(all: [Socket, Socket][]): void {
  for (const [a, b] of all) {
    a.close();
    b.close();
  }
}

/**
 * Watches every `a` of `all` for reading with `reader(i)`, makes them all
 * readable in one synchronous step (so one poll phase finds them all), and
 * resolves once `count` readers ran, with how many had run when a callback
 * scheduled by the first one ran: `count` when they all ran in one
 * iteration (callbacks scheduled in an iteration run in the next one).
 */
function serveTogether(all: [Socket, Socket][], reader: (i: number) => void, count = all.length): asyncio.Future<number> {
  const done = future<number>();
  let ran = 0;
  let ranBeforeNextIteration = -1;
  all.forEach(([a], i) => {
    loop().addReader(a, () => {
      a.recv(16);
      loop().removeReader(a);
      ran++;
      if (ran === 1) loop().callSoon(() => (ranBeforeNextIteration = ran));
      if (ran === count) loop().callSoon(() => done.setResult(ranBeforeNextIteration));
      reader(i);
    });
  });
  loop().callSoon(() => {
    for (const [, b] of all) b.send(Buffer.from("x"));
  });
  return done;
}

/** Starts the worker fixture in `mode` and collects its messages until it exits. */
function runWorker(mode: string, style: string): Promise<{ messages: unknown[]; code: number }> {
  return new Promise((resolve, reject) => {
    const messages: unknown[] = [];
    const worker = new Worker(FIXTURE, { workerData: { mode, style } });
    worker.on("message", (message) => {
      messages.push(message);
      if ((message as { kind?: string }).kind === "terminate-me") void worker.terminate();
    });
    worker.on("error", reject);
    worker.on("exit", (code) => resolve({ messages, code }));
  });
}

for (const style of STYLES) {
  describe(`descriptor watchers' reports (${style})`, () => {
    test("many descriptors ready in one poll phase are served in one loop iteration", () =>
      runIo(style, function* () {
        const all = pairs(40);
        const order: number[] = [];
        const sameIteration = yield serveTogether(all, (i) => order.push(i));
        assert.equal(sameIteration, 40, "every reader ran before a callback scheduled by the first one");
        assert.deepEqual(
          [...order].sort((x, y) => x - y),
          all.map((_, i) => i),
        );
        closeAll(all);
      }));

    test("the same again and again: each round of reports is served in one iteration", () =>
      runIo(style, function* () {
        const all = pairs(8);
        for (let round = 0; round < 5; round++) {
          const sameIteration = yield serveTogether(all, () => {});
          assert.equal(sameIteration, 8, `round ${round}`);
        }
        closeAll(all);
      }));

    test("a reader that throws does not lose the other descriptors' reports", () =>
      runIo(style, function* () {
        const errors = captureExceptions(loop());
        const all = pairs(10);
        const served: number[] = [];
        const sameIteration = yield serveTogether(all, (i) => {
          served.push(i);
          if (served.length === 1) throw new Error(`reader ${i} failed`);
        });
        assert.equal(sameIteration, 10);
        assert.equal(served.length, 10, "every reader ran");
        assert.equal(errors.length, 1);
        assert.match(String(errors[0]?.exception), /^Error: reader \d+ failed$/);
        closeAll(all);
      }));

    test("a watcher closed after its report but before the dispatch gets nothing, even when its id is reused at once", () =>
      runIo(style, function* () {
        // A Node stream on a socketpair: its read callback runs inside libuv's poll phase, between the
        // watchers' reports and their dispatch, and closes watcher `a` there (a new watcher on `d` takes its id).
        const ev = loop();
        const [a, aPeer, c, cPeer, d, dPeer] = pairs(3).flat();
        const [nodeEnd, nodePeer] = pairs(1)[0] as [Socket, Socket];
        const stream = new net.Socket({ fd: nodeEnd.detach(), readable: true, writable: true });
        const warm = future<void>();
        const calls: string[] = [];
        const controlServed = future<void>();
        let armed = false;
        stream.on("data", () => {
          if (!armed) {
            warm.setResult();
            return;
          }
          calls.push("node stream");
          ev.removeReader(a as Socket);
          ev.addReader(d as Socket, () => calls.push("d (never ready)"));
        });
        nodePeer.send(Buffer.from("w"));
        yield warm; // the stream is reading: its next data comes in the same poll phase as the watchers'
        loop().addReader(a as Socket, () => calls.push("a (closed)"));
        loop().addReader(c as Socket, () => {
          calls.push("c");
          (c as Socket).recv(16);
          loop().removeReader(c as Socket);
          controlServed.setResult();
        });
        yield asyncio.sleep(0.01); // a libuv poll phase: the watchers are in epoll before the data comes
        armed = true;
        // Ready in this order: libuv reports a and c, then runs the stream's read callback, then dispatches.
        (aPeer as Socket).send(Buffer.from("x"));
        (cPeer as Socket).send(Buffer.from("x"));
        nodePeer.send(Buffer.from("y"));
        yield controlServed;
        yield asyncio.sleep(0.01); // a stale report would have run a or d by now
        assert.deepEqual(calls, ["node stream", "c"]);
        loop().removeReader(d as Socket);
        const closed = future<void>();
        stream.on("close", () => closed.setResult());
        stream.destroy();
        yield closed;
        for (const s of [a, aPeer, c, cPeer, d, dPeer, nodePeer]) (s as Socket).close();
      }));

    test("reports that come while the loop is stopped wait for it, then the reader runs once", async () => {
      const ev = new asyncio.EventLoop();
      const [a, b] = pairs(1)[0] as [Socket, Socket];
      let reads = 0;
      try {
        ev.addReader(a, () => {
          reads++;
          a.recv(16);
        });
        b.send(Buffer.from("x"));
        // The loop is stopped: the report pauses the watcher; nothing runs, and libuv is not woken again and again.
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        assert.equal(reads, 0);
        await ev.runUntilComplete(
          asyncio.coroutine(function* () {
            yield* asyncio.sleep(0.02);
          })(),
        );
        assert.equal(reads, 1, "the data was read once, and the descriptor is not ready any more");
      } finally {
        ev.close();
        a.close();
        b.close();
      }
    });

    test("a loop in a worker thread serves its own watchers while this thread's loop serves its own", async () => {
      const worker = runWorker("loop", style);
      await runIo(style, function* () {
        const all = pairs(20);
        for (let round = 0; round < 3; round++) {
          const sameIteration = yield serveTogether(all, () => {});
          assert.equal(sameIteration, 20);
        }
        closeAll(all);
      });
      const { messages, code } = await worker;
      assert.equal(code, 0);
      assert.deepEqual(messages, [{ kind: "served", rounds: [30, 30, 30], watched: 0 }]);
    });
  });
}

describe("descriptor watchers in worker threads that end", () => {
  test("a worker that ends with watchers open (its loop never closed) exits cleanly", async () => {
    const { messages, code } = await runWorker("leave", "native");
    assert.equal(code, 0);
    assert.deepEqual(messages, [{ kind: "left", watched: 4 }]);
  });

  test("a worker terminated while its watchers report exits cleanly", async () => {
    const { messages, code } = await runWorker("terminate", "native");
    assert.equal(code, 1, "terminate() makes the exit code 1");
    assert.equal((messages[0] as { kind: string }).kind, "terminate-me");
  });

  test("a dispatcher that throws reaches 'uncaughtException'; the next poll phase dispatches again", async () => {
    const { messages, code } = await runWorker("throw", "native");
    assert.equal(code, 0);
    assert.deepEqual(messages, [
      {
        kind: "thrown",
        uncaught: ["dispatcher failed"],
        dispatches: [
          [7, 0, 1],
          [7, 0, 1],
        ],
        microtaskAfterThrow: true,
      },
    ]);
  });

  test("the addon drops the report of a watcher closed before the dispatch, and merges none into another", async () => {
    const { messages, code } = await runWorker("close-before-dispatch", "native");
    assert.equal(code, 0);
    assert.deepEqual(messages, [{ kind: "dropped", first: [[2, 0, 1]], ids: [2], streamRan: true }]);
  });
});
