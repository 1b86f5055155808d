/**
 * Unit tests of `Lock`, `Event`, `Condition`, `Semaphore`,
 * `BoundedSemaphore` and `Barrier`: each rule of CPython 3.13's
 * `asyncio.locks`, including its regression tests for lost wake-ups and
 * starvation, run in both coroutine styles (see `sync_helpers.ts`), on the
 * virtual-time loop.
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

for (const style of STYLES) {
  const settle = (n = 1) => settleFor(style, n);

  describe(`Lock (${style})`, () => {
    test("repr shows the state and the number of waiters", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        assert.equal(inspect(lock), "<Lock [unlocked]>");
        yield lock.acquire();
        assert.equal(inspect(lock), "<Lock [locked]>");
        const waiters = [
          spawn(style, function* () {
            yield lock.acquire();
          }),
          spawn(style, function* () {
            yield lock.acquire();
          }),
        ];
        yield* settle(1);
        assert.equal(inspect(lock), "<Lock [locked, waiters:2]>");
        assert.equal(String(lock), "<Lock [locked, waiters:2]>");
        for (const task of waiters) task.cancel();
        yield allDone(waiters);
        assert.equal(inspect(lock), "<Lock [locked]>");
      }));

    test("acquire() returns true and locks; release() unlocks", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        assert.equal(lock.locked(), false);
        assert.equal(yield lock.acquire(), true);
        assert.equal(lock.locked(), true);
        lock.release();
        assert.equal(lock.locked(), false);
      }));

    test("release() of an unlocked lock raises RuntimeError", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        assert.throws(() => lock.release(), asyncio.RuntimeError);
        yield lock.acquire();
        lock.release();
        assert.throws(() => lock.release(), asyncio.RuntimeError);
      }));

    test("waiters acquire in FIFO order, one per release (CPython test_acquire)", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        const result: number[] = [];
        assert.equal(yield lock.acquire(), true);
        const acquirer = (n: number) =>
          spawn(style, function* () {
            if (yield lock.acquire()) result.push(n);
            return true;
          });
        const t1 = acquirer(1);
        const t2 = acquirer(2);
        yield* settle(1);
        assert.deepEqual(result, []);
        lock.release();
        yield* settle(1);
        assert.deepEqual(result, [1]);
        yield* settle(1);
        assert.deepEqual(result, [1]);
        const t3 = acquirer(3);
        lock.release();
        yield* settle(1);
        assert.deepEqual(result, [1, 2]);
        lock.release();
        yield* settle(1);
        assert.deepEqual(result, [1, 2, 3]);
        for (const t of [t1, t2, t3]) assert.equal(t.result(), true);
      }));

    test("a cancelled acquire() leaves no waiter behind", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        yield lock.acquire();
        const task = spawn(style, function* () {
          yield lock.acquire();
        });
        asyncio.getRunningLoop().callSoon(() => task.cancel());
        yield allDone([task]);
        assert.equal(task.cancelled(), true);
        assert.equal(inspect(lock), "<Lock [locked]>");
        lock.release();
        assert.equal(lock.locked(), false);
      }));

    test("a newcomer does not overtake a woken waiter that has not run yet", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        const order: string[] = [];
        yield lock.acquire();
        const first = spawn(style, function* () {
          yield lock.acquire();
          order.push("first");
          lock.release();
        });
        yield* settle(1);
        lock.release(); // wakes `first`, which has not run yet
        assert.equal(lock.locked(), false);
        const newcomer = spawn(style, function* () {
          yield lock.acquire();
          order.push("newcomer");
          lock.release();
        });
        yield allDone([first, newcomer]);
        assert.deepEqual(order, ["first", "newcomer"]);
      }));

    test("release while the first waiter is being cancelled wakes the next (CPython test_cancel_race)", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        const lockit = (blocker: asyncio.Future<void> | null) =>
          spawn(style, function* () {
            yield lock.acquire();
            try {
              if (blocker !== null) yield blocker;
            } finally {
              lock.release();
            }
          });
        const fa = asyncio.getRunningLoop().createFuture<void>();
        const ta = lockit(fa);
        yield* settle(1);
        assert.equal(lock.locked(), true);
        const tb = lockit(null);
        yield* settle(1);
        assert.match(inspect(lock), /waiters:1\]/);
        const tc = lockit(null);
        yield* settle(1);
        assert.match(inspect(lock), /waiters:2\]/);
        fa.setResult();
        tb.cancel();
        yield* settle(1);
        assert.equal(lock.locked(), false);
        assert.equal(ta.done(), true);
        assert.equal(tb.cancelled(), true);
        yield tc;
        assert.equal(lock.locked(), false);
      }));

    test("cancel and release at once take the lock only once (CPython test_cancel_release_race, bpo-32734)", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        let lockCount = 0;
        let callCount = 0;
        const lockit = () =>
          spawn(style, function* () {
            callCount += 1;
            yield lock.acquire();
            lockCount += 1;
          });
        yield lock.acquire();
        const t1 = lockit();
        const t2 = lockit();
        const t3 = lockit();
        yield* settle(1);
        asyncio.getRunningLoop().callSoon(() => {
          t1.cancel();
          lock.release();
        });
        yield allDone([t1]);
        assert.equal(t1.cancelled(), true);
        yield* settle(1);
        assert.equal(lockCount, 1);
        assert.equal(callCount, 3);
        assert.equal(t2.done(), true);
        t3.cancel();
        yield allDone([t3]);
        assert.equal(t3.cancelled(), true);
      }));

    test("a first waiter cancelled after release passes the lock on (CPython test_finished_waiter_cancelled)", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        yield lock.acquire();
        const tb = spawn(style, function* () {
          yield lock.acquire();
        });
        yield* settle(1);
        assert.match(inspect(lock), /waiters:1\]/);
        const tc = spawn(style, function* () {
          return yield lock.acquire();
        });
        tb.cancel();
        lock.release();
        yield* settle(2);
        assert.equal(lock.locked(), true);
        assert.equal(tb.cancelled(), true);
        yield tc;
        assert.equal(outcome(tc), true);
      }));

    test("a waiter cancelled after it was woken passes the wake-up to the next one", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        yield lock.acquire();
        const tb = spawn(style, function* () {
          yield lock.acquire();
        });
        const tc = spawn(style, function* () {
          return yield lock.acquire();
        });
        yield* settle(1);
        lock.release(); // wakes tb
        tb.cancel(); // ...which is cancelled before it runs
        yield allDone([tb, tc]);
        assert.equal(tb.cancelled(), true);
        assert.equal(outcome(tc), true);
        assert.equal(inspect(lock), "<Lock [locked]>");
      }));

    test("a lock cannot be used from a second loop", async () => {
      const lock = new asyncio.Lock();
      await run(style, function* () {
        yield lock.acquire();
        const waiter = spawn(style, function* () {
          yield lock.acquire();
        });
        yield* settle(1);
        waiter.cancel();
        yield allDone([waiter]);
        lock.release();
      });
      await run(style, function* () {
        yield lock.acquire(); // free: the fast path needs no loop
        let caught: unknown = null;
        try {
          yield lock.acquire(); // waiting binds to a loop: not this one
        } catch (error) {
          caught = error;
        }
        assert.ok(caught instanceof asyncio.RuntimeError);
        assert.match(String((caught as Error).message), /bound to a different event loop/);
      });
    });
  });

  describe(`Event (${style})`, () => {
    test("repr shows set/unset and waiters", () =>
      run(style, function* () {
        const ev = new asyncio.Event();
        assert.equal(inspect(ev), "<Event [unset]>");
        const waiter = spawn(style, function* () {
          yield ev.wait();
        });
        yield* settle(1);
        assert.equal(inspect(ev), "<Event [unset, waiters:1]>");
        ev.set();
        yield waiter;
        assert.equal(inspect(ev), "<Event [set]>");
      }));

    test("set() wakes every waiter; a task started later runs first (CPython test_wait)", () =>
      run(style, function* () {
        const ev = new asyncio.Event();
        assert.equal(ev.isSet(), false);
        const result: number[] = [];
        const waiter = (n: number) =>
          spawn(style, function* () {
            if (yield ev.wait()) result.push(n);
            return null;
          });
        const t1 = waiter(1);
        const t2 = waiter(2);
        yield* settle(1);
        assert.deepEqual(result, []);
        const t3 = waiter(3);
        ev.set();
        yield* settle(1);
        // A generator task runs its first step before the woken ones, as in
        // CPython. A native task awaiting an already set event resumes in a
        // later microtask than the woken ones: it comes last.
        assert.deepEqual(result, style === "generator" ? [3, 1, 2] : [1, 2, 3]);
        for (const t of [t1, t2, t3]) assert.equal(t.result(), null);
      }));

    test("wait() on a set event returns true at once", () =>
      run(style, function* () {
        const ev = new asyncio.Event();
        ev.set();
        assert.equal(yield ev.wait(), true);
      }));

    test("a cancelled wait() leaves no waiter", () =>
      run(style, function* () {
        const ev = new asyncio.Event();
        const task = spawn(style, function* () {
          yield ev.wait();
        });
        asyncio.getRunningLoop().callSoon(() => task.cancel());
        yield allDone([task]);
        assert.equal(task.cancelled(), true);
        assert.equal(inspect(ev), "<Event [unset]>");
      }));

    test("clear() after set() still lets woken waiters return (CPython test_clear_with_waiters)", () =>
      run(style, function* () {
        const ev = new asyncio.Event();
        const result: number[] = [];
        const t = spawn(style, function* () {
          if (yield ev.wait()) result.push(1);
          return true;
        });
        yield* settle(1);
        ev.set();
        ev.clear();
        assert.equal(ev.isSet(), false);
        ev.set();
        ev.set();
        assert.equal(inspect(ev), "<Event [set, waiters:1]>");
        yield* settle(1);
        assert.deepEqual(result, [1]);
        assert.equal(inspect(ev), "<Event [set]>");
        assert.equal(t.result(), true);
        ev.clear();
        assert.equal(ev.isSet(), false);
      }));
  });

  describe(`Condition (${style})`, () => {
    test("wait() releases the lock and returns holding it, in notify order (CPython test_wait)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        const result: number[] = [];
        const waiter = (n: number) =>
          spawn(style, function* () {
            yield cond.acquire();
            if (yield cond.wait()) result.push(n);
            return true;
          });
        const tasks = [waiter(1), waiter(2), waiter(3)];
        yield* settle(1);
        assert.deepEqual(result, []);
        assert.equal(cond.locked(), false);
        assert.equal(yield cond.acquire(), true);
        cond.notify();
        yield* settle(1);
        assert.deepEqual(result, []);
        assert.equal(cond.locked(), true);
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, [1]);
        assert.equal(cond.locked(), true);
        cond.notify(2);
        yield* settle(1);
        assert.deepEqual(result, [1]);
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, [1, 2]);
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, [1, 2, 3]);
        assert.equal(cond.locked(), true);
        for (const t of tasks) assert.equal(t.result(), true);
      }));

    test("a cancelled wait() re-acquires the lock before raising (CPython test_wait_cancel)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        yield cond.acquire();
        const wait = spawn(style, function* () {
          yield cond.wait();
        });
        asyncio.getRunningLoop().callSoon(() => wait.cancel());
        yield allDone([wait]);
        assert.equal(wait.cancelled(), true);
        assert.equal(inspect(cond), "<Condition [locked]>");
      }));

    test("cancel after notify while the lock is contested: wait() still ends holding the lock (CPython test_wait_cancel_contested)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        yield cond.acquire();
        assert.equal(cond.locked(), true);
        const waitTask = spawn(style, function* () {
          yield cond.wait();
        });
        yield* settle(1);
        assert.equal(cond.locked(), false);
        yield cond.acquire();
        assert.equal(cond.locked(), true);
        cond.notify();
        const loop = asyncio.getRunningLoop();
        loop.callSoon(() => waitTask.cancel());
        loop.callSoon(() => cond.release());
        yield allDone([waitTask]);
        assert.equal(cond.locked(), true);
      }));

    test("a task cancelled while re-acquiring after notify ends cancelled (CPython test_wait_cancel_after_notify, bpo-32841)", () =>
      run(style, function* () {
        let waited = false;
        const cond = new asyncio.Condition();
        const waiter = spawn(style, function* () {
          yield cond.acquire();
          try {
            waited = true;
            yield cond.wait();
          } finally {
            cond.release();
          }
        });
        yield* settle(1);
        yield cond.acquire();
        cond.notify();
        yield* settle(1);
        waiter.cancel();
        yield* settle(1);
        cond.release();
        yield allDone([waiter]);
        assert.equal(waiter.cancelled(), true);
        assert.equal(waited, true);
        assert.equal(cond.locked(), false);
      }));

    test("wait() and notify() without the lock raise RuntimeError", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        let caught: unknown = null;
        try {
          yield cond.wait();
        } catch (error) {
          caught = error;
        }
        assert.ok(caught instanceof asyncio.RuntimeError);
        assert.throws(() => cond.notify(), asyncio.RuntimeError);
        assert.throws(() => cond.notifyAll(), asyncio.RuntimeError);
      }));

    test("waitFor(predicate) waits until the predicate holds and returns its value (CPython test_wait_for)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        let presult = false;
        const result: number[] = [];
        const t = spawn(style, function* () {
          yield cond.acquire();
          if (yield cond.waitFor(() => presult)) {
            result.push(1);
            cond.release();
          }
          return true;
        });
        yield* settle(1);
        yield cond.acquire();
        cond.notify();
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, []);
        presult = true;
        yield cond.acquire();
        cond.notify();
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, [1]);
        assert.equal(t.result(), true);
      }));

    test("waitFor() returns a truthy predicate value at once, even without the lock", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        assert.deepEqual(yield cond.waitFor(() => [1, 2, 3]), [1, 2, 3]);
        let caught: unknown = null;
        try {
          yield cond.waitFor(() => false);
        } catch (error) {
          caught = error;
        }
        assert.ok(caught instanceof asyncio.RuntimeError);
      }));

    test("notify(n) wakes n waiters, notifyAll() every one (CPython test_notify, test_notify_all)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        const result: number[] = [];
        const waiter = (n: number) =>
          spawn(style, function* () {
            yield cond.acquire();
            if (yield cond.wait()) {
              result.push(n);
              cond.release();
            }
            return true;
          });
        const tasks = [waiter(1), waiter(2), waiter(3), waiter(4)];
        yield* settle(1);
        yield cond.acquire();
        cond.notify(1);
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, [1]);
        yield cond.acquire();
        cond.notify(1);
        cond.notify(1);
        cond.release();
        yield* settle(1);
        assert.deepEqual(result, [1, 2, 3]);
        yield cond.acquire();
        cond.notifyAll();
        cond.release();
        yield allDone(tasks);
        assert.deepEqual(result, [1, 2, 3, 4]);
      }));

    test("repr shows the lock state and the waiters", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        assert.equal(inspect(cond), "<Condition [unlocked]>");
        yield cond.acquire();
        assert.equal(inspect(cond), "<Condition [locked]>");
        const tasks = [0, 1].map(() =>
          spawn(style, function* () {
            yield cond.acquire();
            yield cond.wait();
            cond.release();
          }),
        );
        cond.release();
        yield* settle(1);
        assert.equal(inspect(cond), "<Condition [unlocked, waiters:2]>");
        yield cond.acquire();
        cond.notifyAll();
        cond.release();
        yield allDone(tasks);
      }));

    test("a Condition shares an explicit lock (CPython test_explicit_lock)", () =>
      run(style, function* () {
        const lock = new asyncio.Lock();
        const cond = new asyncio.Condition(lock);
        assert.equal(cond.locked(), false);
        yield cond.acquire();
        assert.equal(lock.locked(), true);
        cond.release();
        yield lock.acquire();
        assert.equal(cond.locked(), true);
        lock.release();
        assert.throws(() => new asyncio.Condition({} as asyncio.Lock), TypeError);
      }));

    test("a timeout in wait() raises out of the block holding the lock (CPython test_timeout_in_block)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        const task = spawn(style, function* () {
          yield cond.acquire();
          try {
            yield cond.wait();
          } finally {
            assert.equal(cond.locked(), true);
            cond.release();
          }
        });
        cancelAfter(task, 0.5);
        yield allDone([task]);
        assert.equal(task.cancelled(), true);
        assert.equal(cond.locked(), false);
      }));

    test("the CancelledError received while waiting is re-raised unchanged (CPython test_cancelled_error_wakeup)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        let raised: unknown = null;
        const task = spawn(style, function* () {
          yield cond.acquire();
          try {
            yield cond.waitFor(() => false);
          } catch (error) {
            raised = error;
            throw error;
          } finally {
            cond.release();
          }
        });
        yield* settle(1);
        task.cancel("foo");
        yield allDone([task]);
        assert.ok(raised instanceof asyncio.CancelledError);
        assert.equal((raised as Error).message, "foo");
        assert.throws(
          () => task.result(),
          (error: unknown) => error instanceof asyncio.CancelledError && error.message === "foo",
        );
      }));

    test("the CancelledError received while re-acquiring is re-raised unchanged (CPython test_cancelled_error_re_aquire)", () =>
      run(style, function* () {
        const cond = new asyncio.Condition();
        let wake = false;
        let raised: unknown = null;
        const task = spawn(style, function* () {
          yield cond.acquire();
          try {
            yield cond.waitFor(() => wake);
          } catch (error) {
            raised = error;
            throw error;
          } finally {
            cond.release();
          }
        });
        yield* settle(1);
        yield cond.acquire();
        wake = true;
        cond.notify();
        yield* settle(1);
        // The task now waits to re-acquire the lock: cancel it there.
        task.cancel("foo");
        cond.release();
        yield allDone([task]);
        assert.equal(task.cancelled(), true);
        assert.ok(raised instanceof asyncio.CancelledError);
        assert.equal((raised as Error).message, "foo");
      }));

    for (const relock of [false, true]) {
      test(`a task cancelled as it is notified${relock ? " (while re-acquiring)" : ""} loses no wake-up (CPython test_cancelled_wakeup${relock ? "_relock" : ""})`, () =>
        run(style, function* () {
          const cond = new asyncio.Condition();
          let state = 0;
          const consumer = () =>
            spawn(style, function* () {
              yield cond.acquire();
              try {
                for (;;) {
                  yield cond.waitFor(() => state !== 0);
                  if (state < 0) return;
                  state -= 1;
                }
              } finally {
                cond.release();
              }
            });
          const consumers = [consumer(), consumer()];
          yield* settle(1);
          yield cond.acquire();
          state += 1;
          cond.notify(1);
          if (relock) yield* settle(1);
          consumers[0]?.cancel();
          // Wait for the item to be consumed, for at most 0.01 s (an asyncio.timeout()).
          const me = asyncio.currentTask() as asyncio.Task<unknown>;
          let timedOut = false;
          const timer = asyncio.getRunningLoop().callLater(0.01, () => {
            timedOut = true;
            me.cancel();
          });
          try {
            yield cond.waitFor(() => state === 0);
          } catch (error) {
            if (!(timedOut && error instanceof asyncio.CancelledError)) throw error;
            me.uncancel();
          }
          timer.cancel();
          assert.equal(cond.locked(), true);
          assert.equal(state, 0);
          state = -1;
          cond.notifyAll();
          cond.release();
          yield allDone(consumers);
          assert.equal(consumers[0]?.cancelled(), true);
          assert.equal(outcome(consumers[1] as asyncio.Task<unknown>), undefined);
        }));
    }
  });

  describe(`Semaphore (${style})`, () => {
    test("an initial value of 0 is locked; negative values raise ValueError", () => {
      assert.equal(new asyncio.Semaphore(0).locked(), true);
      assert.throws(() => new asyncio.Semaphore(-1), asyncio.ValueError);
      assert.throws(() => new asyncio.BoundedSemaphore(-1), asyncio.ValueError);
      assert.throws(() => new asyncio.Semaphore("2" as unknown as number), TypeError);
    });

    test("repr shows the value or locked, and the waiters", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore();
        assert.equal(inspect(sem), "<Semaphore [unlocked, value:1]>");
        yield sem.acquire();
        assert.equal(inspect(sem), "<Semaphore [locked]>");
        const tasks = [0, 1].map(() =>
          spawn(style, function* () {
            yield sem.acquire();
          }),
        );
        yield* settle(1);
        assert.equal(inspect(sem), "<Semaphore [locked, waiters:2]>");
        assert.equal(inspect(new asyncio.BoundedSemaphore(2)), "<BoundedSemaphore [unlocked, value:2]>");
        for (const task of tasks) task.cancel();
        yield allDone(tasks);
        assert.equal(inspect(sem), "<Semaphore [locked]>");
      }));

    test("acquire() takes units; release() wakes waiters in order (CPython test_acquire)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(3);
        const result: number[] = [];
        assert.equal(yield sem.acquire(), true);
        assert.equal(yield sem.acquire(), true);
        assert.equal(sem.locked(), false);
        const acquirer = (n: number) =>
          spawn(style, function* () {
            yield sem.acquire();
            result.push(n);
            return true;
          });
        const t1 = acquirer(1);
        const t2 = acquirer(2);
        const t3 = acquirer(3);
        yield* settle(1);
        assert.deepEqual(result, [1]);
        assert.equal(sem.locked(), true);
        assert.match(inspect(sem), /waiters:2\]/);
        const t4 = acquirer(4);
        sem.release();
        sem.release();
        yield* settle(1);
        assert.equal(result.length, 3);
        assert.equal(sem.locked(), true);
        assert.match(inspect(sem), /waiters:1\]/);
        assert.equal(t1.result(), true);
        assert.deepEqual(result, [1, 2, 3]);
        assert.equal(t4.done(), false);
        sem.release();
        yield allDone([t2, t3, t4]);
        assert.deepEqual(result, [1, 2, 3, 4]);
      }));

    test("a cancelled acquire() leaves no pending waiter", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore();
        yield sem.acquire();
        const task = spawn(style, function* () {
          yield sem.acquire();
        });
        asyncio.getRunningLoop().callSoon(() => task.cancel());
        yield allDone([task]);
        assert.equal(task.cancelled(), true);
        assert.equal(inspect(sem), "<Semaphore [locked]>");
        sem.release();
        assert.equal(inspect(sem), "<Semaphore [unlocked, value:1]>");
      }));

    test("waiters cancelled before a release do not swallow it (CPython test_acquire_cancel_before_awoken)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(0);
        const [t1, t2, t3, t4] = [0, 1, 2, 3].map(() =>
          spawn(style, function* () {
            yield sem.acquire();
          }),
        ) as [asyncio.Task<void>, asyncio.Task<void>, asyncio.Task<void>, asyncio.Task<void>];
        yield* settle(1);
        t1.cancel();
        t2.cancel();
        sem.release();
        yield* settle(2);
        assert.equal(t3.done(), true);
        assert.equal(t4.done(), false);
        t4.cancel();
        yield allDone([t1, t2, t3, t4]);
      }));

    test("a release while the first waiter is cancelled is not lost (CPython test_acquire_hang)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(0);
        const t1 = spawn(style, function* () {
          yield sem.acquire();
        });
        const t2 = spawn(style, function* () {
          yield sem.acquire();
        });
        yield* settle(1);
        t1.cancel();
        sem.release();
        yield* settle(2);
        assert.equal(sem.locked(), true);
        assert.equal(t2.done(), true);
        assert.equal(t1.cancelled(), true);
      }));

    test("a woken waiter cancelled before it runs gives its unit back (CPython test_acquire_no_hang)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(1);
        let t2: asyncio.Task<void> | null = null;
        const t1 = spawn(style, function* () {
          yield sem.acquire();
          try {
            yield* settle(1);
            t2?.cancel();
          } finally {
            sem.release();
          }
        });
        t2 = spawn(style, function* () {
          yield sem.acquire();
          try {
            assert.fail("t2 must be cancelled before it holds the semaphore");
          } finally {
            sem.release();
          }
        });
        yield allDone([t1, t2]);
        assert.equal(outcome(t1), undefined);
        assert.equal(t2.cancelled(), true);
        assert.equal(inspect(sem), "<Semaphore [unlocked, value:1]>");
        assert.equal(yield sem.acquire(), true);
      }));

    test("BoundedSemaphore.release() above the initial value raises ValueError", () =>
      run(style, function* () {
        const sem = new asyncio.BoundedSemaphore();
        assert.throws(() => sem.release(), asyncio.ValueError);
        yield sem.acquire();
        sem.release();
        assert.throws(() => sem.release(), asyncio.ValueError);
        const sem2 = new asyncio.BoundedSemaphore(2);
        yield sem2.acquire();
        sem2.release();
        assert.throws(() => sem2.release(), asyncio.ValueError);
      }));

    test("tasks alternate in FIFO order (CPython test_acquire_fifo_order)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(1);
        const result: string[] = [];
        const worker = (tag: string) =>
          spawn(style, function* () {
            yield sem.acquire();
            result.push(`${tag}_1`);
            yield asyncio.sleep(0.01);
            sem.release();
            yield sem.acquire();
            result.push(`${tag}_2`);
            yield asyncio.sleep(0.01);
            sem.release();
          });
        yield allDone([worker("c1"), worker("c2"), worker("c3")]);
        assert.deepEqual(result, ["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]);
      }));

    test("a task releasing and re-acquiring queues behind earlier waiters (CPython test_acquire_fifo_order_2)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(1);
        const result: number[] = [];
        const t1 = spawn(style, function* () {
          yield sem.acquire();
          result.push(1);
        });
        const t2 = spawn(style, function* () {
          yield sem.acquire();
          result.push(2);
          sem.release();
          yield sem.acquire();
          result.push(4);
        });
        const t3 = spawn(style, function* () {
          yield sem.acquire();
          result.push(3);
        });
        yield* settle(1);
        sem.release();
        sem.release();
        yield allDone([t1, t2, t3]);
        assert.deepEqual(result, [1, 2, 3, 4]);
      }));

    test("a cancelled first waiter does not take a unit (CPython test_acquire_fifo_order_3)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(0);
        const result: number[] = [];
        const tasks = [1, 2, 3].map((n) =>
          spawn(style, function* () {
            yield sem.acquire();
            result.push(n);
          }),
        );
        yield* settle(1);
        tasks[0]?.cancel();
        yield* settle(1);
        sem.release();
        sem.release();
        yield allDone(tasks);
        assert.deepEqual(result, [2, 3]);
      }));

    test("a successful acquire() wakes every waiter the value allows (CPython test_acquire_fifo_order_4)", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(0);
        const result: number[] = [];
        let t4: asyncio.Task<void> | null = null;
        const t1 = spawn(style, function* () {
          assert.equal(inspect(sem), "<Semaphore [locked]>");
          yield sem.acquire();
          // Every waiter that can run has been woken: no unit is left, and the
          // two woken waiters stay in line until they run.
          assert.equal(inspect(sem), "<Semaphore [locked, waiters:2]>");
          t4 = spawn(style, function* () {
            yield* settle(0);
            result.push(4);
          });
          result.push(1);
        });
        // Let the first task queue before the second releases (a native
        // task's acquire() only starts in a microtask after its first step).
        yield* settle(1);
        const t2 = spawn(style, function* () {
          sem.release();
          sem.release();
          sem.release();
          assert.equal(inspect(sem), "<Semaphore [locked, waiters:1]>"); // c1 has not run yet
          yield sem.acquire();
          result.push(2);
        });
        const t3 = spawn(style, function* () {
          yield sem.acquire();
          assert.equal(sem.locked(), true);
          result.push(3);
        });
        yield* settle(1);
        // Three tasks are in line and the first has not run yet (a passing
        // state, seen exactly as in CPython by the generator driver).
        if (style === "generator") assert.equal(inspect(sem), "<Semaphore [locked, waiters:3]>");
        yield allDone([t1, t2, t3]);
        yield allDone([t4 as unknown as asyncio.Task<void>]);
        // The fourth task, created after the others were woken, runs after
        // them. (Native tasks woken in one iteration resume in microtasks
        // after that iteration's callbacks, so there a new task's first step
        // may come first.)
        if (style === "generator") assert.deepEqual(result, [1, 2, 3, 4]);
        else assert.deepEqual([result[0], [...result].sort()], [1, [1, 2, 3, 4]]);
      }));

    test("cancelling a woken waiter passes its unit to the next one", () =>
      run(style, function* () {
        const sem = new asyncio.Semaphore(0);
        const tasks = [0, 1, 2].map(() =>
          spawn(style, function* () {
            yield sem.acquire();
          }),
        );
        yield* settle(1);
        sem.release(); // wakes tasks[0]
        tasks[0]?.cancel(); // ...cancelled before it runs
        yield* settle(2);
        assert.equal(tasks[0]?.cancelled(), true);
        assert.equal(outcome(tasks[1] as asyncio.Task<unknown>), undefined);
        assert.equal(tasks[2]?.done(), false);
        tasks[2]?.cancel();
        yield allDone(tasks);
        assert.equal(inspect(sem), "<Semaphore [locked]>");
      }));
  });

  describe(`hold() releases at the end of a using block (${style})`, () => {
    const primitives: [string, () => { locked(): boolean; hold(): asyncio.Awaitable<Disposable> }][] = [
      ["Lock", () => new asyncio.Lock()],
      ["Condition", () => new asyncio.Condition()],
      ["Semaphore", () => new asyncio.Semaphore()],
      ["BoundedSemaphore", () => new asyncio.BoundedSemaphore()],
    ];
    for (const [name, make] of primitives) {
      if (style === "generator") {
        test(`${name}: using _ = yield* x.hold()`, () =>
          runVirtual(function* () {
            const primitive = make();
            function* body(fail: boolean): asyncio.Coroutine<boolean> {
              using _ = yield* primitive.hold();
              assert.equal(primitive.locked(), true);
              yield* asyncio.sleep(0);
              if (fail) throw new Error("boom");
              return primitive.locked();
            }
            assert.equal(yield* body(false), true);
            assert.equal(primitive.locked(), false);
            const failing = asyncio.createTask(body(true));
            yield* allDone([failing]);
            assert.match(String((outcome(failing) as { error: Error }).error), /boom/);
            assert.equal(primitive.locked(), false);
          }));
      } else {
        test(`${name}: using _ = await x.hold()`, () =>
          runVirtual(async () => {
            const primitive = make();
            async function body(fail: boolean): Promise<boolean> {
              using _ = await primitive.hold();
              assert.equal(primitive.locked(), true);
              await asyncio.sleep(0);
              if (fail) throw new Error("boom");
              return primitive.locked();
            }
            assert.equal(await body(false), true);
            assert.equal(primitive.locked(), false);
            await assert.rejects(body(true), /boom/);
            assert.equal(primitive.locked(), false);
          }));
      }
    }

    test("a held lock is released when its task is cancelled inside the block", () =>
      runVirtual(async () => {
        const lock = new asyncio.Lock();
        const inside = new asyncio.Event();
        const task =
          style === "generator"
            ? asyncio.createTask(function* () {
                using _ = yield* lock.hold();
                inside.set();
                yield* asyncio.sleep(3600);
              })
            : asyncio.createTask(async () => {
                using _ = await lock.hold();
                inside.set();
                await asyncio.sleep(3600);
              });
        await inside.wait();
        assert.equal(lock.locked(), true);
        task.cancel();
        await allDone([task]);
        assert.equal(task.cancelled(), true);
        assert.equal(lock.locked(), false);
      }));

    test("disposing twice releases once", () =>
      run(style, function* () {
        const sem = new asyncio.BoundedSemaphore(2);
        yield sem.acquire();
        const held = (yield sem.hold()) as Disposable;
        assert.match(inspect(held), /^<Held <BoundedSemaphore/);
        held[Symbol.dispose]();
        held[Symbol.dispose]();
        assert.equal(inspect(sem), "<BoundedSemaphore [unlocked, value:1]>");
        assert.equal(inspect(held), "<Held released>");
      }));
  });

  describe(`Barrier (${style})`, () => {
    const N = 5;

    test("parties must be at least 1", () => {
      assert.throws(() => new asyncio.Barrier(0), asyncio.ValueError);
      assert.throws(() => new asyncio.Barrier(-4), asyncio.ValueError);
      assert.equal(new asyncio.Barrier(N).parties, N);
    });

    test("repr goes through filling, draining, resetting and broken", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(N);
        assert.equal(inspect(barrier), `<Barrier [filling, waiters:0/${N}]>`);
        const waiters: asyncio.Task<unknown>[] = [];
        const add = () =>
          waiters.push(
            spawn(style, function* () {
              yield barrier.wait();
            }),
          );
        add();
        add();
        yield* settle(1);
        assert.equal(inspect(barrier), `<Barrier [filling, waiters:2/${N}]>`);
        while (waiters.length < N) add();
        yield* settle(1);
        // Draining is a passing state: a generator driver sees it after one
        // iteration, as in CPython; native tasks have drained out by the time
        // a native driver looks.
        const expected = style === "generator" ? "draining" : "filling";
        assert.equal(inspect(barrier), `<Barrier [${expected}, waiters:0/${N}]>`);
        add();
        add();
        yield* settle(1);
        yield barrier.reset();
        assert.match(inspect(barrier), /^<Barrier \[resetting, waiters:0\/5\]>$/);
        add();
        add();
        yield* settle(1);
        yield barrier.abort();
        assert.equal(inspect(barrier), "<Barrier [broken]>");
        assert.equal(barrier.broken, true);
        yield allDone(waiters);
      }));

    test("wait() returns distinct arrival indices once every party arrived", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(3);
        const t1 = spawn(style, function* () {
          return yield barrier.wait();
        });
        yield* settle(1);
        assert.equal(barrier.nWaiting, 1);
        const t2 = spawn(style, function* () {
          return yield barrier.wait();
        });
        yield* settle(1);
        assert.equal(barrier.nWaiting, 2);
        assert.equal(t1.done(), false);
        const t3 = spawn(style, function* () {
          return yield barrier.wait();
        });
        yield allDone([t1, t2, t3]);
        assert.deepEqual([t1.result(), t2.result(), t3.result()], [0, 1, 2]);
        assert.equal(barrier.nWaiting, 0);
        assert.equal(barrier.broken, false);
      }));

    test("a barrier of one party passes every task at once (CPython test_filling_one_task_twice)", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(1);
        assert.equal(yield barrier.wait(), 0);
        assert.equal(yield barrier.wait(), 0);
        assert.equal(barrier.nWaiting, 0);
      }));

    test("tasks pass the barrier twice; all but the last see it draining (CPython test_draining_state)", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(N);
        const draining: boolean[] = [];
        const results: number[] = [];
        const tasks = Array.from({ length: N }, () =>
          spawn(style, function* () {
            yield barrier.wait();
            draining.push(inspect(barrier).includes("draining"));
            const i = (yield barrier.wait()) as number;
            results.push(i);
          }),
        );
        yield allDone(tasks);
        for (const task of tasks) assert.equal(outcome(task), undefined);
        // Each task looks right after leaving the barrier. Generator tasks
        // look before the next one leaves, as in CPython: all but the last
        // see it draining. Native tasks look a few microtasks later, when
        // more may have left; the last one always sees it filling again.
        if (style === "generator") assert.deepEqual(draining, [true, true, true, true, false]);
        else assert.equal(draining.at(-1), false);
        assert.deepEqual([...results].sort(), [0, 1, 2, 3, 4]);
        assert.equal(barrier.nWaiting, 0);
      }));

    test("a cancelled waiter leaves the barrier (CPython test_filling_tasks_cancel_one)", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(3);
        const results: boolean[] = [];
        const waiter = () =>
          spawn(style, function* () {
            yield barrier.wait();
            results.push(true);
          });
        const t1 = waiter();
        yield* settle(1);
        const t2 = waiter();
        yield* settle(1);
        assert.equal(barrier.nWaiting, 2);
        t1.cancel();
        yield* settle(1);
        assert.equal(barrier.nWaiting, 1);
        yield allDone([t1]);
        assert.equal(t1.cancelled(), true);
        const t3 = waiter();
        yield* settle(1);
        assert.equal(barrier.nWaiting, 2);
        const t4 = waiter();
        yield allDone([t2, t3, t4]);
        assert.deepEqual(results, [true, true, true]);
        assert.equal(barrier.nWaiting, 0);
        assert.equal(barrier.broken, false);
      }));

    test("reset() makes waiting tasks raise BrokenBarrierError, then the barrier fills again", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(N);
        const broken: boolean[] = [];
        const tasks = Array.from({ length: N - 1 }, () =>
          spawn(style, function* () {
            try {
              yield barrier.wait();
            } catch (error) {
              broken.push(error instanceof asyncio.BrokenBarrierError);
            }
          }),
        );
        yield* settle(1);
        spawn(style, function* () {
          yield barrier.reset();
        });
        yield allDone(tasks);
        assert.deepEqual(broken, [true, true, true, true]);
        assert.equal(barrier.nWaiting, 0);
        assert.doesNotMatch(inspect(barrier), /resetting/);
        assert.equal(barrier.broken, false);
        // Usable again.
        const again = Array.from({ length: N }, () =>
          spawn(style, function* () {
            return yield barrier.wait();
          }),
        );
        yield allDone(again);
        assert.deepEqual(again.map((t) => t.result()).sort(), [0, 1, 2, 3, 4]);
      }));

    test("abort() breaks the barrier for waiting and later tasks", () =>
      run(style, function* () {
        const barrier = new asyncio.Barrier(3);
        const waiting = spawn(style, function* () {
          yield barrier.wait();
        });
        yield* settle(1);
        yield barrier.abort();
        yield allDone([waiting]);
        assert.ok((outcome(waiting) as { error: unknown }).error instanceof asyncio.BrokenBarrierError);
        assert.equal(barrier.broken, true);
        let caught: unknown = null;
        try {
          yield barrier.wait();
        } catch (error) {
          caught = error;
        }
        assert.ok(caught instanceof asyncio.BrokenBarrierError);
        assert.ok(caught instanceof asyncio.RuntimeError);
        assert.equal(barrier.nWaiting, 0);
      }));

    test("abort after an error, then reset, lets everyone pass (CPython test_abort_barrier_when_exception_then_resetting)", () =>
      run(style, function* () {
        const barrier1 = new asyncio.Barrier(N);
        const barrier2 = new asyncio.Barrier(N);
        const results1: boolean[] = [];
        const results2: boolean[] = [];
        const results3: boolean[] = [];
        const tasks = Array.from({ length: N }, () =>
          spawn(style, function* () {
            try {
              const i = (yield barrier1.wait()) as number;
              if (i === Math.floor(N / 2)) throw new asyncio.RuntimeError("boom");
              yield barrier1.wait();
              results1.push(true);
            } catch (error) {
              if (error instanceof asyncio.BrokenBarrierError) results2.push(true);
              else if (error instanceof asyncio.RuntimeError) yield barrier1.abort();
              else throw error;
            }
            const i = (yield barrier2.wait()) as number;
            if (i === Math.floor(N / 2)) yield barrier1.reset();
            yield barrier2.wait();
            yield barrier1.wait();
            results3.push(true);
          }),
        );
        yield allDone(tasks);
        for (const task of tasks) assert.equal(outcome(task), undefined);
        assert.equal(barrier1.broken, false);
        assert.equal(results1.length, 0);
        assert.equal(results2.length, N - 1);
        assert.equal(results3.length, N);
        assert.equal(barrier1.nWaiting, 0);
      }));
  });
}
