/**
 * Property tests of the queues: fast-check builds random interleavings of
 * producers and consumers (blocking and non-blocking puts and gets, with
 * timeouts, cancellations racing the wake-ups, a shutdown at a random time,
 * a task joining), in either coroutine style and on each queue class, and
 * runs them on a virtual-time loop under a deadlock guard. Everything a
 * scenario does happens at whole virtual seconds; half a second later a
 * checker looks at the settled state.
 *
 * The queue is instrumented by overriding `_put`/`_get` (the overridable
 * methods CPython's queues document) and compared with a model container.
 *
 * Invariants: no item lost or duplicated (every item taken out reached a
 * consumer, or was dropped by an immediate shutdown); a cancelled put()
 * never inserts and a cancelled get() never takes; items leave in the
 * class's order (FIFO, LIFO, lowest first); qsize never negative nor above
 * maxsize; no lost wake-up (never an item while a getter waits, room while
 * a putter waits, or anyone waiting after shutdown); `taskDone` accounting
 * and `join()`; no deadlock when none is forced.
 *
 * Runs are seeded (FC_SEED, default fixed) and counted (FC_RUNS scales
 * them); a failure prints the seed and the counterexample.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import fc from "fast-check";
import type { Script, Style } from "./sync_helpers.js";
import { allDone, checkEachSecond, coro, outcome, runGuarded, STYLES, spawn, withTimeout } from "./sync_helpers.js";

const SEED = process.env.FC_SEED === undefined ? 20240405 : Number(process.env.FC_SEED);
const RUN_SCALE = process.env.FC_RUNS === undefined ? 1 : Number(process.env.FC_RUNS);
const runs = (n: number): number => Math.max(1, Math.round(n * RUN_SCALE));

/** Scenario events happen up to here; then the main task shuts the queue down. */
const HORIZON = 30;

/** An item: `[priority, unique id]`, ordered like a Python tuple by the PriorityQueue's default order. */
type Item = [number, number];

type Kind = "Queue" | "LifoQueue" | "PriorityQueue";

interface Op {
  gap: number;
  nowait: boolean;
  timeout: number | null;
  /** Right after the operation, in the same step, cancel this peer (a getter or putter about to be woken). */
  cancelPeer: number | null;
  /** Consumers: how long processing takes (-1 none, 0 one iteration, n seconds) before `taskDone()`. */
  process: number;
}

interface Actor {
  start: number;
  ops: Op[];
  cancelAt: number | null;
}

interface QueueScenario {
  kind: Kind;
  maxsize: number;
  style: Style;
  producers: Actor[];
  consumers: Actor[];
  shutdownAt: number | null;
  shutdownImmediate: boolean;
  finalImmediate: boolean;
  joinAt: number | null;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  gap: fc.integer({ min: 0, max: 2 }),
  nowait: fc.boolean(),
  timeout: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null, freq: 3 }),
  cancelPeer: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null, freq: 6 }),
  process: fc.integer({ min: -1, max: 2 }),
});

const actorArb: fc.Arbitrary<Actor> = fc.record({
  start: fc.integer({ min: 0, max: 3 }),
  ops: fc.array(opArb, { minLength: 1, maxLength: 6 }),
  cancelAt: fc.option(fc.integer({ min: 0, max: 20 }), { nil: null, freq: 5 }),
});

const scenarioArb: fc.Arbitrary<QueueScenario> = fc.record({
  kind: fc.constantFrom("Queue" as const, "LifoQueue" as const, "PriorityQueue" as const),
  maxsize: fc.integer({ min: 0, max: 3 }),
  style: fc.constantFrom(...STYLES),
  producers: fc.array(actorArb, { minLength: 1, maxLength: 4 }),
  consumers: fc.array(actorArb, { minLength: 1, maxLength: 4 }),
  shutdownAt: fc.option(fc.integer({ min: 0, max: HORIZON }), { nil: null, freq: 3 }),
  shutdownImmediate: fc.boolean(),
  finalImmediate: fc.boolean(),
  joinAt: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
});

