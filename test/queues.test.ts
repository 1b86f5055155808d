/**
 * Unit tests of `Queue`, `LifoQueue` and `PriorityQueue`: each rule of
 * CPython 3.13's `asyncio.queues` (including `shutdown`) and its regression
 * tests for lost items and lost wake-ups, run in both coroutine styles (see
 * `sync_helpers.ts`) on the virtual-time loop; the default priority order;
 * reprs; and async iteration, an addition to asyncio.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import type { Style } from "./sync_helpers.js";
import { allDone, cancelAfter, coro, outcome, runGuarded, STYLES, settle as settleFor, spawn } from "./sync_helpers.js";

function run<T>(style: Style, script: () => Generator<asyncio.Awaitable<unknown>, T, unknown>): Promise<T> {
  return runGuarded(coro(style, script));
}

/** Runs `script` expecting it to throw; returns what it threw. */
function* caught(awaitable: asyncio.Awaitable<unknown>): Generator<asyncio.Awaitable<unknown>, unknown, unknown> {
  try {
    yield awaitable;
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}

const QUEUE_CLASSES = [asyncio.Queue, asyncio.LifoQueue, asyncio.PriorityQueue] as const;

for (const style of STYLES) {
  const settle = (n = 1) => settleFor(style, n);

  describe(`Queue basics (${style})`, () => {
    test("repr shows maxsize, items, getters, putters, unfinished tasks and shutdown", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>();
        assert.equal(inspect(q), "<Queue maxsize=0>");
        const getter = spawn(style, function* () {
          return yield q.get();
        });
        yield* settle(1);
        assert.equal(inspect(q), "<Queue maxsize=0 _getters[1]>");
        q.putNowait(0);
        assert.equal(yield getter, 0);
        assert.equal(inspect(q), "<Queue maxsize=0 tasks=1>");

        const bounded = new asyncio.Queue<number>(1);
        bounded.putNowait(1);
        const putter = spawn(style, function* () {
          yield bounded.put(2);
        });
        yield* settle(1);
        assert.equal(inspect(bounded), "<Queue maxsize=1 _queue=[1] _putters[1] tasks=1>");
        bounded.getNowait();
        yield putter;
        assert.equal(String(bounded), "<Queue maxsize=1 _queue=[2] tasks=2>");

        const strings = new asyncio.Queue<unknown>();
        strings.putNowait(1);
        strings.putNowait("a'b");
        strings.putNowait([2, ["x"]]);
        assert.equal(inspect(strings), "<Queue maxsize=0 _queue=[1, 'a\\'b', [2, ['x']]] tasks=3>");
        strings.shutdown(true);
        assert.equal(inspect(strings), "<Queue maxsize=0 shutdown>");
        assert.equal(inspect(new asyncio.LifoQueue(3)), "<LifoQueue maxsize=3>");
        assert.equal(inspect(new asyncio.PriorityQueue()), "<PriorityQueue maxsize=0>");
      }));

    test("empty(), full(), qsize() and maxsize", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>();
        assert.equal(q.empty(), true);
        assert.equal(q.full(), false);
        assert.equal(q.maxsize, 0);
        yield q.put(1);
        assert.equal(q.empty(), false);
        assert.equal(q.qsize(), 1);
        assert.equal(yield q.get(), 1);
        assert.equal(q.empty(), true);
        const bounded = new asyncio.Queue<number>(1);
        assert.equal(bounded.maxsize, 1);
        yield bounded.put(1);
        assert.equal(bounded.full(), true);
        assert.throws(() => new asyncio.Queue("1" as unknown as number), TypeError);
      }));

    test("items come out first in, first out", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>();
        for (const i of [1, 3, 2]) yield q.put(i);
        const items: unknown[] = [];
        for (let i = 0; i < 3; i++) items.push(yield q.get());
        assert.deepEqual(items, [1, 3, 2]);
      }));

    test("put() blocks while the queue holds maxsize items (CPython test_maxsize)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(2);
        const havePut: number[] = [];
        const t = spawn(style, function* () {
          for (let i = 0; i < 3; i++) {
            yield q.put(i);
            havePut.push(i);
          }
          return true;
        });
        yield* settle(2);
        assert.deepEqual(havePut, [0, 1]);
        assert.equal(yield q.get(), 0);
        yield* settle(1);
        assert.deepEqual(havePut, [0, 1, 2]);
        assert.equal(yield q.get(), 1);
        assert.equal(yield q.get(), 2);
        yield allDone([t]);
        assert.equal(t.result(), true);
      }));

    test("a fractional maxsize rounds up, as in Python (CPython test_float_maxsize)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(1.3);
        q.putNowait(1);
        q.putNowait(2);
        assert.equal(q.full(), true);
        assert.throws(() => q.putNowait(3), asyncio.QueueFull);
        const q2 = new asyncio.Queue<number>(1.3);
        yield q2.put(1);
        yield q2.put(2);
        assert.equal(q2.full(), true);
      }));

    test("getNowait() on an empty queue raises QueueEmpty; putNowait() on a full one QueueFull", () => {
      const q = new asyncio.Queue<number>(1);
      assert.throws(() => q.getNowait(), asyncio.QueueEmpty);
      q.putNowait(1);
      assert.throws(() => q.putNowait(2), asyncio.QueueFull);
      assert.equal(q.getNowait(), 1);
    });

    test("get() waits for an item (CPython test_blocking_get_wait)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>();
        const started = new asyncio.Event();
        let finished = false;
        const getter = spawn(style, function* () {
          started.set();
          const res = yield q.get();
          finished = true;
          return res;
        });
        yield started.wait();
        assert.equal(finished, false);
        asyncio.getRunningLoop().callLater(0.01, () => q.putNowait(1));
        assert.equal(yield getter, 1);
        assert.equal(finished, true);
      }));

    test("put() waits for room (CPython test_blocking_put_wait)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(1);
        const started = new asyncio.Event();
        let finished = false;
        asyncio.getRunningLoop().callLater(0.01, () => q.getNowait());
        const putter = spawn(style, function* () {
          started.set();
          yield q.put(1);
          yield q.put(2);
          finished = true;
        });
        yield started.wait();
        assert.equal(finished, false);
        yield putter;
        assert.equal(finished, true);
        assert.equal(q.getNowait(), 2);
      }));

    test("get() takes an item waiting putters put (CPython test_get_with_waiting_putters)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<string>(1);
        spawn(style, function* () {
          yield q.put("a");
        });
        spawn(style, function* () {
          yield q.put("b");
        });
        assert.equal(yield q.get(), "a");
        assert.equal(yield q.get(), "b");
      }));

    test("a waiting getter takes the item put() adds (CPython test_put_with_waiting_getters)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<string>();
        const t = spawn(style, function* () {
          return yield q.get();
        });
        yield* settle(1);
        yield q.put("a");
        assert.equal(yield t, "a");
      }));

    test("a producer and a consumer on a queue of one never stall (CPython test_why_are_getters_waiting)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(1);
        const got: unknown[] = [];
        const consumer = spawn(style, function* () {
          for (let i = 0; i < 5; i++) got.push(yield q.get());
        });
        const producer = spawn(style, function* () {
          for (let i = 0; i < 5; i++) yield q.put(i);
        });
        yield allDone([consumer, producer]);
        assert.deepEqual(got, [0, 1, 2, 3, 4]);
      }));

    test("putters blocked on a full queue all get in as it drains (CPython test_why_are_putters_waiting)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(2);
        const getter = spawn(style, function* () {
          yield asyncio.sleep(0);
          const n = q.qsize();
          for (let i = 0; i < n; i++) q.getNowait();
        });
        const putters = [0, 1, 2, 3].map((i) =>
          spawn(style, function* () {
            yield q.put(i);
          }),
        );
        yield allDone([getter, ...putters]);
        for (const t of putters) assert.equal(outcome(t), undefined);
        assert.equal(q.qsize(), 2);
      }));
  });

  describe(`Queue cancellation (${style})`, () => {
    test("a cancelled getter does not swallow the next item (CPython test_get_cancelled_race)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<string>();
        const t1 = spawn(style, function* () {
          return yield q.get();
        });
        const t2 = spawn(style, function* () {
          return yield q.get();
        });
        yield* settle(1);
        t1.cancel();
        yield* settle(1);
        assert.equal(t1.done(), true);
        yield q.put("a");
        yield* settle(1);
        assert.equal(yield t2, "a");
      }));

    test("a getter cancelled while an item arrives loses no item (CPython test_get_cancel_drop_one_pending_reader)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>();
        let reader = spawn(style, function* () {
          return yield q.get();
        });
        yield* settle(1);
        q.putNowait(1);
        q.putNowait(2);
        reader.cancel();
        yield allDone([reader]);
        if (reader.cancelled()) {
          // Try again: the item the cancelled reader was woken for is still there.
          reader = spawn(style, function* () {
            return yield q.get();
          });
          yield allDone([reader]);
        }
        assert.equal(reader.result(), 1); // 2 would mean 1 was dropped
        assert.equal(q.getNowait(), 2);
      }));

    test("a getter cancelled while items arrive passes the wake-up on (CPython test_get_cancel_drop_many_pending_readers)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>();
        const [reader1, reader2, reader3] = [0, 1, 2].map(() =>
          spawn(style, function* () {
            return yield q.get();
          }),
        ) as [asyncio.Task<unknown>, asyncio.Task<unknown>, asyncio.Task<unknown>];
        yield* settle(1);
        q.putNowait(1);
        q.putNowait(2);
        reader1.cancel();
        yield allDone([reader1, reader3]);
        assert.equal(reader1.cancelled(), true);
        yield allDone([reader2]);
        assert.deepEqual(new Set([reader2.result(), reader3.result()]), new Set([1, 2]));
        assert.equal(q.empty(), true);
      }));

    test("a putter cancelled after room appeared inserts nothing (CPython test_put_cancel_drop)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(1);
        q.putNowait(1);
        let writer = spawn(style, function* () {
          yield q.put(2);
        });
        yield* settle(1);
        assert.equal(q.getNowait(), 1);
        writer.cancel();
        yield allDone([writer]);
        if (writer.cancelled()) {
          writer = spawn(style, function* () {
            yield q.put(2);
          });
          yield allDone([writer]);
        }
        assert.equal(q.getNowait(), 2);
        assert.equal(q.qsize(), 0);
      }));

    test("a cancelled putter passes the room on (CPython test_put_cancelled_race)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<string>(1);
        const putA = spawn(style, function* () {
          yield q.put("a");
        });
        const putB = spawn(style, function* () {
          yield q.put("b");
        });
        const putC = spawn(style, function* () {
          yield q.put("X");
        });
        yield* settle(1);
        assert.equal(putA.done(), true);
        assert.equal(putB.done(), false);
        putC.cancel();
        yield* settle(1);
        assert.equal(putC.done(), true);
        assert.equal(q.getNowait(), "a");
        yield* settle(1);
        assert.equal(q.getNowait(), "b");
        yield putB;
        assert.equal(q.empty(), true);
      }));

    test("a putter woken by getNowait() and then cancelled wakes the next putter", () =>
      run(style, function* () {
        const q = new asyncio.Queue<string>(1);
        q.putNowait("first");
        const p1 = spawn(style, function* () {
          yield q.put("p1");
        });
        const p2 = spawn(style, function* () {
          yield q.put("p2");
        });
        yield* settle(1);
        assert.equal(q.getNowait(), "first"); // wakes p1
        p1.cancel(); // ...cancelled before it runs
        yield allDone([p1, p2]);
        assert.equal(p1.cancelled(), true);
        assert.equal(outcome(p2), undefined);
        assert.deepEqual([q.getNowait(), q.qsize()], ["p2", 0]);
      }));

    test("a task with a pending cancellation still gets a ready item; the cancellation comes at its next wait (as in CPython)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<string>();
        q.putNowait("ready");
        const log: string[] = [];
        const task = spawn(style, function* () {
          (asyncio.currentTask() as asyncio.Task<unknown>).cancel(); // pending: the task is running
          log.push((yield q.get()) as string); // completes without waiting
          try {
            yield q.get(); // would wait: cancelled here
          } catch (error) {
            log.push(error instanceof asyncio.CancelledError ? "cancelled" : String(error));
            throw error;
          }
        });
        yield allDone([task]);
        assert.deepEqual(log, ["ready", "cancelled"]);
        assert.equal(task.cancelled(), true);
        assert.equal(inspect(q), "<Queue maxsize=0 tasks=1>");
      }));

    test("a timed-out get() leaves no getter behind (CPython test_cancelled_getters_not_being_held_in_self_getters)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(5);
        const getter = spawn(style, function* () {
          return yield q.get();
        });
        cancelAfter(getter, 0.1);
        yield allDone([getter]);
        assert.equal(getter.cancelled(), true);
        assert.equal(inspect(q), "<Queue maxsize=5>");
      }));

    test("a cancelled put() leaves no putter behind, even once woken (CPython test_cancelled_puts_not_being_held_in_self_putters)", () =>
      run(style, function* () {
        const q = new asyncio.Queue<number>(1);
        q.putNowait(1);
        const putTask = spawn(style, function* () {
          yield q.put(1);
        });
        yield* settle(1);
        assert.equal(inspect(q), "<Queue maxsize=1 _queue=[1] _putters[1] tasks=1>");
        putTask.cancel();
        yield allDone([putTask]);
        assert.equal(putTask.cancelled(), true);
        assert.equal(inspect(q), "<Queue maxsize=1 _queue=[1] tasks=1>");

        // Woken by getNowait() (which takes it out of line), then cancelled.
        const putTask2 = spawn(style, function* () {
          yield q.put(1);
        });
        yield* settle(1);
        q.getNowait();
        putTask2.cancel();
        yield allDone([putTask2]);
        assert.equal(putTask2.cancelled(), true);
        assert.equal(inspect(q), "<Queue maxsize=1 tasks=1>");
      }));
  });

  describe(`LifoQueue and PriorityQueue (${style})`, () => {
    test("LifoQueue: last in, first out", () =>
      run(style, function* () {
        const q = new asyncio.LifoQueue<number>();
        for (const i of [1, 3, 2]) yield q.put(i);
        const items: unknown[] = [];
        for (let i = 0; i < 3; i++) items.push(yield q.get());
        assert.deepEqual(items, [2, 3, 1]);
      }));

    test("PriorityQueue: lowest first", () =>
      run(style, function* () {
        const q = new asyncio.PriorityQueue<number>();
        for (const i of [1, 3, 2]) yield q.put(i);
        const items: unknown[] = [];
        for (let i = 0; i < 3; i++) items.push(yield q.get());
        assert.deepEqual(items, [1, 2, 3]);
      }));

    test("PriorityQueue: a waiting getter gets the lowest of the items put meanwhile", () =>
      run(style, function* () {
        const q = new asyncio.PriorityQueue<[number, string]>();
        const getter = spawn(style, function* () {
          yield q.get(); // woken by the first put, runs after all three
          return yield q.get();
        });
        yield* settle(1);
        q.putNowait([5, "e"]);
        q.putNowait([1, "a"]);
        q.putNowait([3, "c"]);
        assert.deepEqual(yield getter, [3, "c"]);
      }));
  });
}

