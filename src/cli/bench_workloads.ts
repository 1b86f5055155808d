/**
 * The workloads of `asyncio-ts bench`, each a twin of the workload with the
 * same name in `bench/python/core_bench.py` (same N, same structure, same
 * random delays), in several variants: asyncio-ts in both coroutine styles,
 * and plain-Node baselines doing the same work without asyncio-ts.
 *
 * Rules every variant follows, as in the Python script: it builds a fresh
 * event loop and closes it afterwards; only the workload is timed
 * (`performance.now()`), after a garbage collection (`global.gc`, when the
 * process runs with `--expose-gc`); N is the base N times the scale.
 */
import * as asyncio from "../index.js";
import { PythonRandom } from "./bench_random.js";

/** One measurement: a time, or heap bytes per task. */
export interface Measurement {
  n: number;
  ms?: number;
  bytes_per_task?: number;
}

/** A way to run a workload. */
export interface Variant {
  /** Stable name, used in `--json` output. */
  key: string;
  /** What the table shows. */
  label: string;
  /** An asyncio-ts variant (compared with the baselines and CPython), or a plain-Node baseline. */
  kind: "asyncio-ts" | "baseline";
  /** Whether CPython's twin of the workload does the same thing (else no ratio to CPython is printed). */
  comparableToCPython: boolean;
  run(n: number): Promise<Measurement>;
}

/** What a workload must reach, as the issue states it. */
export type Target =
  | { kind: "speedup-vs-uvloop"; factor: number; text: string }
  | { kind: "speedup-vs-asyncio"; factor: number; text: string }
  | { kind: "max-bytes-per-task"; bytes: number; text: string };

export interface Workload {
  name: string;
  /** N at scale 1, as in the Python script. */
  base: number;
  unit: "ms" | "bytes_per_task";
  variants: Variant[];
  /** Which asyncio-ts variants the target applies to (by key), and the target. */
  target?: { variants: string[]; target: Target };
}

const collectGarbage = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Milliseconds since `start` (a `performance.now()` value), rounded like the Python script. */
const msSince = (start: number): number => Math.round((performance.now() - start) * 100) / 100;

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`benchmark self-check failed: ${what}`);
}

/** Runs `body` with a fresh loop, closed afterwards. */
async function withLoop<T>(body: (loop: asyncio.EventLoop) => Promise<T>): Promise<T> {
  const loop = new asyncio.EventLoop();
  try {
    return await body(loop);
  } finally {
    if (loop.isRunning()) loop.stop();
    loop.close();
  }
}

// ---- call_soon_chain --------------------------------------------------------

function callSoonChain(n: number): Promise<Measurement> {
  return withLoop(async (loop) => {
    let count = 0;
    const step = (): void => {
      count += 1;
      if (count < n) loop.callSoon(step);
      else loop.stop();
    };
    loop.callSoon(step);
    collectGarbage();
    const start = performance.now();
    await loop.runForever();
    const ms = msSince(start);
    check(count === n, `${count} callbacks ran, expected ${n}`);
    return { n, ms };
  });
}

function nodeChain(schedule: (callback: () => void) => void): (n: number) => Promise<Measurement> {
  return async (n) => {
    collectGarbage();
    const start = performance.now();
    await new Promise<void>((resolve) => {
      let count = 0;
      const step = (): void => {
        count += 1;
        if (count < n) schedule(step);
        else resolve();
      };
      schedule(step);
    });
    return { n, ms: msSince(start) };
  };
}

// ---- call_later_timers ------------------------------------------------------

/** The delays of core_bench.py: `random.Random(42).random() * 0.001`, N of them (seconds). */
function timerDelays(n: number): number[] {
  const rng = new PythonRandom(42);
  const delays = new Array<number>(n);
  for (let i = 0; i < n; i++) delays[i] = rng.random() * 0.001;
  return delays;
}

