/**
 * The loop core (`BaseEventLoop`): the ready queue (FIFO, one batch per
 * iteration), timers (ordering, ties, cancellation, compaction, long
 * delays), stop/run/close and their refusals, the exception handler API,
 * debug mode, the task factory, and waking an idle loop from Node.
 *
 * Assertions are made outside loop callbacks: a failed assertion inside a
 * callback would only reach the loop's exception handler.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as asyncio from "asyncio-ts";
import { VirtualTimeLoop } from "asyncio-ts/testing";
import { captureExceptions, watchdog, withLoop } from "./helpers.js";

/** Runs `fn` and returns what it threw (or `undefined`). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Records what a promise rejects with, without leaving the rejection unhandled. */
function rejectionOf(promise: Promise<unknown>): { error: unknown } {
  const box: { error: unknown } = { error: undefined };
  promise.then(
    () => {
      box.error = "resolved";
    },
    (error: unknown) => {
      box.error = error;
    },
  );
  return box;
}

/** Counts loop iterations: a callback that reschedules itself runs once per iteration. */
function countIterations(loop: asyncio.AbstractEventLoop): { count: number; stop(): void } {
  const counter = { count: 0, active: true, stop: () => (counter.active = false) };
  const tick = (): void => {
    counter.count++;
    if (counter.active) loop.callSoon(tick);
  };
  loop.callSoon(tick);
  return counter;
}

interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  text: string;
}

/** Routes asyncio's logger into an array for the duration of `body`. */
async function withCapturedLog<T>(body: (records: LogRecord[]) => Promise<T> | T): Promise<T> {
  const records: LogRecord[] = [];
  const record =
    (level: LogRecord["level"]) =>
    (...args: unknown[]): void => {
      records.push({ level, text: args.map(String).join(" ") });
    };
  asyncio.setLogger({ debug: record("debug"), info: record("info"), warn: record("warn"), error: record("error") });
  try {
    return await body(records);
  } finally {
    asyncio.setLogger(null);
  }
}

// ---- callSoon ---------------------------------------------------------------

test("callSoon runs callbacks in FIFO order and passes their arguments", async () => {
  await withLoop(async (loop) => {
    const seen: unknown[][] = [];
    loop.callSoon(() => seen.push([]));
    for (let i = 0; i < 5; i++) loop.callSoon((n: number, s: string) => seen.push([n, s]), i, `x${i}`);
    loop.callSoon((a: number, b: number, c: number) => seen.push([a, b, c]), 1, 2, 3);
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    assert.deepEqual(seen, [[], [0, "x0"], [1, "x1"], [2, "x2"], [3, "x3"], [4, "x4"], [1, 2, 3]]);
  });
});

test("callSoon from a running callback runs in the next iteration, after the current batch", async () => {
  await withLoop(async (loop) => {
    const counter = countIterations(loop);
    const seen: [string, number][] = [];
    loop.callSoon(() => {
      seen.push(["a", counter.count]);
      loop.callSoon(() => {
        seen.push(["b", counter.count]);
        loop.stop();
      });
    });
    loop.callSoon(() => seen.push(["c", counter.count]));
    await loop.runForever();
    counter.stop();
    assert.deepEqual(seen, [
      ["a", 1],
      ["c", 1],
      ["b", 2],
    ]);
  });
});

test("a handle cancelled before it runs never runs; the others still run in order", async () => {
  await withLoop(async (loop) => {
    const seen: string[] = [];
    loop.callSoon(() => seen.push("a"));
    const b = loop.callSoon(() => seen.push("b"));
    loop.callSoon(() => seen.push("c"));
    // Cancelled by a callback of the same batch, before its turn comes.
    loop.callSoon(() => d.cancel());
    const d = loop.callSoon(() => seen.push("d"));
    b.cancel();
    assert.equal(b.cancelled(), true);
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    assert.deepEqual(seen, ["a", "c"]);
    assert.equal(d.cancelled(), true);
  });
});

// ---- timers -------------------------------------------------------------------

test("timers run in order of their time, each at its time", async () => {
  await withLoop(async (loop) => {
    const seen: [string, number][] = [];
    const record = (name: string): void => {
      seen.push([name, loop.time()]);
    };
    loop.callLater(3, record, "c");
    loop.callLater(1, record, "a");
    loop.callAt(loop.time() + 1.5, record, "ab");
    loop.callLater(2, record, "b");
    loop.callLater(3.5, () => loop.stop());
    await loop.runForever();
    assert.deepEqual(seen, [
      ["a", 1],
      ["ab", 1.5],
      ["b", 2],
      ["c", 3],
    ]);
  });
});