describe("PriorityQueue order", () => {
  test("the default order: numbers, strings and arrays as Python tuples", () => {
    const q = new asyncio.PriorityQueue<unknown>();
    const items = [[2, "b"], [1, "z"], [2, "a"], [1, "z", 0], [0], [1n, "y"], [true, "x"]];
    for (const item of items) q.putNowait(item);
    const out: unknown[] = [];
    while (!q.empty()) out.push(q.getNowait());
    // true == 1 and 1n == 1, as in Python: ties are broken by the next element.
    assert.deepEqual(out, [[0], [true, "x"], [1n, "y"], [1, "z"], [1, "z", 0], [2, "a"], [2, "b"]]);
  });

  test("strings compare by code point, as in Python", () => {
    const q = new asyncio.PriorityQueue<string>();
    for (const s of ["b", "a", "\u{1F600}", "\uFF01", "ab"]) q.putNowait(s);
    const out: string[] = [];
    while (!q.empty()) out.push(q.getNowait());
    assert.deepEqual(out, ["a", "ab", "b", "\uFF01", "\u{1F600}"]); // sorted() in Python
  });

  test("items that cannot be ordered raise a clear TypeError", () => {
    const q = new asyncio.PriorityQueue<unknown>();
    q.putNowait({ a: 1 });
    assert.throws(
      () => q.putNowait({ b: 2 }),
      (error: unknown) => error instanceof TypeError && /'<' not supported.*compare/.test(error.message),
    );
    const mixed = new asyncio.PriorityQueue<unknown>();
    mixed.putNowait(1);
    assert.throws(() => mixed.putNowait("1"), /'<' not supported between instances of 'string' and 'number'/);
    const tuples = new asyncio.PriorityQueue<unknown>();
    const same = { task: "x" };
    tuples.putNowait([1, same]);
    tuples.putNowait([1, same]); // identical elements are equal, as in Python
    tuples.putNowait([0, { task: "y" }]); // decided by the first element
    assert.throws(() => tuples.putNowait([1, { task: "z" }]), TypeError);
  });

  test("a compare option orders anything", () => {
    interface Job {
      deadline: number;
      name: string;
    }
    const q = new asyncio.PriorityQueue<Job>(0, { compare: (a, b) => a.deadline - b.deadline });
    q.putNowait({ deadline: 3, name: "c" });
    q.putNowait({ deadline: 1, name: "a" });
    q.putNowait({ deadline: 2, name: "b" });
    assert.deepEqual([q.getNowait().name, q.getNowait().name, q.getNowait().name], ["a", "b", "c"]);
    assert.throws(() => new asyncio.PriorityQueue(0, { compare: 1 as unknown as () => number }), TypeError);
  });

  test("items of equal priority come out in the order Python's heapq gives", () => {
    // Expected values computed with CPython's heapq on the same pushes and pops.
    const q = new asyncio.PriorityQueue<[number, number]>(0, { compare: (a, b) => a[0] - b[0] });
    const priorities = [3, 1, 2, 1, 3, 2, 1, 1, 2, 3, 1, 2];
    for (const [i, p] of priorities.entries()) q.putNowait([p, i]);
    const out: [number, number][] = [];
    for (let i = 0; i < 3; i++) out.push(q.getNowait());
    q.putNowait([1, 100]);
    q.putNowait([2, 101]);
    while (!q.empty()) out.push(q.getNowait());
    assert.deepEqual(out, [
      [1, 1],
      [1, 6],
      [1, 3],
      [1, 10],
      [1, 7],
      [1, 100],
      [2, 2],
      [2, 11],
      [2, 5],
      [2, 101],
      [2, 8],
      [3, 0],
      [3, 4],
      [3, 9],
    ]);
  });
});

