/**
 * Property tests of the synchronization primitives: fast-check builds
 * random interleavings of acquire/hold/release with timeouts and
 * cancellations, in either coroutine style, and runs each on a virtual-time
 * loop under a deadlock guard (`runGuarded`). Every event of a scenario
 * happens at a whole virtual second; half a second later everything it
 * caused has settled, and a checker looks at the state.
 *
 * Invariants: mutual exclusion (no more holders than units); no lost
 * wake-up (never a free unit while a task still waits); FIFO (acquisitions
 * happen in the order the acquire() calls were made); no deadlock when
 * none is forced; every unit back at the end; no error but cancellation.
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
import {
  allDone,
  checkEachSecond,
  coro,
  DeadlockError,
  outcome,
  runGuarded,
  STYLES,
  spawn,
  withTimeout,
} from "./sync_helpers.js";

const SEED = process.env.FC_SEED === undefined ? 20240404 : Number(process.env.FC_SEED);
const RUN_SCALE = process.env.FC_RUNS === undefined ? 1 : Number(process.env.FC_RUNS);
const runs = (n: number): number => Math.max(1, Math.round(n * RUN_SCALE));

/** The last whole second at which a scenario schedules anything (checks run up to here). */
const HORIZON = 40;
const scheduleChecks = (check: (time: number) => void): void => checkEachSecond(HORIZON, check);

interface Round {
  /** Seconds to wait before the acquire. */
  gap: number;
  /** Cancel the acquire-and-hold after this many seconds, then go on with the next round. */
  timeout: number | null;
  /** How long to hold: -1 no await at all, 0 one loop iteration, n seconds. */
  hold: number;
  /** Right after releasing, in the same step, cancel this worker (a release racing a cancellation). */
  cancelPeer: number | null;
}

interface Worker {
  rounds: Round[];
  /** Cancel the whole worker at this second. */
  cancelAt: number | null;
}

interface LockScenario {
  kind: "Lock" | "Semaphore" | "BoundedSemaphore";
  units: number;
  style: Style;
  workers: Worker[];
}

const roundArb: fc.Arbitrary<Round> = fc.record({
  gap: fc.integer({ min: 0, max: 3 }),
  timeout: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null, freq: 3 }),
  hold: fc.integer({ min: -1, max: 3 }),
  cancelPeer: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null, freq: 5 }),
});

const workerArb: fc.Arbitrary<Worker> = fc.record({
  rounds: fc.array(roundArb, { minLength: 1, maxLength: 3 }),
  cancelAt: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null, freq: 4 }),
});

const lockScenarioArb: fc.Arbitrary<LockScenario> = fc
  .record({
    kind: fc.constantFrom("Lock" as const, "Semaphore" as const, "BoundedSemaphore" as const),
    units: fc.integer({ min: 1, max: 3 }),
    style: fc.constantFrom(...STYLES),
    workers: fc.array(workerArb, { minLength: 1, maxLength: 7 }),
  })
  .map((s) => (s.kind === "Lock" ? { ...s, units: 1 } : s));

interface Acquirable {
  acquire(): asyncio.Awaitable<boolean>;
  release(): void;
}

function makePrimitive(s: LockScenario): Acquirable {
  if (s.kind === "Lock") return new asyncio.Lock();
  if (s.kind === "Semaphore") return new asyncio.Semaphore(s.units);
  return new asyncio.BoundedSemaphore(s.units);
}