test("timers due at the same time run in the order they were scheduled", async () => {
  await withLoop(async (loop) => {
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) loop.callAt(10, (n: number) => seen.push(n), i);
      else loop.callLater(10, (n: number) => seen.push(n), i);
    }
    loop.callAt(10, () => loop.stop());
    await loop.runForever();
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

test("callAt with a time in the past runs in the next iteration, after the callbacks already ready", async () => {
  const loop = new VirtualTimeLoop({ start: 100 });
  try {
    const counter = countIterations(loop);
    const seen: [string, number][] = [];
    loop.callSoon(() => {
      loop.callAt(50, () => seen.push(["past", counter.count]));
      loop.callSoon(() => seen.push(["soon", counter.count]));
    });
    loop.callSoon(() => loop.callSoon(() => loop.callSoon(() => loop.stop())));
    await loop.runForever();
    counter.stop();
    assert.deepEqual(seen, [
      ["soon", 2],
      ["past", 2],
    ]);
  } finally {
    loop.close();
  }
});

test("when() is the loop time the timer is due at", async () => {
  await withLoop(async (loop) => {
    loop.advance(7);
    const later = loop.callLater(10, () => {});
    const at = loop.callAt(42, () => {});
    assert.ok(later instanceof asyncio.TimerHandle);
    assert.equal(later.when(), 17);
    assert.equal(at.when(), 42);
  });
});

test("cancelled timers never run", async () => {
  await withLoop(async (loop) => {
    const seen: string[] = [];
    const a = loop.callLater(1, () => seen.push("a"));
    loop.callLater(2, () => seen.push("b"));
    const c = loop.callLater(3, () => seen.push("c"));
    // Cancelled by the timer just before it, in the iteration before it is due.
    loop.callLater(2.5, () => c.cancel());
    loop.callLater(4, () => loop.stop());
    a.cancel();
    await loop.runForever();
    assert.deepEqual(seen, ["b"]);
    assert.equal(a.cancelled(), true);
    assert.equal(c.cancelled(), true);
  });
});

test("many cancelled timers (more than 100, more than half) are dropped and the rest still run in order", async () => {
  await withLoop(async (loop) => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const fired: [number, number][] = [];
    const live = new Set<asyncio.TimerHandle>();
    const schedule = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const when = loop.time() + 1 + Math.floor(random() * 1000);
        const timer = loop.callAt(when, () => {
          live.delete(timer);
          fired.push([when, loop.time()]);
        });
        live.add(timer);
      }
    };
    const cancelMost = (): void => {
      for (const timer of [...live]) {
        if (random() < 0.75) {
          timer.cancel();
          live.delete(timer);
        }
      }
    };
    schedule(400);
    cancelMost();
    const expectedFirstRound = [...live].map((t) => t.when());
    // Half-way, cancel most of what is left and schedule more: compaction happens again.
    loop.callAt(loop.time() + 500, () => {
      cancelMost();
      schedule(300);
      cancelMost();
    });
    const end = loop.createFuture();
    loop.callAt(loop.time() + 2000, () => end.setResult(undefined));
    await loop.runUntilComplete(end);
    assert.ok(expectedFirstRound.length > 50);
    assert.equal(live.size, 0, "every timer left uncancelled ran");
    for (const [when, at] of fired) assert.equal(at, when, "each timer ran at its time");
    const times = fired.map(([when]) => when);
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
      "timers ran in time order",
    );
  });
});

test("callLater over a day, over 2^31 ms and of Infinity does not fire early on the real EventLoop", async () => {
  const loop = new asyncio.EventLoop();
  try {
    const seen: string[] = [];
    loop.callLater(2 * 86400, () => seen.push("two days"));
    loop.callLater(30 * 86400, () => seen.push("thirty days"));
    loop.callLater(Number.POSITIVE_INFINITY, () => seen.push("never"));
    loop.callLater(0.02, () => loop.stop());
    await loop.runForever();
    assert.equal(seen.length, 0, String(seen));

    // The long timer alone armed in Node (the loop idle), then stopped from outside.
    loop.callLater(40 * 86400, () => seen.push("forty days"));
    setTimeout(() => loop.callSoonThreadsafe(() => loop.stop()), 10);
    await loop.runForever();
    assert.equal(seen.length, 0, String(seen));
  } finally {
    loop.close();
  }
});