for (const style of STYLES) {
  const settle = (n = 1) => settleFor(style, n);

  for (const QueueClass of QUEUE_CLASSES) {
    describe(`${QueueClass.name}: taskDone, join and shutdown (${style})`, () => {
      test("taskDone() more often than items were put raises ValueError", () => {
        const q = new QueueClass<number>();
        assert.throws(() => q.taskDone(), asyncio.ValueError);
        q.putNowait(1);
        q.getNowait();
        q.taskDone();
        assert.throws(() => q.taskDone(), asyncio.ValueError);
      });

      test("join() returns once every item is marked done (CPython test_task_done)", () =>
        run(style, function* () {
          const q = new QueueClass<number>();
          for (let i = 0; i < 100; i++) q.putNowait(i);
          let accumulator = 0;
          let running = true;
          const workers = [0, 1].map(() =>
            spawn(style, function* () {
              while (running) {
                const item = (yield q.get()) as number;
                accumulator += item;
                q.taskDone();
              }
            }),
          );
          yield q.join();
          assert.equal(accumulator, 4950);
          running = false;
          for (let i = 0; i < workers.length; i++) q.putNowait(0);
          yield allDone(workers);
          for (const w of workers) assert.equal(outcome(w), undefined);
        }));

      test("join() on an empty queue returns at once", () =>
        run(style, function* () {
          const q = new QueueClass<number>();
          yield q.join();
          yield q.join();
        }));

      test("shutdown of an empty queue: blocked and later get()/put() raise QueueShutDown (CPython test_shutdown_empty)", () =>
        run(style, function* () {
          const q = new QueueClass<string>();
          const getTask = spawn(style, function* () {
            return yield q.get();
          });
          yield* settle(1);
          q.shutdown(false);
          assert.equal(inspect(q), `<${QueueClass.name} maxsize=0 shutdown>`);
          assert.equal(q.qsize(), 0);
          yield q.join();
          yield* settle(1);
          assert.equal(getTask.done(), true);
          assert.ok((outcome(getTask) as { error: unknown }).error instanceof asyncio.QueueShutDown);
          assert.ok((yield* caught(q.put("data"))) instanceof asyncio.QueueShutDown);
          assert.throws(() => q.putNowait("data"), asyncio.QueueShutDown);
          assert.ok((yield* caught(q.get())) instanceof asyncio.QueueShutDown);
          assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
        }));

      test("shutdown of a full queue: the items left can still be got (CPython test_shutdown_nonempty)", () =>
        run(style, function* () {
          const q = new QueueClass<string>(1);
          q.putNowait("data");
          const joinTask = spawn(style, function* () {
            yield q.join();
          });
          const putTask = spawn(style, function* () {
            yield q.put("data2");
          });
          yield* settle(1);
          assert.equal(putTask.done(), false);
          q.shutdown(false);
          assert.equal(q.qsize(), 1);
          yield* settle(1);
          assert.equal(putTask.done(), true);
          assert.ok((outcome(putTask) as { error: unknown }).error instanceof asyncio.QueueShutDown);
          assert.equal(yield q.get(), "data");
          yield* settle(1);
          assert.equal(joinTask.done(), false);
          assert.ok((yield* caught(q.put("data"))) instanceof asyncio.QueueShutDown);
          assert.throws(() => q.putNowait("data"), asyncio.QueueShutDown);
          assert.ok((yield* caught(q.get())) instanceof asyncio.QueueShutDown);
          assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
          q.taskDone();
          yield* settle(1);
          assert.equal(joinTask.done(), true);
          assert.throws(() => q.taskDone(), asyncio.ValueError);
        }));

      test("immediate shutdown drops the items and releases join() (CPython test_shutdown_immediate)", () =>
        run(style, function* () {
          const q = new QueueClass<string>();
          q.putNowait("data");
          const joinTask = spawn(style, function* () {
            yield q.join();
          });
          q.shutdown(true);
          assert.equal(q.qsize(), 0);
          yield* settle(1);
          assert.equal(joinTask.done(), true);
          assert.ok((yield* caught(q.put("data"))) instanceof asyncio.QueueShutDown);
          assert.ok((yield* caught(q.get())) instanceof asyncio.QueueShutDown);
          assert.throws(() => q.getNowait(), asyncio.QueueShutDown);
          assert.throws(() => q.taskDone(), asyncio.ValueError);
        }));

      test("immediate shutdown with items taken but not done keeps join() waiting (CPython test_shutdown_immediate_with_unfinished)", () =>
        run(style, function* () {
          const q = new QueueClass<string>();
          q.putNowait("data");
          q.putNowait("data");
          const joinTask = spawn(style, function* () {
            yield q.join();
          });
          assert.equal(yield q.get(), "data");
          q.shutdown(true);
          assert.equal(q.qsize(), 0);
          yield* settle(1);
          assert.equal(joinTask.done(), false);
          assert.ok((yield* caught(q.put("data"))) instanceof asyncio.QueueShutDown);
          assert.ok((yield* caught(q.get())) instanceof asyncio.QueueShutDown);
          q.taskDone();
          assert.throws(() => q.taskDone(), asyncio.ValueError);
          yield* settle(1);
          assert.equal(joinTask.done(), true);
        }));

      test("immediate shutdown wakes blocked getters and putters with QueueShutDown", () =>
        run(style, function* () {
          const empty = new QueueClass<number>();
          const getters = [0, 1].map(() =>
            spawn(style, function* () {
              return yield empty.get();
            }),
          );
          const full = new QueueClass<number>(1);
          full.putNowait(1);
          const putters = [0, 1].map((i) =>
            spawn(style, function* () {
              yield full.put(i);
            }),
          );
          yield* settle(1);
          empty.shutdown(true);
          full.shutdown(true);
          yield allDone([...getters, ...putters]);
          for (const t of [...getters, ...putters]) {
            assert.ok((outcome(t) as { error: unknown }).error instanceof asyncio.QueueShutDown);
          }
          assert.equal(full.qsize(), 0);
        }));
    });
  }

  describe(`iterating over a queue (${style})`, () => {
    test(
      style === "native"
        ? "for await takes items until the queue is shut down and drained"
        : "a generator consumer loops on get() until QueueShutDown",
      () =>
        run(style, function* () {
          const q = new asyncio.Queue<number>(2);
          const seen: number[] = [];
          const consumer =
            style === "native"
              ? asyncio.createTask(async () => {
                  for await (const item of q) {
                    seen.push(item);
                    q.taskDone();
                  }
                  return "ended";
                })
              : asyncio.createTask(function* () {
                  for (;;) {
                    let item: number;
                    try {
                      item = yield* q.get();
                    } catch (error) {
                      if (error instanceof asyncio.QueueShutDown) return "ended";
                      throw error;
                    }
                    seen.push(item);
                    q.taskDone();
                  }
                });
          for (let i = 0; i < 5; i++) yield q.put(i);
          yield q.join();
          q.putNowait(5);
          q.shutdown();
          assert.equal(yield consumer, "ended");
          assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
        }),
    );
  });
}