/** What the instrumented queue reports. */
interface Hooks {
  put(item: Item, queue: asyncio.Queue<Item>): void;
  get(item: Item, queue: asyncio.Queue<Item>): void;
}

/**
 * The queue classes instrumented through their overridable `_put`/`_get`.
 * Made once: a class made per scenario would be compiled anew each time.
 */
function tracked(Base: typeof asyncio.Queue): new (maxsize: number, hooks: Hooks) => asyncio.Queue<Item> {
  const Instrumented = Base as new (maxsize?: number) => asyncio.Queue<Item>;
  return class Tracked extends Instrumented {
    readonly hooks: Hooks;

    constructor(maxsize: number, hooks: Hooks) {
      super(maxsize);
      this.hooks = hooks;
    }

    protected override _put(item: Item): void {
      super._put(item);
      this.hooks.put(item, this);
    }

    protected override _get(): Item {
      const item = super._get();
      this.hooks.get(item, this);
      return item;
    }
  };
}

const TRACKED: Record<Kind, new (maxsize: number, hooks: Hooks) => asyncio.Queue<Item>> = {
  Queue: tracked(asyncio.Queue),
  LifoQueue: tracked(asyncio.LifoQueue),
  PriorityQueue: tracked(asyncio.PriorityQueue),
};

function makeQueue(kind: Kind, maxsize: number, hooks: Hooks): asyncio.Queue<Item> {
  return new TRACKED[kind](maxsize, hooks);
}

/** Takes out of the model what the queue class should take out next. */
function takeFromModel(kind: Kind, model: Item[]): Item | undefined {
  if (kind === "Queue") return model.shift();
  if (kind === "LifoQueue") return model.pop();
  let lowest = 0;
  for (let i = 1; i < model.length; i++) {
    const a = model[i] as Item;
    const b = model[lowest] as Item;
    if (a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])) lowest = i;
  }
  return model.splice(lowest, 1)[0];
}

const key = (item: Item): string => `${item[0]}:${item[1]}`;