function callLaterTimers(n: number): Promise<Measurement> {
  const delays = timerDelays(n);
  const expected = Math.floor(n / 2);
  return withLoop(async (loop) => {
    let fired = 0;
    const onTimer = (): void => {
      fired += 1;
      if (fired === expected) loop.stop();
    };
    collectGarbage();
    const start = performance.now();
    const handles = delays.map((delay) => loop.callLater(delay, onTimer));
    for (let i = 0; i < handles.length; i += 2) handles[i]?.cancel();
    if (expected > 0) await loop.runForever();
    const ms = msSince(start);
    check(fired === expected, `${fired} timers fired, expected ${expected}`);
    return { n, ms };
  });
}

async function setTimeoutTimers(n: number): Promise<Measurement> {
  const delays = timerDelays(n);
  const expected = Math.floor(n / 2);
  collectGarbage();
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let fired = 0;
    const onTimer = (): void => {
      fired += 1;
      if (fired === expected) resolve();
    };
    const handles = delays.map((delay) => setTimeout(onTimer, delay * 1000));
    for (let i = 0; i < handles.length; i += 2) clearTimeout(handles[i]);
    if (expected === 0) resolve();
  });
  return { n, ms: msSince(start) };
}

// ---- tasks_sleep0_gather ----------------------------------------------------

async function gatherNative(n: number): Promise<Measurement> {
  async function child(): Promise<void> {
    await asyncio.sleep(0);
  }
  async function main(): Promise<void> {
    const tasks = new Array<asyncio.Task<void>>(n);
    for (let i = 0; i < n; i++) tasks[i] = asyncio.createTask(child);
    await asyncio.gather(...tasks);
  }
  return timeUntilComplete(n, main);
}

async function gatherGenerator(n: number): Promise<Measurement> {
  function* child(): asyncio.Coroutine<void> {
    yield* asyncio.sleep(0);
  }
  function* main(): asyncio.Coroutine<void> {
    const tasks = new Array<asyncio.Task<void>>(n);
    for (let i = 0; i < n; i++) tasks[i] = asyncio.createTask(child);
    yield* asyncio.gather(...tasks);
  }
  return timeUntilComplete(n, main);
}

async function promiseAll(n: number): Promise<Measurement> {
  const resolved = Promise.resolve();
  async function child(): Promise<void> {
    await resolved;
  }
  collectGarbage();
  const start = performance.now();
  const promises = new Array<Promise<void>>(n);
  for (let i = 0; i < n; i++) promises[i] = child();
  await Promise.all(promises);
  return { n, ms: msSince(start) };
}

/** Times `loop.runUntilComplete(main)` in a fresh loop (core_bench.py's `run_until_complete(coro)`). */
function timeUntilComplete(n: number, main: asyncio.CoroutineLike<void>): Promise<Measurement> {
  return withLoop(async (loop) => {
    collectGarbage();
    const start = performance.now();
    await loop.runUntilComplete(main);
    return { n, ms: msSince(start) };
  });
}

// ---- task_switch ------------------------------------------------------------

/**
 * Two tasks pass a token back and forth through two queues, N hand-overs in
 * all (core_bench.py's `bench_task_switch`, line by line).
 */
function switchQueuesNative(n: number): Promise<Measurement> {
  let switches = 0;
  async function taskA(q1: asyncio.Queue<object>, q2: asyncio.Queue<object>): Promise<void> {
    let token = {};
    for (let done = 0; done < n; done += 2) {
      await q1.put(token);
      if (done + 1 >= n) break;
      token = await q2.get();
      switches += 1;
    }
  }
  async function taskB(q1: asyncio.Queue<object>, q2: asyncio.Queue<object>): Promise<void> {
    for (let done = 0; done < n; done += 2) {
      const token = await q1.get();
      switches += 1;
      if (done + 1 >= n) break;
      await q2.put(token);
    }
  }
  async function main(): Promise<void> {
    const q1 = new asyncio.Queue<object>();
    const q2 = new asyncio.Queue<object>();
    await asyncio.gather(
      () => taskA(q1, q2),
      () => taskB(q1, q2),
    );
  }
  return timeSwitches(n, main, () => switches);
}