describe("async iteration (an addition to asyncio)", () => {
  test("cancelling a task blocked in for await ends it cancelled and loses no item", () =>
    runVirtual(async () => {
      const q = new asyncio.Queue<string>();
      const seen: string[] = [];
      const consumer = asyncio.createTask(async () => {
        for await (const item of q) seen.push(item);
      });
      await asyncio.sleep(0);
      assert.equal(inspect(q), "<Queue maxsize=0 _getters[1]>");
      q.putNowait("x"); // wakes the consumer...
      consumer.cancel(); // ...which is cancelled before it takes the item
      await allDone([consumer]);
      assert.equal(consumer.cancelled(), true);
      assert.deepEqual(seen, []);
      assert.equal(q.getNowait(), "x");
    }));

  test("the iterator yields items, then done once the queue is shut down and empty", () =>
    runVirtual(async () => {
      const q = new asyncio.Queue<string>();
      const iterator = q[Symbol.asyncIterator]();
      q.putNowait("a");
      q.shutdown();
      assert.deepEqual(await iterator.next(), { value: "a", done: false });
      assert.deepEqual(await iterator.next(), { value: undefined, done: true });
      assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    }));

  test("an error other than QueueShutDown ends the loop by throwing", async () => {
    const q = new asyncio.Queue<string>();
    await runVirtual(async () => {
      // Waiting binds the queue to this loop.
      const blocked = asyncio.createTask(async () => q.get());
      await asyncio.sleep(0);
      blocked.cancel();
      await allDone([blocked]);
    });
    await runVirtual(async () => {
      const consume = async () => {
        for await (const _ of q) assert.fail("no item");
      };
      await assert.rejects(consume(), asyncio.RuntimeError);
    });
  });
});