/** Runs one scenario and returns the violations found (none when all is well). */
async function runQueueScenario(s: QueueScenario): Promise<string[]> {
  const violations: string[] = [];
  const model: Item[] = [];
  const putByQueue: string[] = [];
  const takenByQueue: string[] = [];
  const dropped: string[] = [];
  const inserted: string[] = []; // puts that returned
  const got: string[] = []; // gets that returned
  let taskDones = 0;
  let shuttingDown = false;
  let isShutdown = false;
  const getWaiting = new Set<number>();
  const putWaiting = new Set<number>();
  const cancelRequested = new Set<string>();

  const q = makeQueue(s.kind, s.maxsize, {
    put(item, queue) {
      putByQueue.push(key(item));
      model.push(item);
      if (s.maxsize > 0 && queue.qsize() > s.maxsize) violations.push(`qsize ${queue.qsize()} above maxsize ${s.maxsize}`);
    },
    get(item, queue) {
      const expected = takeFromModel(s.kind, model);
      if (expected === undefined || key(expected) !== key(item)) {
        violations.push(`${s.kind} took ${key(item)}, expected ${expected === undefined ? "nothing" : key(expected)}`);
      }
      if (queue.qsize() < 0) violations.push(`qsize ${queue.qsize()} negative`);
      (shuttingDown ? dropped : takenByQueue).push(key(item));
    },
  });

  const shutdown = (immediate: boolean): void => {
    shuttingDown = immediate;
    q.shutdown(immediate);
    shuttingDown = false;
    isShutdown = true;
  };

  const producers: asyncio.Task<unknown>[] = [];
  const consumers: asyncio.Task<unknown>[] = [];
  const cancelPeer = (peers: asyncio.Task<unknown>[], role: string, index: number): void => {
    const task = peers[index];
    if (task === undefined) return;
    cancelRequested.add(`${role}${index}`);
    task.cancel();
  };

  function* produce(id: number, actor: Actor): Generator<asyncio.Awaitable<unknown>, string, unknown> {
    yield asyncio.sleep(actor.start);
    for (const [n, op] of actor.ops.entries()) {
      if (op.gap > 0) yield asyncio.sleep(op.gap);
      const item: Item = [(id * 7 + n * 3) % 5, id * 100 + n];
      try {
        if (op.nowait) {
          try {
            q.putNowait(item);
            inserted.push(key(item));
          } catch (error) {
            if (!(error instanceof asyncio.QueueFull)) throw error;
          }
        } else {
          yield* withTimeout(op.timeout, function* () {
            putWaiting.add(id);
            try {
              yield q.put(item);
            } finally {
              putWaiting.delete(id);
            }
            inserted.push(key(item));
          });
        }
      } catch (error) {
        if (error instanceof asyncio.QueueShutDown) return "shut down";
        throw error;
      }
      if (op.cancelPeer !== null) cancelPeer(consumers, "consumer", op.cancelPeer);
    }
    return "done";
  }

  function* consume(id: number, actor: Actor): Generator<asyncio.Awaitable<unknown>, string, unknown> {
    yield asyncio.sleep(actor.start);
    for (const op of actor.ops) {
      if (op.gap > 0) yield asyncio.sleep(op.gap);
      let item: Item | null = null;
      try {
        if (op.nowait) {
          try {
            item = q.getNowait();
          } catch (error) {
            if (!(error instanceof asyncio.QueueEmpty)) throw error;
          }
        } else {
          yield* withTimeout(op.timeout, function* () {
            getWaiting.add(id);
            try {
              item = (yield q.get()) as Item;
            } finally {
              getWaiting.delete(id);
            }
          });
        }
      } catch (error) {
        if (error instanceof asyncio.QueueShutDown) return "shut down";
        throw error;
      }
      if (item === null) continue;
      got.push(key(item));
      if (op.cancelPeer !== null) cancelPeer(producers, "producer", op.cancelPeer);
      try {
        if (op.process >= 0) yield asyncio.sleep(op.process);
      } finally {
        q.taskDone();
        taskDones += 1;
      }
    }
    return "done";
  }

  let joiner: asyncio.Task<unknown> | null = null;
  const main: Script<void> = function* () {
    const loop = asyncio.getRunningLoop();
    checkEachSecond(HORIZON + 8, (time) => {
      if (!q.empty() && getWaiting.size > 0)
        violations.push(`lost wake-up at t=${time}: ${q.qsize()} items, ${getWaiting.size} getters waiting`);
      if (!q.full() && putWaiting.size > 0)
        violations.push(`lost wake-up at t=${time}: room, ${putWaiting.size} putters waiting, ${inspect(q)}`);
      if (isShutdown && putWaiting.size > 0) violations.push(`putters still waiting at t=${time} after shutdown`);
      if (isShutdown && getWaiting.size > 0) violations.push(`getters still waiting at t=${time} after shutdown`);
    });
    for (const [id, actor] of s.producers.entries()) {
      producers.push(spawn(s.style, () => produce(id, actor)));
      if (actor.cancelAt !== null) loop.callLater(actor.cancelAt, () => cancelPeer(producers, "producer", id));
    }
    for (const [id, actor] of s.consumers.entries()) {
      consumers.push(spawn(s.style, () => consume(id, actor)));
      if (actor.cancelAt !== null) loop.callLater(actor.cancelAt, () => cancelPeer(consumers, "consumer", id));
    }
    if (s.shutdownAt !== null) {
      const immediate = s.shutdownImmediate;
      loop.callLater(s.shutdownAt, () => shutdown(immediate));
    }
    if (s.joinAt !== null) {
      const joinAt = s.joinAt;
      joiner = spawn(s.style, function* () {
        yield asyncio.sleep(joinAt);
        yield q.join();
      });
    }
    yield asyncio.sleep(HORIZON);
    shutdown(s.finalImmediate);
    yield allDone([...producers, ...consumers]);
    yield asyncio.sleep(1); // lets a woken joiner finish
    for (const [role, tasks] of [
      ["producer", producers],
      ["consumer", consumers],
    ] as const) {
      for (const [id, task] of tasks.entries()) {
        const result = outcome(task);
        if (result === "cancelled" && cancelRequested.has(`${role}${id}`)) continue;
        if (result !== "done" && result !== "shut down") violations.push(`${role} ${id} ended with ${inspect(result)}`);
      }
    }
  };
  await runGuarded(coro(s.style, main));

  const sorted = (list: string[]): string[] => [...list].sort();
  if (new Set(got).size !== got.length) violations.push(`an item was got twice: ${got.join(" ")}`);
  if (sorted(inserted).join() !== sorted(putByQueue).join()) {
    violations.push(`inserted by the queue (${putByQueue.join(" ")}) differ from puts that returned (${inserted.join(" ")})`);
  }
  if (sorted(got).join() !== sorted(takenByQueue).join()) {
    violations.push(`taken by the queue (${takenByQueue.join(" ")}) differ from gets that returned (${got.join(" ")})`);
  }
  if (sorted([...got, ...dropped, ...model.map(key)]).join() !== sorted(inserted).join()) {
    violations.push(
      `items not conserved: put ${inserted.length}, got ${got.length}, dropped ${dropped.length}, left ${model.length}`,
    );
  }
  if (q.qsize() !== model.length) violations.push(`qsize ${q.qsize()}, model holds ${model.length}`);
  const unfinished = Number(/tasks=(\d+)/.exec(inspect(q))?.[1] ?? 0);
  const expectedUnfinished = inserted.length - taskDones - dropped.length;
  if (unfinished !== expectedUnfinished) violations.push(`unfinished tasks ${unfinished}, expected ${expectedUnfinished}`);
  const joinTask = joiner as asyncio.Task<unknown> | null;
  if (joinTask !== null && expectedUnfinished === 0 && outcome(joinTask) !== undefined) {
    violations.push(`join() did not return with no unfinished task: ${inspect(joinTask)}`);
  }
  return violations;
}