function switchQueuesGenerator(n: number): Promise<Measurement> {
  let switches = 0;
  function* taskA(q1: asyncio.Queue<object>, q2: asyncio.Queue<object>): asyncio.Coroutine<void> {
    let token = {};
    for (let done = 0; done < n; done += 2) {
      yield* q1.put(token);
      if (done + 1 >= n) break;
      token = yield* q2.get();
      switches += 1;
    }
  }
  function* taskB(q1: asyncio.Queue<object>, q2: asyncio.Queue<object>): asyncio.Coroutine<void> {
    for (let done = 0; done < n; done += 2) {
      const token = yield* q1.get();
      switches += 1;
      if (done + 1 >= n) break;
      yield* q2.put(token);
    }
  }
  function* main(): asyncio.Coroutine<void> {
    const q1 = new asyncio.Queue<object>();
    const q2 = new asyncio.Queue<object>();
    yield* asyncio.gather(taskA(q1, q2), taskB(q1, q2));
  }
  return timeSwitches(n, main, () => switches);
}

/**
 * The same hand-overs through plain futures: the receiver waits on its
 * mailbox future and replaces it with a new one before answering, so each
 * hand-over is one `setResult` and one task wake-up, nothing else.
 */
function switchFuturesNative(n: number): Promise<Measurement> {
  let switches = 0;
  async function main(): Promise<void> {
    const loop = asyncio.getRunningLoop();
    const box = { toA: loop.createFuture<object>(), toB: loop.createFuture<object>() };
    async function taskA(): Promise<void> {
      let token = {};
      for (let done = 0; done < n; done += 2) {
        box.toB.setResult(token);
        if (done + 1 >= n) break;
        token = await box.toA;
        box.toA = loop.createFuture<object>();
        switches += 1;
      }
    }
    async function taskB(): Promise<void> {
      for (let done = 0; done < n; done += 2) {
        const token = await box.toB;
        box.toB = loop.createFuture<object>();
        switches += 1;
        if (done + 1 >= n) break;
        box.toA.setResult(token);
      }
    }
    await asyncio.gather(taskA, taskB);
  }
  return timeSwitches(n, main, () => switches);
}

function switchFuturesGenerator(n: number): Promise<Measurement> {
  let switches = 0;
  function* main(): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const box = { toA: loop.createFuture<object>(), toB: loop.createFuture<object>() };
    function* taskA(): asyncio.Coroutine<void> {
      let token = {};
      for (let done = 0; done < n; done += 2) {
        box.toB.setResult(token);
        if (done + 1 >= n) break;
        token = yield* box.toA;
        box.toA = loop.createFuture<object>();
        switches += 1;
      }
    }
    function* taskB(): asyncio.Coroutine<void> {
      for (let done = 0; done < n; done += 2) {
        const token = yield* box.toB;
        box.toB = loop.createFuture<object>();
        switches += 1;
        if (done + 1 >= n) break;
        box.toA.setResult(token);
      }
    }
    yield* asyncio.gather(taskA(), taskB());
  }
  return timeSwitches(n, main, () => switches);
}

/** A one-shot mailbox of the plain-Promise baseline. */
class PromiseBox<T> {
  resolve!: (value: T) => void;
  readonly promise = new Promise<T>((resolve) => {
    this.resolve = resolve;
  });
}

/** The baseline: two async functions handing the token over through promises, the same way. */
async function switchPromises(n: number): Promise<Measurement> {
  let switches = 0;
  const box = { toA: new PromiseBox<object>(), toB: new PromiseBox<object>() };
  async function taskA(): Promise<void> {
    let token = {};
    for (let done = 0; done < n; done += 2) {
      box.toB.resolve(token);
      if (done + 1 >= n) break;
      token = await box.toA.promise;
      box.toA = new PromiseBox<object>();
      switches += 1;
    }
  }
  async function taskB(): Promise<void> {
    for (let done = 0; done < n; done += 2) {
      const token = await box.toB.promise;
      box.toB = new PromiseBox<object>();
      switches += 1;
      if (done + 1 >= n) break;
      box.toA.resolve(token);
    }
  }
  collectGarbage();
  const start = performance.now();
  await Promise.all([taskA(), taskB()]);
  const ms = msSince(start);
  check(switches === n, `${switches} switches, expected ${n}`);
  return { n, ms };
}