test("callLater and callAt check their time argument", async () => {
  await withLoop(async (loop) => {
    assert.throws(() => loop.callLater(Number.NaN, () => {}), asyncio.ValueError);
    assert.throws(() => loop.callAt(Number.NaN, () => {}), asyncio.ValueError);
    assert.throws(() => loop.callLater("1" as unknown as number, () => {}), TypeError);
  });
});

// ---- stop and run -------------------------------------------------------------

test("stop() before runForever() runs exactly one iteration; what it schedules waits for the next run", async () => {
  await withLoop(async (loop) => {
    const seen: string[] = [];
    loop.callSoon(() => {
      seen.push("first");
      loop.callSoon(() => seen.push("second"));
    });
    loop.stop();
    await loop.runForever();
    assert.deepEqual(seen, ["first"]);
    loop.stop();
    await loop.runForever();
    assert.deepEqual(seen, ["first", "second"]);
  });
});

test("stop() during runForever() finishes the current batch, then runForever() resolves", async () => {
  await withLoop(async (loop) => {
    const seen: string[] = [];
    let runningInside: boolean | undefined;
    loop.callSoon(() => {
      runningInside = loop.isRunning();
      seen.push("a");
      loop.stop();
      loop.callSoon(() => seen.push("c"));
    });
    loop.callSoon(() => seen.push("b"));
    await loop.runForever();
    assert.equal(runningInside, true);
    assert.equal(loop.isRunning(), false);
    assert.deepEqual(seen, ["a", "b"]);
    assert.throws(() => asyncio.getRunningLoop(), asyncio.RuntimeError);
    // The stop is not sticky: the next run goes on until stopped again.
    loop.callSoon(() => loop.callSoon(() => loop.stop()));
    await loop.runForever();
    assert.deepEqual(seen, ["a", "b", "c"]);
  });
});

test("runUntilComplete returns the future's result", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    loop.callLater(1, () => fut.setResult(42));
    assert.equal(await loop.runUntilComplete(fut), 42);
    function* gen(): asyncio.Coroutine<string> {
      yield* asyncio.sleep(1);
      return "generator";
    }
    assert.equal(await loop.runUntilComplete(gen()), "generator");
    assert.equal(
      await loop.runUntilComplete(async () => {
        await asyncio.sleep(1);
        return "native";
      }),
      "native",
    );
  });
});

test("runUntilComplete throws the future's exception", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture<number>();
    loop.callSoon(() => fut.setException(new asyncio.ValueError("bad")));
    await assert.rejects(loop.runUntilComplete(fut), asyncio.ValueError);
    function* gen(): asyncio.Coroutine<void> {
      yield* asyncio.sleep(1);
      throw new asyncio.ValueError("generator");
    }
    await assert.rejects(loop.runUntilComplete(gen()), asyncio.ValueError);
    await assert.rejects(
      loop.runUntilComplete(async () => {
        await asyncio.sleep(1);
        throw new asyncio.ValueError("native");
      }),
      asyncio.ValueError,
    );
  });
});

test("a loop stopped before the future completes: RuntimeError('Event loop stopped before Future completed.')", async () => {
  await withLoop(async (loop) => {
    const fut = loop.createFuture();
    loop.callSoon(() => loop.stop());
    await assert.rejects(loop.runUntilComplete(fut), {
      name: "RuntimeError",
      message: "Event loop stopped before Future completed.",
    });
    assert.equal(fut.done(), false);
    // The future can still complete in a later run.
    loop.callSoon(() => fut.setResult("late"));
    assert.equal(await loop.runUntilComplete(fut), "late");
  });
});

test("runUntilComplete of a future already done returns its result after one iteration", async () => {
  await withLoop(async (loop) => {
    const seen: string[] = [];
    const fut = loop.createFuture<string>();
    fut.setResult("done already");
    loop.callSoon(() => seen.push("ready before"));
    assert.equal(await loop.runUntilComplete(fut), "done already");
    assert.deepEqual(seen, ["ready before"]);
  });
});

test("runUntilComplete of another loop's future is a ValueError", async () => {
  await withLoop(async (loop) => {
    const other = new VirtualTimeLoop();
    try {
      await assert.rejects(loop.runUntilComplete(other.createFuture()), asyncio.ValueError);
      assert.equal(loop.isRunning(), false);
    } finally {
      other.close();
    }
  });
});