/** Runs one scenario and returns the violations found (none when all is well). */
async function runLockScenario(s: LockScenario, make = makePrimitive): Promise<string[]> {
  const violations: string[] = [];
  const primitive = make(s);
  let holders = 0;
  let calls = 0;
  const waiting = new Set<number>();
  const acquisitions: number[] = [];
  const tasks: asyncio.Task<unknown>[] = [];
  const cancelRequested = new Set<number>();
  const cancelWorker = (id: number): void => {
    const task = tasks[id];
    if (task === undefined) return;
    cancelRequested.add(id);
    task.cancel();
  };

  function* round(id: number, r: Round): Generator<asyncio.Awaitable<unknown>, void, unknown> {
    const call = ++calls;
    waiting.add(id);
    try {
      yield primitive.acquire();
    } finally {
      waiting.delete(id);
    }
    holders += 1;
    acquisitions.push(call);
    if (holders > s.units) violations.push(`${holders} holders of ${s.units} units after call ${call}`);
    try {
      if (r.hold >= 0) yield asyncio.sleep(r.hold);
    } finally {
      holders -= 1;
      primitive.release();
      if (r.cancelPeer !== null) cancelWorker(r.cancelPeer);
    }
  }

  const main: Script<void> = function* () {
    const loop = asyncio.getRunningLoop();
    scheduleChecks((time) => {
      if (holders < s.units && waiting.size > 0) {
        violations.push(`lost wake-up at t=${time}: ${holders}/${s.units} held, ${waiting.size} waiting, ${inspect(primitive)}`);
      }
    });
    for (const [id, w] of s.workers.entries()) {
      tasks.push(
        spawn(s.style, function* () {
          for (const r of w.rounds) {
            if (r.gap > 0) yield asyncio.sleep(r.gap);
            yield* withTimeout(r.timeout, () => round(id, r));
          }
          return "done";
        }),
      );
      if (w.cancelAt !== null) loop.callLater(w.cancelAt, () => cancelWorker(id));
    }
    yield allDone(tasks);
    for (const [id, task] of tasks.entries()) {
      const result = outcome(task);
      if (result !== "done" && result !== "cancelled") violations.push(`worker ${id} ended with ${inspect(result)}`);
      if (result === "cancelled" && !cancelRequested.has(id)) violations.push(`worker ${id} cancelled without a cancel`);
    }
  };
  await runGuarded(coro(s.style, main));

  for (let i = 1; i < acquisitions.length; i++) {
    if ((acquisitions[i] as number) < (acquisitions[i - 1] as number)) {
      violations.push(`not FIFO: acquisitions by call number ${acquisitions.join(",")}`);
      break;
    }
  }
  const name = primitive.constructor.name;
  const idle = s.kind === "Lock" ? `<${name} [unlocked]>` : `<${name} [unlocked, value:${s.units}]>`;
  if (inspect(primitive) !== idle) violations.push(`not idle at the end: ${inspect(primitive)}`);
  return violations;
}

interface Producer {
  start: number;
  gaps: number[];
  notifyAll: boolean;
  /** Right after notifying, in the same step, cancel this consumer (a notify racing a cancellation). */
  cancelConsumer: number | null;
}

interface Consumer {
  start: number;
  demand: number;
  timeout: number | null;
  cancelAt: number | null;
}

interface ConditionScenario {
  style: Style;
  producers: Producer[];
  consumers: Consumer[];
}

