/**
 * Event loops in worker threads: `getEventLoop()` there raises
 * `RuntimeError` until a loop is set, `newEventLoop()` + `setEventLoop()`
 * work, and each thread runs its own loop at the same time as the main
 * thread's, the two talking through `postMessage` and
 * `callSoonThreadsafe`: one doing timers, tasks and queues, one serving a
 * TCP echo on loopback. The worker is test/fixtures/thread_loop_worker.mjs,
 * run in both coroutine styles (and the main side in the same style).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import * as asyncio from "asyncio-ts";

const FIXTURE = fileURLToPath(new URL("../../test/fixtures/thread_loop_worker.mjs", import.meta.url));

type Message = { kind: string; [key: string]: unknown };

/** Starts the fixture; its messages (and its exit) arrive in a Queue of the running loop, through callSoonThreadsafe. */
function startWorker(mode: "work" | "echo", style: "generator" | "async"): { worker: Worker; inbox: asyncio.Queue<Message> } {
  const loop = asyncio.getRunningLoop();
  const inbox = new asyncio.Queue<Message>();
  const worker = new Worker(FIXTURE, { workerData: { mode, style } });
  worker.on("message", (message: Message) => loop.callSoonThreadsafe(() => inbox.putNowait(message)));
  worker.on("error", (error) => loop.callSoonThreadsafe(() => inbox.putNowait({ kind: "error", error })));
  worker.on("exit", (code) => loop.callSoonThreadsafe(() => inbox.putNowait({ kind: "exit", code })));
  return { worker, inbox };
}

const EXPECTED_READY = { kind: "ready", policy: "own loop", timer: "timer fired" };
const EXPECTED_REPLIES = [1, 2, 3].map((x) => ({ kind: "reply", value: [2 * x, 2 * x + 2], ownLoop: true }));
const EXPECTED_END = [
  { kind: "done", policyBefore: "RuntimeError", policyAfter: "RuntimeError" },
  { kind: "exit", code: 0 },
];

test("a loop in a worker thread runs timers, tasks and queues beside the main loop (generator coroutines)", {
  timeout: 20000,
}, async () => {
  const seen = await asyncio.run(
    (function* (): asyncio.Coroutine<Message[]> {
      const { worker, inbox } = startWorker("work", "generator");
      const seen = [yield* asyncio.waitFor(inbox.get(), 10)];
      for (const x of [1, 2, 3]) worker.postMessage(x);
      for (let i = 0; i < 3; i++) seen.push(yield* asyncio.waitFor(inbox.get(), 10));
      worker.postMessage("stop");
      for (let i = 0; i < 2; i++) seen.push(yield* asyncio.waitFor(inbox.get(), 10));
      return seen;
    })(),
  );
  assert.deepEqual(seen, [EXPECTED_READY, ...EXPECTED_REPLIES, ...EXPECTED_END]);
});

test("a loop in a worker thread runs timers, tasks and queues beside the main loop (async functions)", {
  timeout: 20000,
}, async () => {
  const seen = await asyncio.run(async () => {
    const { worker, inbox } = startWorker("work", "async");
    const seen = [await asyncio.waitFor(inbox.get(), 10)];
    for (const x of [1, 2, 3]) worker.postMessage(x);
    for (let i = 0; i < 3; i++) seen.push(await asyncio.waitFor(inbox.get(), 10));
    worker.postMessage("stop");
    for (let i = 0; i < 2; i++) seen.push(await asyncio.waitFor(inbox.get(), 10));
    return seen;
  });
  assert.deepEqual(seen, [EXPECTED_READY, ...EXPECTED_REPLIES, ...EXPECTED_END]);
});

/** A client that sends `payload` and resolves `echoed` once as many bytes came back. */
class EchoClient extends asyncio.Protocol {
  private readonly _chunks: Buffer[] = [];
  private _received = 0;
  transport: asyncio.Transport | null = null;

  constructor(
    private readonly _payload: Buffer,
    readonly echoed: asyncio.Future<string>,
  ) {
    super();
  }

  override connectionMade(transport: asyncio.BaseTransport): void {
    this.transport = transport as asyncio.Transport;
    this.transport.write(this._payload);
  }

  override dataReceived(data: Buffer): void {
    this._chunks.push(data);
    this._received += data.length;
    if (this._received >= this._payload.length && !this.echoed.done()) {
      this.echoed.setResult(Buffer.concat(this._chunks).toString());
    }
  }
}

for (const style of ["generator", "async"] as const) {
  test(`a loop in a worker thread serves a TCP echo to the main thread's loop (${style})`, { timeout: 20000 }, async () => {
    const payload = Buffer.from(`hello from the main thread (${style})`);
    const session = (worker: Worker, inbox: asyncio.Queue<Message>) =>
      function* (): asyncio.Coroutine<[Message, string, Message[]]> {
        const ready = yield* asyncio.waitFor(inbox.get(), 10);
        const loop = asyncio.getRunningLoop();
        const echoed = loop.createFuture<string>();
        const [transport] = yield* loop.createConnection(() => new EchoClient(payload, echoed), {
          host: "127.0.0.1",
          port: ready.port as number,
        });
        const text = yield* asyncio.waitFor(echoed, 10);
        transport.close();
        worker.postMessage("stop");
        const end = [yield* asyncio.waitFor(inbox.get(), 10), yield* asyncio.waitFor(inbox.get(), 10)];
        return [ready, text, end];
      };
    const [ready, text, end] =
      style === "generator"
        ? await asyncio.run(
            (function* () {
              const { worker, inbox } = startWorker("echo", style);
              return yield* session(worker, inbox)();
            })(),
          )
        : await asyncio.run(async () => {
            const { worker, inbox } = startWorker("echo", style);
            const ready = await asyncio.waitFor(inbox.get(), 10);
            const loop = asyncio.getRunningLoop();
            const echoed = loop.createFuture<string>();
            const [transport] = await loop.createConnection(() => new EchoClient(payload, echoed), {
              host: "127.0.0.1",
              port: ready.port as number,
            });
            const text = await asyncio.waitFor(echoed, 10);
            transport.close();
            worker.postMessage("stop");
            const end = [await asyncio.waitFor(inbox.get(), 10), await asyncio.waitFor(inbox.get(), 10)];
            return [ready, text, end] as [Message, string, Message[]];
          });
    assert.equal(ready.policy, "own loop");
    assert.equal(typeof ready.port, "number");
    assert.equal(text, payload.toString());
    assert.deepEqual(end, EXPECTED_END);
  });
}