// ---- one running loop per thread ------------------------------------------------

test("runForever and runUntilComplete on a running loop reject: 'This event loop is already running'", async () => {
  await withLoop(async (loop) => {
    let fromCallback: { error: unknown }[] = [];
    let fromTask: { error: unknown }[] = [];
    loop.callSoon(() => {
      fromCallback = [rejectionOf(loop.runForever()), rejectionOf(loop.runUntilComplete(loop.createFuture()))];
    });
    await loop.runUntilComplete(async () => {
      await asyncio.sleep(0);
      fromTask = [rejectionOf(loop.runForever()), rejectionOf(loop.runUntilComplete(asyncio.sleep(0)))];
      await asyncio.sleep(0);
    });
    for (const box of [...fromCallback, ...fromTask]) {
      assert.ok(box.error instanceof asyncio.RuntimeError);
      assert.equal(box.error.message, "This event loop is already running");
    }
    assert.equal(fromCallback.length + fromTask.length, 4);
  });
});

test("running a second loop while one runs is refused: 'Cannot run the event loop while another loop is running'", async () => {
  await withLoop(async (loop) => {
    const other = new VirtualTimeLoop();
    try {
      let refused: { error: unknown }[] = [];
      loop.callSoon(() => {
        refused = [rejectionOf(other.runForever()), rejectionOf(other.runUntilComplete(other.createFuture()))];
      });
      await loop.runUntilComplete(asyncio.sleep(1));
      assert.equal(refused.length, 2);
      for (const box of refused) {
        assert.ok(box.error instanceof asyncio.RuntimeError);
        assert.equal(box.error.message, "Cannot run the event loop while another loop is running");
      }
      // Once the first loop has stopped, the other one may run.
      assert.equal(await other.runUntilComplete(asyncio.sleep(1, "ok")), "ok");
    } finally {
      other.close();
    }
  });
});

test("close() while running throws RuntimeError and leaves the loop usable", async () => {
  await withLoop(async (loop) => {
    let error: unknown;
    loop.callSoon(() => {
      error = thrownBy(() => loop.close());
    });
    await loop.runUntilComplete(asyncio.sleep(1));
    assert.ok(error instanceof asyncio.RuntimeError);
    assert.equal(loop.isClosed(), false);
    assert.equal(await loop.runUntilComplete(asyncio.sleep(0, "still works")), "still works");
  });
});

test("close() is idempotent and drops the pending callbacks", async () => {
  const loop = new VirtualTimeLoop();
  const refs: WeakRef<object>[] = [];
  (() => {
    const soon = { name: "soon" };
    const later = { name: "later" };
    refs.push(new WeakRef(soon), new WeakRef(later));
    loop.callSoon((x: object) => x, soon);
    loop.callLater(10, (x: object) => x, later);
  })();
  assert.equal(loop.isClosed(), false);
  loop.close();
  assert.equal(loop.isClosed(), true);
  loop.close();
  assert.equal(loop.isClosed(), true);
  // Nothing refers to the callbacks' arguments any more once the loop dropped them.
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.equal(typeof gc, "function", "the tests run with --expose-gc");
  await new Promise((resolve) => setImmediate(resolve));
  gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    refs.map((r) => r.deref()),
    [undefined, undefined],
  );
});

test("every scheduling method of a closed loop throws RuntimeError('Event loop is closed')", async () => {
  const loop = new VirtualTimeLoop();
  loop.close();
  const closed = { name: "RuntimeError", message: "Event loop is closed" };
  assert.throws(() => loop.callSoon(() => {}), closed);
  assert.throws(() => loop.callSoonThreadsafe(() => {}), closed);
  assert.throws(() => loop.callLater(1, () => {}), closed);
  assert.throws(() => loop.callAt(1, () => {}), closed);
  let started = false;
  function* gen(): asyncio.Coroutine<void> {
    started = true;
    yield* asyncio.sleep(0);
  }
  assert.throws(() => loop.createTask(gen()), closed);
  assert.throws(
    () =>
      loop.createTask(async () => {
        started = true;
      }),
    closed,
  );
  assert.equal(started, false);
});

test("runForever and runUntilComplete on a closed loop reject with RuntimeError('Event loop is closed')", async () => {
  const loop = new VirtualTimeLoop();
  loop.close();
  const closed = { name: "RuntimeError", message: "Event loop is closed" };
  await assert.rejects(loop.runForever(), closed);
  let started = false;
  await assert.rejects(
    loop.runUntilComplete(async () => {
      started = true;
    }),
    closed,
  );
  assert.equal(started, false);
});

