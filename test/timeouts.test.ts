/**
 * timeout(), timeoutAt() and Timeout: expiry, the TimeoutError and its
 * cause, cancellation from outside, nested scopes, uncancel bookkeeping,
 * reschedule, entering twice, repr. Each behaviour with a generator body
 * (`yield*`) and with an async body (`await`), after CPython's
 * test_timeouts.py.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { rejects } from "./helpers.js";

function isTimeoutWithCancelCause(error: unknown): boolean {
  return error instanceof asyncio.TimeoutError && (error as Error).cause instanceof asyncio.CancelledError;
}

// ---- expiry -------------------------------------------------------------------

test("expiry cancels the body and raises TimeoutError caused by the CancelledError (generator)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    let scope: asyncio.Timeout | null = null;
    let bodyCancelled = false;
    let caught: unknown;
    try {
      yield* asyncio.timeout(1.5, function* (cm) {
        scope = cm;
        try {
          yield* asyncio.sleep(10);
        } catch (e) {
          bodyCancelled = e instanceof asyncio.CancelledError;
          throw e;
        }
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(isTimeoutWithCancelCause(caught));
    assert.ok(bodyCancelled);
    assert.equal(loop.time(), 1.5);
    assert.ok((scope as unknown as asyncio.Timeout).expired());
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("expiry cancels the body and raises TimeoutError caused by the CancelledError (async)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let scope: asyncio.Timeout | null = null;
    let bodyCancelled = false;
    await rejects(
      asyncio.timeout(1.5, async (cm) => {
        scope = cm;
        try {
          await asyncio.sleep(10);
        } catch (e) {
          bodyCancelled = e instanceof asyncio.CancelledError;
          throw e;
        }
      }),
      isTimeoutWithCancelCause,
    );
    assert.ok(bodyCancelled);
    assert.equal(loop.time(), 1.5);
    assert.ok((scope as unknown as asyncio.Timeout).expired());
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("timeoutAt uses an absolute deadline, which when() returns (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const deadline = loop.time() + 2;
    let scope: asyncio.Timeout | null = null;
    let caught: unknown;
    try {
      yield* asyncio.timeoutAt(deadline, function* (cm) {
        scope = cm;
        yield* asyncio.sleep(10);
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof asyncio.TimeoutError);
    assert.equal((scope as unknown as asyncio.Timeout).when(), deadline);
    assert.equal(loop.time(), deadline);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const deadline = loop.time() + 2;
    let scope: asyncio.Timeout | null = null;
    await rejects(
      asyncio.timeoutAt(deadline, async (cm) => {
        scope = cm;
        await asyncio.sleep(10);
      }),
      asyncio.TimeoutError,
    );
    assert.equal((scope as unknown as asyncio.Timeout).when(), deadline);
    assert.equal(loop.time(), deadline);
  });
});

test("a body that finishes in time returns its result; the scope is not expired (both styles)", async () => {
  const [gen, native] = await runVirtual(function* (): asyncio.Coroutine<[number, string]> {
    const loop = asyncio.getRunningLoop();
    let scope: asyncio.Timeout | null = null;
    const a = yield* asyncio.timeout(10, function* (cm) {
      scope = cm;
      yield* asyncio.sleep(1);
      return 7;
    });
    const s = scope as unknown as asyncio.Timeout;
    assert.equal(s.expired(), false);
    assert.ok((s.when() as number) > loop.time());
    const b = yield* asyncio.timeout(10, async () => {
      await asyncio.sleep(1);
      return "ok";
    });
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
    return [a, b];
  });
  assert.equal(gen, 7);
  assert.equal(native, "ok");
});

test("a null delay or deadline means no deadline (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const scopes: asyncio.Timeout[] = [];
    yield* asyncio.timeout(null, function* (cm) {
      scopes.push(cm);
      yield* asyncio.sleep(1e6);
    });
    yield* asyncio.timeoutAt(null, async (cm) => {
      scopes.push(cm);
      await asyncio.sleep(1e6);
    });
    yield* asyncio.timeout(undefined, function* (cm) {
      scopes.push(cm);
      yield* asyncio.sleep(1);
    });
    for (const cm of scopes) {
      assert.equal(cm.when(), null);
      assert.equal(cm.expired(), false);
    }
  });
});

test("a zero or negative delay expires at the body's first suspension, even sleep(0) (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    for (const delay of [0, -11]) {
      const t0 = loop.time();
      let scope: asyncio.Timeout | null = null;
      let caught: unknown;
      try {
        yield* asyncio.timeout(delay, function* (cm) {
          scope = cm;
          yield* asyncio.sleep(0);
        });
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof asyncio.TimeoutError);
      assert.ok((scope as unknown as asyncio.Timeout).expired());
      assert.equal(loop.time(), t0);
    }
  });
  await runVirtual(async () => {
    for (const delay of [0, -11]) {
      let scope: asyncio.Timeout | null = null;
      await rejects(
        asyncio.timeout(delay, async (cm) => {
          scope = cm;
          await asyncio.sleep(0);
        }),
        asyncio.TimeoutError,
      );
      assert.ok((scope as unknown as asyncio.Timeout).expired());
    }
  });
});

// ---- errors and cancellation that are not the timeout's ----------------------------

test("an error from the body passes through unchanged and the scope does not expire (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const boom = new asyncio.ValueError("boom");
    let scope: asyncio.Timeout | null = null;
    let caught: unknown;
    try {
      // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
      yield* asyncio.timeout(0.01, function* (cm) {
        scope = cm;
        throw boom;
      });
    } catch (e) {
      caught = e;
    }
    assert.equal(caught, boom);
    assert.equal((scope as unknown as asyncio.Timeout).expired(), false);
  });
  await runVirtual(async () => {
    const boom = new asyncio.ValueError("boom");
    let scope: asyncio.Timeout | null = null;
    await rejects(
      asyncio.timeout(0.01, async (cm) => {
        scope = cm;
        throw boom;
      }),
      (e: unknown) => e === boom,
    );
    assert.equal((scope as unknown as asyncio.Timeout).expired(), false);
  });
});

test("an error raised while the body is being cancelled by the timeout wins over TimeoutError (both styles)", async () => {
  class Crash extends Error {}
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let caught: unknown;
    try {
      yield* asyncio.timeout(0.01, function* () {
        try {
          yield* asyncio.sleep(1);
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: the test needs an error thrown from finally
          throw new Crash("in finally");
        }
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Crash);
  });
  await runVirtual(async () => {
    await rejects(
      asyncio.timeout(0.01, async () => {
        try {
          await asyncio.sleep(1);
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: the test needs an error thrown from finally
          throw new Crash("in finally");
        }
      }),
      Crash,
    );
  });
});

test("an error chained (cause) to the scope's CancelledError gets a TimeoutError inserted in the chain", async () => {
  await runVirtual(async () => {
    let caught: unknown;
    try {
      await asyncio.timeout(0.01, async () => {
        try {
          await asyncio.sleep(1);
        } catch (e) {
          throw new Error("wrapped", { cause: e });
        }
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof Error && !(caught instanceof asyncio.TimeoutError));
    const inserted = (caught as Error).cause;
    assert.ok(inserted instanceof asyncio.TimeoutError);
    assert.ok((inserted as Error).cause instanceof asyncio.CancelledError);
  });
});

test("a cancellation from outside is not turned into TimeoutError when the scope has not expired (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let scope: asyncio.Timeout | null = null;
    let caught: unknown;
    try {
      yield* asyncio.timeout(10, function* (cm) {
        scope = cm;
        asyncio.currentTask()?.cancel();
        yield* asyncio.sleep(10);
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof asyncio.CancelledError);
    assert.equal((scope as unknown as asyncio.Timeout).expired(), false);
    asyncio.currentTask()?.uncancel();
  });
  await runVirtual(async () => {
    let scope: asyncio.Timeout | null = null;
    await rejects(
      asyncio.timeout(10, async (cm) => {
        scope = cm;
        asyncio.currentTask()?.cancel();
        await asyncio.sleep(10);
      }),
      asyncio.CancelledError,
    );
    assert.equal((scope as unknown as asyncio.Timeout).expired(), false);
    asyncio.currentTask()?.uncancel();
  });
});

test("a task cancelled from outside in the iteration the deadline passes ends cancelled, not timed out (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const scopes: asyncio.Timeout[] = [];
    const gen = asyncio.createTask(
      asyncio.timeout(1, function* (cm) {
        scopes.push(cm);
        yield* asyncio.sleep(10);
      }),
    );
    const native = asyncio.createTask(async () => {
      await asyncio.timeout(1, async (cm) => {
        scopes.push(cm);
        await asyncio.sleep(10);
      });
    });
    yield* asyncio.sleep(0.5);
    assert.equal(scopes.length, 2);
    // Scheduled after the scopes' timers, for the same time: runs in the same iteration, right after them.
    loop.callAt(1, () => {
      gen.cancel("outside");
      native.cancel("outside");
    });
    const [done] = yield* asyncio.wait([gen, native]);
    assert.equal(done.size, 2);
    for (const task of [gen, native]) {
      assert.ok(task.cancelled(), `${task} is cancelled`);
      assert.throws(() => task.result(), asyncio.CancelledError);
    }
    for (const cm of scopes) assert.ok(cm.expired());
  });
});

test("the task that ran a timed-out scope is neither cancelled nor cancelling afterwards (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const gen = asyncio.createTask(function* () {
      try {
        yield* asyncio.timeout(0.001, function* () {
          yield* asyncio.sleep(10);
        });
      } catch (e) {
        assert.ok(e instanceof asyncio.TimeoutError);
      }
      yield* asyncio.sleep(1);
      return asyncio.currentTask()?.cancelling();
    });
    const native = asyncio.createTask(async () => {
      await rejects(
        asyncio.timeout(0.001, async () => {
          await asyncio.sleep(10);
        }),
        asyncio.TimeoutError,
      );
      await asyncio.sleep(1);
      return asyncio.currentTask()?.cancelling();
    });
    assert.equal(yield* gen, 0);
    assert.equal(yield* native, 0);
    assert.equal(gen.cancelled(), false);
    assert.equal(native.cancelled(), false);
  });
});

test("a body that swallows the timeout's cancellation returns its value; the scope is expired (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let scope: asyncio.Timeout | null = null;
    const value = yield* asyncio.timeout(1, function* (cm) {
      scope = cm;
      try {
        yield* asyncio.sleep(10);
      } catch {
        return "swallowed";
      }
      return "slept";
    });
    assert.equal(value, "swallowed");
    assert.ok((scope as unknown as asyncio.Timeout).expired());
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    let scope: asyncio.Timeout | null = null;
    const value = await asyncio.timeout(1, async (cm) => {
      scope = cm;
      try {
        await asyncio.sleep(10);
      } catch {
        return "swallowed";
      }
      return "slept";
    });
    assert.equal(value, "swallowed");
    assert.ok((scope as unknown as asyncio.Timeout).expired());
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("an async body awaiting a foreign Promise at the deadline is cancelled at its next asyncio await", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const steps: string[] = [];
    let release: (() => void) | null = null;
    const foreign = new Promise<void>((resolve) => {
      release = resolve;
    });
    loop.callLater(2, () => release?.());
    let caught: unknown;
    try {
      yield* asyncio.timeout(1, async () => {
        await foreign;
        steps.push("foreign settled");
        await asyncio.sleep(10);
        steps.push("not reached");
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof asyncio.TimeoutError);
    assert.deepEqual(steps, ["foreign settled"]);
    assert.equal(loop.time(), 2);
  });
});

// ---- nesting -------------------------------------------------------------------

test("nested scopes with the same deadline: only the outer raises TimeoutError (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const deadline = loop.time() + 0.01;
    let innerSaw: unknown;
    const scopes: asyncio.Timeout[] = [];
    let caught: unknown;
    try {
      yield* asyncio.timeoutAt(deadline, function* (cm1) {
        scopes.push(cm1);
        try {
          yield* asyncio.timeoutAt(deadline, function* (cm2) {
            scopes.push(cm2);
            yield* asyncio.sleep(10);
          });
        } catch (e) {
          innerSaw = e;
          throw e;
        }
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(innerSaw instanceof asyncio.CancelledError);
    assert.ok(caught instanceof asyncio.TimeoutError);
    assert.ok(scopes.every((cm) => cm.expired()));
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const deadline = loop.time() + 0.01;
    let innerSaw: unknown;
    const scopes: asyncio.Timeout[] = [];
    await rejects(
      asyncio.timeoutAt(deadline, async (cm1) => {
        scopes.push(cm1);
        try {
          await asyncio.timeoutAt(deadline, async (cm2) => {
            scopes.push(cm2);
            await asyncio.sleep(10);
          });
        } catch (e) {
          innerSaw = e;
          throw e;
        }
      }),
      asyncio.TimeoutError,
    );
    assert.ok(innerSaw instanceof asyncio.CancelledError);
    assert.ok(scopes.every((cm) => cm.expired()));
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("an inner timeout that expires is caught inside; the outer one expires later (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    let innerTimedOut = false;
    let caught: unknown;
    try {
      yield* asyncio.timeout(5, function* () {
        try {
          yield* asyncio.timeout(1, function* () {
            yield* asyncio.sleep(10);
          });
        } catch (e) {
          innerTimedOut = e instanceof asyncio.TimeoutError && loop.time() === 1;
        }
        yield* asyncio.sleep(10);
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(innerTimedOut);
    assert.ok(caught instanceof asyncio.TimeoutError);
    assert.equal(loop.time(), 5);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let innerTimedOut = false;
    await rejects(
      asyncio.timeout(5, async () => {
        try {
          await asyncio.timeout(1, function* () {
            yield* asyncio.sleep(10);
          });
        } catch (e) {
          innerTimedOut = e instanceof asyncio.TimeoutError && loop.time() === 1;
        }
        await asyncio.sleep(10);
      }),
      asyncio.TimeoutError,
    );
    assert.ok(innerTimedOut);
    assert.equal(loop.time(), 5);
  });
});

test("a timeout inside a finally that runs because of an expired scope works (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let innerTimedOut = false;
    let caught: unknown;
    try {
      yield* asyncio.timeout(0.01, function* () {
        try {
          yield* asyncio.sleep(1);
        } finally {
          try {
            yield* asyncio.timeout(0.01, function* () {
              yield* asyncio.sleep(10);
            });
          } catch (e) {
            innerTimedOut = e instanceof asyncio.TimeoutError;
          }
        }
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(innerTimedOut);
    assert.ok(caught instanceof asyncio.TimeoutError);
  });
  await runVirtual(async () => {
    let innerTimedOut = false;
    await rejects(
      asyncio.timeout(0.01, async () => {
        try {
          await asyncio.sleep(1);
        } finally {
          await rejects(
            asyncio.timeout(0.01, async () => {
              await asyncio.sleep(10);
            }),
            asyncio.TimeoutError,
          );
          innerTimedOut = true;
        }
      }),
      asyncio.TimeoutError,
    );
    assert.ok(innerTimedOut);
  });
});

test("after a cancellation was caught, a timeout in the cleanup still times out (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let timedOut = false;
    try {
      asyncio.currentTask()?.cancel();
      yield* asyncio.sleep(1);
    } catch {
      // The cancellation is caught; the task still counts one request.
    } finally {
      try {
        yield* asyncio.timeout(0, function* () {
          yield* asyncio.sleep(1);
        });
      } catch (e) {
        timedOut = e instanceof asyncio.TimeoutError;
      }
    }
    assert.ok(timedOut);
    assert.equal(asyncio.currentTask()?.cancelling(), 1);
    asyncio.currentTask()?.uncancel();
  });
  await runVirtual(async () => {
    try {
      asyncio.currentTask()?.cancel();
      await asyncio.sleep(1);
    } catch {
      // The cancellation is caught; the task still counts one request.
    } finally {
      await rejects(
        asyncio.timeout(0, async () => {
          await asyncio.sleep(1);
        }),
        asyncio.TimeoutError,
      );
    }
    assert.equal(asyncio.currentTask()?.cancelling(), 1);
    asyncio.currentTask()?.uncancel();
  });
});

test("after a cancellation was caught, a new cancel inside a timeout is still a CancelledError (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let caught: unknown;
    try {
      asyncio.currentTask()?.cancel();
      yield* asyncio.sleep(1);
    } catch {
      // Caught on purpose.
    }
    try {
      yield* asyncio.timeout(1, function* () {
        asyncio.currentTask()?.cancel();
        yield* asyncio.sleep(2);
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof asyncio.CancelledError);
    asyncio.currentTask()?.uncancel();
    asyncio.currentTask()?.uncancel();
  });
  await runVirtual(async () => {
    try {
      asyncio.currentTask()?.cancel();
      await asyncio.sleep(1);
    } catch {
      // Caught on purpose.
    }
    await rejects(
      asyncio.timeout(1, async () => {
        asyncio.currentTask()?.cancel();
        await asyncio.sleep(2);
      }),
      asyncio.CancelledError,
    );
    asyncio.currentTask()?.uncancel();
    asyncio.currentTask()?.uncancel();
  });
});

// ---- reschedule ------------------------------------------------------------------

test("reschedule() moves the deadline later, earlier, or removes it (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    let caught: unknown;
    try {
      yield* asyncio.timeout(1, function* (cm) {
        cm.reschedule(loop.time() + 5);
        yield* asyncio.sleep(2); // would have expired at 1
        assert.equal(cm.when(), 5);
        cm.reschedule(null);
        yield* asyncio.sleep(10);
        assert.equal(cm.expired(), false);
        cm.reschedule(loop.time() + 1);
        yield* asyncio.sleep(10);
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof asyncio.TimeoutError);
    assert.equal(loop.time(), 13);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    await rejects(
      asyncio.timeout(10, async (cm) => {
        await asyncio.sleep(1);
        cm.reschedule(loop.time() + 2);
        await asyncio.sleep(10);
      }),
      asyncio.TimeoutError,
    );
    assert.equal(loop.time(), 3);
  });
});

test("reschedule() to a past time expires at the next iteration", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    await rejects(
      asyncio.timeout(10, async (cm) => {
        await asyncio.sleep(1);
        cm.reschedule(loop.time() - 5);
        await asyncio.sleep(10);
      }),
      asyncio.TimeoutError,
    );
    assert.equal(loop.time(), 1);
  });
});

test("reschedule() from another task, then cancellation from outside: no expiry", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const entered = loop.createFuture<asyncio.Timeout>();
    const deadline1 = loop.time() + 10;
    const deadline2 = deadline1 + 20;
    const task = asyncio.createTask(() =>
      asyncio.timeoutAt(deadline1, async (cm) => {
        entered.setResult(cm);
        await asyncio.sleep(50);
      }),
    );
    const cm = await entered;
    assert.equal(cm.when(), deadline1);
    cm.reschedule(deadline2);
    assert.equal(cm.when(), deadline2);
    cm.reschedule(null);
    assert.equal(cm.when(), null);
    task.cancel();
    await rejects(task, asyncio.CancelledError);
    assert.equal(cm.expired(), false);
  });
});

test("reschedule() is refused before entry, after expiry and after exit (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const fresh = new asyncio.Timeout(loop.time() + 1);
    assert.throws(
      () => fresh.reschedule(2),
      (e: unknown) => e instanceof asyncio.RuntimeError && /not been entered/.test(e.message),
    );
    let expiredScope: asyncio.Timeout | null = null;
    try {
      yield* asyncio.timeout(1, function* (cm) {
        expiredScope = cm;
        try {
          yield* asyncio.sleep(10);
        } finally {
          assert.throws(() => cm.reschedule(loop.time() + 100), asyncio.RuntimeError);
        }
      });
    } catch (e) {
      assert.ok(e instanceof asyncio.TimeoutError);
    }
    assert.throws(() => (expiredScope as unknown as asyncio.Timeout).reschedule(null), asyncio.RuntimeError);
    let finished: asyncio.Timeout | null = null;
    // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
    yield* asyncio.timeout(1, function* (cm) {
      finished = cm;
    });
    assert.throws(
      () => (finished as unknown as asyncio.Timeout).reschedule(loop.time() + 1),
      (e: unknown) => e instanceof asyncio.RuntimeError && /finished/.test(e.message),
    );
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let finished: asyncio.Timeout | null = null;
    await asyncio.timeout(1, async (cm) => {
      finished = cm;
    });
    assert.throws(() => (finished as unknown as asyncio.Timeout).reschedule(loop.time() + 1), asyncio.RuntimeError);
  });
});

// ---- entering --------------------------------------------------------------------

test("a Timeout cannot be entered twice, inside itself or after it is left (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let scope: asyncio.Timeout | null = null;
    yield* asyncio.timeout(1, function* (cm) {
      scope = cm;
      let caught: unknown;
      try {
        yield* cm.run(function* () {});
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof asyncio.RuntimeError && /already been entered/.test(caught.message));
    });
    let caught: unknown;
    try {
      yield* (scope as unknown as asyncio.Timeout).run(function* () {});
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof asyncio.RuntimeError);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = new asyncio.Timeout(loop.time() + 1);
    const value = await cm.run(async (inner) => {
      assert.equal(inner, cm);
      await rejects(
        cm.run(async () => {}),
        (e: unknown) => e instanceof asyncio.RuntimeError && /already been entered/.test(e.message),
      );
      return 3;
    });
    assert.equal(value, 3);
    await rejects(
      cm.run(async () => {}),
      asyncio.RuntimeError,
    );
  });
});

test("a Timeout entered outside any task is refused and stays not entered", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const cm = new asyncio.Timeout(loop.time() + 1);
    const outcome = loop.createFuture<unknown>();
    loop.callSoon(() => {
      cm.run(async () => {}).then(
        () => outcome.setResult("entered"),
        (e: unknown) => outcome.setResult(e),
      );
    });
    const error = await outcome;
    assert.ok(error instanceof asyncio.RuntimeError && /inside a task/.test(error.message));
    assert.throws(
      () => cm.reschedule(2),
      (e: unknown) => e instanceof asyncio.RuntimeError && /not been entered/.test(e.message),
    );
  });
});

test("timeout() checks its arguments: a body function and a number or null", async () => {
  await runVirtual(async () => {
    assert.throws(() => asyncio.timeout(1, 5 as never), TypeError);
    assert.throws(() => asyncio.timeout("1" as never, async () => {}), TypeError);
    assert.throws(() => asyncio.timeout(Number.NaN, async () => {}), asyncio.ValueError);
    assert.throws(() => asyncio.timeoutAt({} as never, async () => {}), TypeError);
  });
});

// ---- repr ------------------------------------------------------------------------

test("repr: active with when=, expired, finished, when=null", async () => {
  await runVirtual(async () => {
    await asyncio.timeout(10, async (cm) => {
      assert.match(inspect(cm), /^<Timeout \[active\] when=\d+(\.\d+)?>$/);
    });
    await asyncio.timeout(null, async (cm) => {
      assert.equal(inspect(cm), "<Timeout [active] when=null>");
    });
    let scope: asyncio.Timeout | null = null;
    await rejects(
      asyncio.timeout(0.01, async (cm) => {
        scope = cm;
        await asyncio.sleep(10);
      }),
      asyncio.TimeoutError,
    );
    assert.equal(String(scope), "<Timeout [expired]>");
    await asyncio.timeout(10, async (cm) => {
      scope = cm;
      await asyncio.sleep(0);
    });
    assert.equal(inspect(scope), "<Timeout [finished]>");
    const loop = asyncio.getRunningLoop();
    assert.equal(String(new asyncio.Timeout(loop.time())), "<Timeout [created]>");
    assert.equal(asyncio.TimeoutState.EXPIRING, "expiring");
  });
});

test("a generator body may use yield* on anything awaitable, and an async body may await generator coroutines", async () => {
  const result = await runVirtual(function* (): asyncio.Coroutine<number[]> {
    const loop = asyncio.getRunningLoop();
    const fut = loop.createFuture<number>();
    loop.callLater(1, () => fut.setResult(1));
    const a = yield* asyncio.timeout(5, function* () {
      return yield* fut;
    });
    const b = yield* asyncio.timeout(5, async () => {
      const doubled = asyncio.coroutine(function* (x: number) {
        yield* asyncio.sleep(1);
        return 2 * x;
      });
      return await doubled(1);
    });
    const c = yield* asyncio.timeout(5, () => asyncio.sleep(1, 3));
    return [a, b, c];
  });
  assert.deepEqual(result, [1, 2, 3]);
});