async function timeSwitches(n: number, main: asyncio.CoroutineLike<void>, switches: () => number): Promise<Measurement> {
  const result = await timeUntilComplete(n, main);
  check(switches() === n, `${switches()} switches, expected ${n}`);
  return result;
}

// ---- queue_producer_consumer ------------------------------------------------

/**
 * A producer puts N items on a `Queue(100)`, a consumer gets them
 * (core_bench.py's `bench_queue_producer_consumer`).
 */
function queueNative(n: number): Promise<Measurement> {
  let total = 0;
  async function producer(q: asyncio.Queue<number>): Promise<void> {
    for (let i = 0; i < n; i++) await q.put(i);
  }
  async function consumer(q: asyncio.Queue<number>): Promise<void> {
    for (let i = 0; i < n; i++) total += await q.get();
  }
  async function main(): Promise<void> {
    const q = new asyncio.Queue<number>(100);
    await asyncio.gather(
      () => producer(q),
      () => consumer(q),
    );
  }
  return timeChecked(n, main, () => total === (n * (n - 1)) / 2, "sum of the items");
}

function queueGenerator(n: number): Promise<Measurement> {
  let total = 0;
  function* producer(q: asyncio.Queue<number>): asyncio.Coroutine<void> {
    for (let i = 0; i < n; i++) yield* q.put(i);
  }
  function* consumer(q: asyncio.Queue<number>): asyncio.Coroutine<void> {
    for (let i = 0; i < n; i++) total += yield* q.get();
  }
  function* main(): asyncio.Coroutine<void> {
    const q = new asyncio.Queue<number>(100);
    yield* asyncio.gather(producer(q), consumer(q));
  }
  return timeChecked(n, main, () => total === (n * (n - 1)) / 2, "sum of the items");
}

// ---- lock_contention --------------------------------------------------------

/** 1,000 tasks taking the lock N / 1,000 times each (fewer tasks when N < 1,000), as core_bench.py shapes it. */
function lockContentionShape(n: number): [tasks: number, rounds: number] {
  const tasks = Math.min(1000, n);
  return [tasks, Math.floor(n / tasks)];
}

/**
 * 1,000 tasks each take one `Lock` N / 1,000 times, holding it across one
 * loop iteration, so that every acquisition is a hand-over through the
 * lock's line of waiters (core_bench.py's `bench_lock_contention`).
 */
function lockNative(n: number): Promise<Measurement> {
  const [tasks, rounds] = lockContentionShape(n);
  let count = 0;
  async function worker(lock: asyncio.Lock): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      using _ = await lock.hold();
      count += 1;
      await asyncio.sleep(0);
    }
  }
  async function main(): Promise<void> {
    const lock = new asyncio.Lock();
    await asyncio.gather(...Array.from({ length: tasks }, () => () => worker(lock)));
  }
  return timeChecked(tasks * rounds, main, () => count === tasks * rounds, "acquisitions");
}

function lockGenerator(n: number): Promise<Measurement> {
  const [tasks, rounds] = lockContentionShape(n);
  let count = 0;
  function* worker(lock: asyncio.Lock): asyncio.Coroutine<void> {
    for (let r = 0; r < rounds; r++) {
      using _ = yield* lock.hold();
      count += 1;
      yield* asyncio.sleep(0);
    }
  }
  function* main(): asyncio.Coroutine<void> {
    const lock = new asyncio.Lock();
    yield* asyncio.gather(...Array.from({ length: tasks }, () => worker(lock)));
  }
  return timeChecked(tasks * rounds, main, () => count === tasks * rounds, "acquisitions");
}