// ---- waking the loop from Node ------------------------------------------------------

test("callSoonThreadsafe from a raw Node timer or EventEmitter wakes an idle loop", { timeout: 5000 }, async () => {
  const loop = new asyncio.EventLoop();
  const guard = watchdog(loop);
  try {
    const seen: string[] = [];
    const emitter = new EventEmitter();
    emitter.on("data", (value: string) => {
      loop.callSoonThreadsafe((v: string) => {
        seen.push(v);
        loop.stop();
      }, value);
    });
    // The loop has nothing at all to do when these fire.
    setTimeout(() => loop.callSoonThreadsafe(() => seen.push("timer")), 1);
    setTimeout(() => emitter.emit("data", "emitted"), 5);
    await loop.runForever();
    assert.deepEqual(seen, ["timer", "emitted"]);

    // Same with a virtual-time loop that has no timer to jump to.
    const virtual = new VirtualTimeLoop();
    const virtualGuard = watchdog(virtual);
    try {
      setImmediate(() => virtual.callSoonThreadsafe(() => virtual.stop()));
      await virtual.runForever();
      assert.equal(virtual.time(), 0);
    } finally {
      virtualGuard.release();
      virtual.close();
    }
    assert.equal(virtualGuard.fired, false, "the virtual loop was woken before the watchdog stopped it");
  } finally {
    guard.release();
    loop.close();
  }
  assert.equal(guard.fired, false, "the loop did its work before the watchdog stopped it");
});

test("stop() called from a raw Node callback stops an idle loop", { timeout: 5000 }, async () => {
  const loop = new asyncio.EventLoop();
  const guard = watchdog(loop);
  try {
    loop.callLater(3600, () => {});
    setTimeout(() => loop.stop(), 1);
    await loop.runForever();
    assert.equal(loop.isRunning(), false);
  } finally {
    guard.release();
    loop.close();
  }
  assert.equal(guard.fired, false, "the loop did its work before the watchdog stopped it");
});

// ---- exception handler ------------------------------------------------------------

test("a failing callback goes to the exception handler with message, exception and handle", async () => {
  await withLoop(async (loop) => {
    const seen = captureExceptions(loop);
    const error = new asyncio.ValueError("boom");
    const handle = loop.callSoon(function failing(): void {
      throw error;
    });
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    assert.equal(seen.length, 1);
    const context = seen[0] as asyncio.ExceptionContext;
    assert.match(context.message, /^Exception in callback /);
    assert.match(context.message, /failing/);
    assert.equal(context.exception, error);
    assert.equal(context.handle, handle);
  });
});

test("setExceptionHandler / getExceptionHandler; a non-function is a TypeError", async () => {
  await withLoop(async (loop) => {
    assert.equal(loop.getExceptionHandler(), null);
    const calls: [asyncio.AbstractEventLoop, asyncio.ExceptionContext][] = [];
    const handler = (l: asyncio.AbstractEventLoop, context: asyncio.ExceptionContext): void => {
      calls.push([l, context]);
    };
    loop.setExceptionHandler(handler);
    assert.equal(loop.getExceptionHandler(), handler);
    loop.callExceptionHandler({ message: "hello" });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.[0], loop);
    assert.equal(calls[0]?.[1].message, "hello");
    assert.throws(() => loop.setExceptionHandler("nope" as unknown as asyncio.ExceptionHandler), TypeError);
    assert.throws(() => loop.setExceptionHandler({} as unknown as asyncio.ExceptionHandler), TypeError);
    assert.equal(loop.getExceptionHandler(), handler);
    loop.setExceptionHandler(null);
    assert.equal(loop.getExceptionHandler(), null);
  });
});

test("defaultExceptionHandler logs the message, the other keys and the exception through the logger", async () => {
  await withCapturedLog(async (records) => {
    await withLoop(async (loop) => {
      const error = new asyncio.ValueError("kaput");
      loop.defaultExceptionHandler({ message: "Something broke", exception: error, extra: "value" });
      assert.equal(records.length, 1);
      const record = records[0] as LogRecord;
      assert.equal(record.level, "error");
      assert.match(record.text, /^Something broke/);
      assert.match(record.text, /extra: "value"/);
      assert.match(record.text, /kaput/);

      // Without a handler, a failing callback is logged the same way.
      loop.callSoon(function failing(): void {
        throw new asyncio.ValueError("from callback");
      });
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      assert.equal(records.length, 2);
      assert.match((records[1] as LogRecord).text, /^Exception in callback failing\(\)/);
      assert.match((records[1] as LogRecord).text, /from callback/);
    });
  });
});