const conditionScenarioArb: fc.Arbitrary<ConditionScenario> = fc.record({
  style: fc.constantFrom(...STYLES),
  producers: fc.array(
    fc.record({
      start: fc.integer({ min: 0, max: 3 }),
      gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 5 }),
      notifyAll: fc.boolean(),
      cancelConsumer: fc.option(fc.integer({ min: 0, max: 4 }), { nil: null, freq: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  consumers: fc.array(
    fc.record({
      start: fc.integer({ min: 0, max: 3 }),
      demand: fc.integer({ min: 1, max: 4 }),
      timeout: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null, freq: 3 }),
      cancelAt: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null, freq: 4 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

/**
 * Producers add items under the condition's lock and notify; consumers
 * wait for an item with `waitFor` (some with timeouts, some cancelled).
 * Finally the main task closes the condition and every consumer leaves.
 */
async function runConditionScenario(s: ConditionScenario): Promise<string[]> {
  const violations: string[] = [];
  const cond = new asyncio.Condition();
  let items = 0;
  let produced = 0;
  let consumed = 0;
  let closed = false;
  const waiting = new Set<number>();
  const consumers: asyncio.Task<unknown>[] = [];

  function* take(id: number): Generator<asyncio.Awaitable<unknown>, void, unknown> {
    yield cond.acquire();
    try {
      waiting.add(id);
      try {
        yield cond.waitFor(() => items > 0 || closed);
      } finally {
        waiting.delete(id);
      }
      if (!cond.locked()) violations.push(`consumer ${id} returned from waitFor() without the lock`);
      if (items > 0) {
        items -= 1;
        consumed += 1;
      }
    } finally {
      cond.release();
    }
  }

  const main: Script<void> = function* () {
    const loop = asyncio.getRunningLoop();
    scheduleChecks((time) => {
      if (items > 0 && waiting.size > 0)
        violations.push(`lost wake-up at t=${time}: ${items} items, ${waiting.size} consumers waiting`);
    });
    const producers = s.producers.map((p) =>
      spawn(s.style, function* () {
        yield asyncio.sleep(p.start);
        for (const gap of p.gaps) {
          yield cond.acquire();
          try {
            items += 1;
            produced += 1;
            if (p.notifyAll) cond.notifyAll();
            else cond.notify(1);
            if (p.cancelConsumer !== null) consumers[p.cancelConsumer]?.cancel();
          } finally {
            cond.release();
          }
          yield asyncio.sleep(gap);
        }
      }),
    );
    for (const [id, c] of s.consumers.entries()) {
      const task = spawn(s.style, function* () {
        yield asyncio.sleep(c.start);
        for (let n = 0; n < c.demand && !closed; n++) yield* withTimeout(c.timeout, () => take(id));
      });
      if (c.cancelAt !== null) loop.callLater(c.cancelAt, () => task.cancel());
      consumers.push(task);
    }
    yield allDone(producers);
    yield cond.acquire();
    closed = true;
    cond.notifyAll();
    cond.release();
    yield allDone(consumers);
    for (const task of [...producers, ...consumers]) {
      const result = outcome(task);
      if (result !== undefined && result !== "cancelled") violations.push(`a task ended with ${inspect(result)}`);
    }
  };
  await runGuarded(coro(s.style, main));
  if (produced !== consumed + items)
    violations.push(`items not conserved: ${produced} produced, ${consumed} consumed, ${items} left`);
  if (inspect(cond) !== "<Condition [unlocked]>") violations.push(`not idle at the end: ${inspect(cond)}`);
  return violations;
}

describe("synchronization primitives under random interleavings", () => {
  test("Lock, Semaphore, BoundedSemaphore: exclusion, FIFO, no lost wake-up, no deadlock", async () => {
    await fc.assert(
      fc.asyncProperty(lockScenarioArb, async (scenario) => {
        assert.deepEqual(await runLockScenario(scenario), []);
      }),
      { numRuns: runs(2000), seed: SEED },
    );
  });

  test("Condition: producers and consumers with timeouts and cancellations lose no wake-up", async () => {
    await fc.assert(
      fc.asyncProperty(conditionScenarioArb, async (scenario) => {
        assert.deepEqual(await runConditionScenario(scenario), []);
      }),
      { numRuns: runs(800), seed: SEED },
    );
  });

  test("the checks catch a broken lock: a lost wake-up, and a deadlock", async () => {
    // A broken lock: release() frees it without waking the next waiter.
    class ForgetfulLock extends asyncio.Lock {
      override release(): void {
        (this as unknown as { _locked: boolean })._locked = false;
      }
    }
    const scenario = (timeout: number | null): LockScenario => ({
      kind: "Lock",
      units: 1,
      style: "generator",
      workers: [
        { rounds: [{ gap: 0, timeout: null, hold: 1, cancelPeer: null }], cancelAt: null },
        { rounds: [{ gap: 0, timeout, hold: 0, cancelPeer: null }], cancelAt: null },
      ],
    });
    const violations = await runLockScenario(scenario(3), () => new ForgetfulLock());
    assert.deepEqual(violations, [
      "lost wake-up at t=1.5: 0/1 held, 1 waiting, <ForgetfulLock [unlocked, waiters:1]>",
      "lost wake-up at t=2.5: 0/1 held, 1 waiting, <ForgetfulLock [unlocked, waiters:1]>",
    ]);
    await assert.rejects(
      runLockScenario(scenario(null), () => new ForgetfulLock()),
      DeadlockError,
    );
  });
});