async function timeChecked(n: number, main: asyncio.CoroutineLike<void>, ok: () => boolean, what: string): Promise<Measurement> {
  const result = await timeUntilComplete(n, main);
  check(ok(), `wrong ${what}`);
  return result;
}

// ---- memory_per_blocked_task ------------------------------------------------

const heapUsed = (): number => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

/**
 * Heap bytes per task for N tasks blocked on one awaitable (core_bench.py's
 * `bench_memory_per_blocked_task`): the heap is read after a full GC before
 * the tasks are made and after two loop iterations, when all of them are
 * blocked; then they are released and gathered.
 */
function blockedTasks(
  n: number,
  style: "native" | "generator",
  makeBlocker: () => { wait(): asyncio.Awaitable<unknown>; release(): void },
): Promise<Measurement> {
  check(typeof (globalThis as { gc?: unknown }).gc === "function", "memory needs node --expose-gc");
  return withLoop(async (loop) => {
    let before = 0;
    let after = 0;
    async function main(): Promise<void> {
      const blocker = makeBlocker();
      const waiter =
        style === "native"
          ? async () => {
              await blocker.wait();
            }
          : function* (): asyncio.Coroutine<void> {
              yield* blocker.wait();
            };
      before = heapUsed();
      const tasks = new Array<asyncio.Task<void>>(n);
      for (let i = 0; i < n; i++) tasks[i] = asyncio.createTask(waiter);
      await asyncio.sleep(0);
      await asyncio.sleep(0);
      after = heapUsed();
      check(
        tasks.every((task) => !task.done()),
        "every task is blocked",
      );
      blocker.release();
      await asyncio.gather(...tasks);
    }
    await loop.runUntilComplete(main);
    return { n, bytes_per_task: Math.round(((after - before) / n) * 10) / 10 };
  });
}

function onFuture(): { wait(): asyncio.Awaitable<unknown>; release(): void } {
  const future = asyncio.getRunningLoop().createFuture<void>();
  return { wait: () => future, release: () => future.setResult(undefined) };
}

function onEvent(): { wait(): asyncio.Awaitable<unknown>; release(): void } {
  const event = new asyncio.Event();
  return { wait: () => event.wait(), release: () => event.set() };
}

async function blockedPromises(n: number): Promise<Measurement> {
  check(typeof (globalThis as { gc?: unknown }).gc === "function", "memory needs node --expose-gc");
  const gate = new PromiseBox<void>();
  async function waiter(): Promise<void> {
    await gate.promise;
  }
  const before = heapUsed();
  const promises = new Array<Promise<void>>(n);
  for (let i = 0; i < n; i++) promises[i] = waiter();
  await Promise.resolve();
  const after = heapUsed();
  gate.resolve();
  await Promise.all(promises);
  return { n, bytes_per_task: Math.round(((after - before) / n) * 10) / 10 };
}

// ---- the table of workloads ---------------------------------------------------

const ours = (key: string, label: string, run: Variant["run"], comparableToCPython = true): Variant => ({
  key,
  label,
  kind: "asyncio-ts",
  comparableToCPython,
  run,
});
const baseline = (key: string, label: string, run: Variant["run"]): Variant => ({
  key,
  label,
  kind: "baseline",
  comparableToCPython: false,
  run,
});