test("an exception handler that throws: 'Unhandled error in exception handler' is logged", async () => {
  await withCapturedLog(async (records) => {
    await withLoop(async (loop) => {
      loop.setExceptionHandler(() => {
        throw new asyncio.ValueError("handler is broken");
      });
      loop.callSoon(() => {
        throw new Error("original");
      });
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      assert.equal(records.length, 1);
      assert.match((records[0] as LogRecord).text, /^Unhandled error in exception handler/);
      assert.match((records[0] as LogRecord).text, /handler is broken/);
    });
  });
});

test("callExceptionHandler never throws, even when the handler and the default handler fail", async () => {
  await withCapturedLog(async (records) => {
    await withLoop(async (loop) => {
      // An object whose repr throws makes the default handler itself fail.
      const unprintable = {
        [Symbol.for("nodejs.util.inspect.custom")](): string {
          throw new Error("cannot print");
        },
      };
      assert.doesNotThrow(() => loop.callExceptionHandler({ message: "m1", thing: unprintable }));
      assert.match((records.at(-1) as LogRecord).text, /Exception in default exception handler/);

      loop.setExceptionHandler(() => {
        throw new Error("custom handler fails");
      });
      const count = records.length;
      assert.doesNotThrow(() => loop.callExceptionHandler({ message: "m2" }));
      assert.equal(records.length, count + 1);
      // A handler throwing an error that cannot be printed: both handlers fail.
      const poisoned = new Error("poisoned");
      Object.defineProperty(poisoned, "stack", {
        get(): never {
          throw new Error("no stack");
        },
      });
      loop.setExceptionHandler(() => {
        throw poisoned;
      });
      assert.doesNotThrow(() => loop.callExceptionHandler({ message: "m3" }));
      assert.equal(records.length, count + 2);
      assert.match((records.at(-1) as LogRecord).text, /^Exception in default exception handler while handling/);
    });
  });
});

test("callExceptionHandler does not throw when the logger itself throws", async () => {
  await withLoop(async (loop) => {
    const failing = (): never => {
      throw new Error("logger is broken");
    };
    const originalConsoleError = console.error;
    const consoleLines: string[] = [];
    console.error = (...args: unknown[]) => consoleLines.push(args.map(String).join(" "));
    asyncio.setLogger({ debug: failing, info: failing, warn: failing, error: failing });
    try {
      assert.doesNotThrow(() => loop.callExceptionHandler({ message: "m1", exception: new Error("e1") }));
      loop.setExceptionHandler(() => {
        throw new Error("custom handler fails");
      });
      assert.doesNotThrow(() => loop.callExceptionHandler({ message: "m2" }));
    } finally {
      asyncio.setLogger(null);
      console.error = originalConsoleError;
    }
    assert.equal(consoleLines.length, 2);
    assert.match(consoleLines[0] as string, /^Exception in default exception handler Error: logger is broken/);
    assert.match(consoleLines[1] as string, /^Exception in default exception handler while handling/);
  });
});

// ---- debug mode ------------------------------------------------------------------

test("setDebug / getDebug", async () => {
  await withLoop(async (loop) => {
    loop.setDebug(true);
    assert.equal(loop.getDebug(), true);
    loop.setDebug(false);
    assert.equal(loop.getDebug(), false);
    assert.equal(new asyncio.EventLoop({ debug: true }).getDebug(), true);
    assert.equal(loop.slowCallbackDuration, 0.1);
  });
});

test("in debug mode scheduling something that is not a function is a TypeError", async () => {
  await withLoop((loop) => {
    loop.setDebug(true);
    const notAFunction = 42 as unknown as () => void;
    assert.throws(() => loop.callSoon(notAFunction), TypeError);
    assert.throws(() => loop.callSoonThreadsafe(notAFunction), TypeError);
    assert.throws(() => loop.callLater(1, notAFunction), TypeError);
    assert.throws(() => loop.callAt(1, notAFunction), TypeError);
  });
});