describe("queues under random interleavings", () => {
  test("Queue, LifoQueue, PriorityQueue: no item lost or duplicated, order kept, no lost wake-up, no deadlock", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        assert.deepEqual(await runQueueScenario(scenario), []);
      }),
      { numRuns: runs(2500), seed: SEED },
    );
  });

  test("the checks catch a getter that loses the wake-up it cannot use", async () => {
    // A scenario where a getter is woken by a put and cancelled in the same step.
    const scenario: QueueScenario = {
      kind: "Queue",
      maxsize: 0,
      style: "generator",
      producers: [{ start: 1, ops: [{ gap: 0, nowait: true, timeout: null, cancelPeer: 0, process: -1 }], cancelAt: null }],
      consumers: [
        { start: 0, ops: [{ gap: 0, nowait: false, timeout: null, cancelPeer: null, process: -1 }], cancelAt: null },
        { start: 0, ops: [{ gap: 0, nowait: false, timeout: 5, cancelPeer: null, process: -1 }], cancelAt: null },
      ],
      shutdownAt: null,
      shutdownImmediate: false,
      finalImmediate: false,
      joinAt: null,
    };
    assert.deepEqual(await runQueueScenario(scenario), []);
    // Break the hand-over: a cancelled getter no longer wakes the next one.
    const proto = asyncio.Queue.prototype as unknown as { _getWaiting: () => Generator };
    const original = Object.getOwnPropertyDescriptor(asyncio.Queue.prototype, "_getWaiting");
    assert.ok(original !== undefined);
    const broken = function* (this: asyncio.Queue<Item>): Generator<unknown, Item, unknown> {
      const self = this as unknown as { _getters: { wait(loop: asyncio.AbstractEventLoop): Generator<unknown, void, unknown> } };
      while (this.empty()) yield* self._getters.wait(asyncio.getRunningLoop());
      return this.getNowait();
    };
    proto._getWaiting = broken as unknown as () => Generator;
    try {
      const violations = await runQueueScenario(scenario);
      assert.ok(
        violations.some((v) => v.startsWith("lost wake-up at t=1.5: 1 items, 1 getters waiting")),
        violations.join("\n"),
      );
    } finally {
      Object.defineProperty(asyncio.Queue.prototype, "_getWaiting", original);
    }
  });
});