/** Every workload, in the order of core_bench.py. */
export const WORKLOADS: Workload[] = [
  {
    name: "call_soon_chain",
    base: 1_000_000,
    unit: "ms",
    variants: [
      ours("asyncio_ts", "asyncio-ts loop.callSoon", callSoonChain),
      baseline("setImmediate", "Node setImmediate chain", nodeChain(setImmediate)),
      baseline("queueMicrotask", "Node queueMicrotask chain", nodeChain(queueMicrotask)),
    ],
    target: { variants: ["asyncio_ts"], target: { kind: "speedup-vs-uvloop", factor: 3, text: "≥ 3× uvloop" } },
  },
  {
    name: "call_later_timers",
    base: 100_000,
    unit: "ms",
    variants: [
      ours("asyncio_ts", "asyncio-ts loop.callLater", callLaterTimers),
      baseline("setTimeout", "Node setTimeout", setTimeoutTimers),
    ],
  },
  {
    name: "tasks_sleep0_gather",
    base: 100_000,
    unit: "ms",
    variants: [
      ours("asyncio_ts_native", "asyncio-ts, async functions", gatherNative),
      ours("asyncio_ts_generator", "asyncio-ts, generators", gatherGenerator),
      baseline("promise_all", "async functions + Promise.all", promiseAll),
    ],
    target: {
      variants: ["asyncio_ts_native", "asyncio_ts_generator"],
      target: { kind: "speedup-vs-uvloop", factor: 4, text: "≥ 4× uvloop" },
    },
  },
  {
    name: "task_switch",
    base: 1_000_000,
    unit: "ms",
    variants: [
      ours("asyncio_ts_native_queue", "asyncio-ts, async functions, Queues", switchQueuesNative),
      ours("asyncio_ts_generator_queue", "asyncio-ts, generators, Queues", switchQueuesGenerator),
      ours("asyncio_ts_native_future", "asyncio-ts, async functions, Futures", switchFuturesNative, false),
      ours("asyncio_ts_generator_future", "asyncio-ts, generators, Futures", switchFuturesGenerator, false),
      baseline("promises", "async functions + Promises", switchPromises),
    ],
    target: {
      variants: ["asyncio_ts_native_queue", "asyncio_ts_generator_queue"],
      target: { kind: "speedup-vs-uvloop", factor: 5, text: "≥ 5× uvloop" },
    },
  },
  {
    name: "memory_per_blocked_task",
    base: 100_000,
    unit: "bytes_per_task",
    variants: [
      ours("asyncio_ts_native_event", "asyncio-ts, async functions, Event", (n) => blockedTasks(n, "native", onEvent)),
      ours("asyncio_ts_generator_event", "asyncio-ts, generators, Event", (n) => blockedTasks(n, "generator", onEvent)),
      ours("asyncio_ts_native_future", "asyncio-ts, async functions, Future", (n) => blockedTasks(n, "native", onFuture), false),
      ours("asyncio_ts_generator_future", "asyncio-ts, generators, Future", (n) => blockedTasks(n, "generator", onFuture), false),
      baseline("promise", "async functions on one Promise", blockedPromises),
    ],
    target: {
      variants: [
        "asyncio_ts_native_event",
        "asyncio_ts_generator_event",
        "asyncio_ts_native_future",
        "asyncio_ts_generator_future",
      ],
      target: { kind: "max-bytes-per-task", bytes: 600, text: "≤ 600 B/task" },
    },
  },
  {
    name: "queue_producer_consumer",
    base: 1_000_000,
    unit: "ms",
    variants: [
      ours("asyncio_ts_native", "asyncio-ts, async functions", queueNative),
      ours("asyncio_ts_generator", "asyncio-ts, generators", queueGenerator),
    ],
    target: {
      variants: ["asyncio_ts_native", "asyncio_ts_generator"],
      target: { kind: "speedup-vs-asyncio", factor: 3, text: "≥ 3× asyncio" },
    },
  },
  {
    name: "lock_contention",
    base: 100_000,
    unit: "ms",
    variants: [
      ours("asyncio_ts_native", "asyncio-ts, async functions", lockNative),
      ours("asyncio_ts_generator", "asyncio-ts, generators", lockGenerator),
    ],
    target: {
      variants: ["asyncio_ts_native", "asyncio_ts_generator"],
      target: { kind: "speedup-vs-asyncio", factor: 3, text: "≥ 3× asyncio" },
    },
  },
];

/** N for `workload` at `scale`, as core_bench.py computes it. */
export function scaled(base: number, scale: number): number {
  return Math.max(1, pythonRound(base * scale));
}

/** Python's `round()`: halves go to the even neighbour. */
function pythonRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