/** Runs a fixture script with `node` and returns its exit code and output. */
function runFixture(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, timeout: 10000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("ASYNCIO_DEBUG in the environment turns debug mode on", async () => {
  const { ASYNCIO_DEBUG: _unset, ...env } = process.env;
  const on = await runFixture("process_alive.mjs", ["debug-env"], { ...env, ASYNCIO_DEBUG: "1" });
  assert.equal(on.code, 0, on.stderr);
  assert.deepEqual(on.stdout.trim().split("\n"), ["new loop debug=true", "run() debug=true"]);
  const off = await runFixture("process_alive.mjs", ["debug-env"], env);
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(off.stdout.trim().split("\n"), ["new loop debug=false", "run() debug=false"]);
  const empty = await runFixture("process_alive.mjs", ["debug-env"], { ...env, ASYNCIO_DEBUG: "" });
  assert.deepEqual(empty.stdout.trim().split("\n"), ["new loop debug=false", "run() debug=false"]);
});

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

test("in debug mode a callback slower than slowCallbackDuration is logged as a warning", async () => {
  await withCapturedLog(async (records) => {
    await withLoop(async (loop) => {
      loop.slowCallbackDuration = 0.01;
      loop.callSoon(busyWait, 30);
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      assert.equal(records.length, 0, "nothing is logged outside debug mode");

      loop.setDebug(true);
      loop.callSoon(busyWait, 30);
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      const warnings = records.filter((r) => r.level === "warn");
      assert.equal(warnings.length, 1);
      assert.match((warnings[0] as LogRecord).text, /^Executing <Handle busyWait\(30\)> took \d+\.\d+ seconds$/);
    });
  });
});

test("in debug mode a failing callback's report says where its handle was created", async () => {
  await withLoop(async (loop) => {
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    (function scheduleTheFailingCallback(): void {
      loop.callSoon(() => {
        throw new Error("fails");
      });
    })();
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    assert.equal(seen.length, 1);
    const traceback = (seen[0] as asyncio.ExceptionContext).sourceTraceback;
    assert.equal(typeof traceback, "string");
    assert.match(traceback as string, /scheduleTheFailingCallback/);

    // Not recorded outside debug mode.
    loop.setDebug(false);
    loop.callSoon(() => {
      throw new Error("fails again");
    });
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    assert.equal(seen.length, 2);
    assert.equal((seen[1] as asyncio.ExceptionContext).sourceTraceback, undefined);
  });
});

// ---- task factory -----------------------------------------------------------------

test("setTaskFactory / getTaskFactory: createTask goes through the factory with (loop, coro, options)", async () => {
  await withLoop(async (loop) => {
    assert.equal(loop.getTaskFactory(), null);
    const calls: [asyncio.AbstractEventLoop, unknown, asyncio.TaskOptions][] = [];
    const factory: asyncio.TaskFactory = (l, coro, options) => {
      calls.push([l, coro, options]);
      // Ignores the name option on purpose.
      return new asyncio.Task(coro, { loop: l });
    };
    loop.setTaskFactory(factory);
    assert.equal(loop.getTaskFactory(), factory);
    function* gen(): asyncio.Coroutine<string> {
      yield* asyncio.sleep(0);
      return "generator";
    }
    const native = async (): Promise<string> => {
      await asyncio.sleep(0);
      return "native";
    };
    const coro = gen();
    const results = await loop.runUntilComplete(async () => {
      const a = loop.createTask(coro, { name: "by-loop" });
      const b = asyncio.createTask(native, { name: "by-module" });
      assert.equal(a.getName(), "by-loop");
      assert.equal(b.getName(), "by-module");
      return [await a, await b];
    });
    assert.deepEqual(results, ["generator", "native"]);
    // The first call is runUntilComplete's own task.
    assert.equal(calls.length, 3);
    const [, first, second] = calls;
    assert.equal(first?.[0], loop);
    assert.equal(first?.[1], coro);
    assert.equal(first?.[2].name, "by-loop");
    assert.equal(second?.[0], loop);
    assert.equal(second?.[1], native);
    assert.equal(second?.[2].name, "by-module");

    assert.throws(() => loop.setTaskFactory(42 as unknown as asyncio.TaskFactory), TypeError);
    assert.equal(loop.getTaskFactory(), factory);
    loop.setTaskFactory(null);
    assert.equal(loop.getTaskFactory(), null);
    assert.equal(await loop.runUntilComplete(async () => "plain"), "plain");
    assert.equal(calls.length, 3);
  });
});
