/**
 * taskGroup() and TaskGroup, after CPython 3.13's test_taskgroups.py: the
 * body and all children awaited; the first failure cancels the body and
 * the siblings; errors raised together as an ExceptionGroup (the body's
 * own included); CancelledError never wrapped; cancellation from outside
 * propagated; uncancel bookkeeping with an enclosing timeout(); misuse
 * (entering twice, creating tasks in a finished group). Each behaviour
 * with a generator body and with an async body.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { collectGarbage, rejects, thrownBy } from "./helpers.js";

class MyExc extends Error {}

/** The classes of the errors of a group, by name. */
function errorTypes(error: unknown): string[] {
  assert.ok(error instanceof asyncio.ExceptionGroup, `${String(error)} is an ExceptionGroup`);
  return [...new Set(error.exceptions.map((e) => (e as Error).constructor.name))].sort();
}

async function thrownByAsync(aw: PromiseLike<unknown>): Promise<unknown> {
  try {
    await aw;
  } catch (e) {
    return e;
  }
  assert.fail("expected an error");
}

// ---- children and results ------------------------------------------------------------

test("the group waits for every child; the body's value is returned (generator body)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const [t1, t2, value] = yield* asyncio.taskGroup(function* (tg) {
      const a = tg.createTask(async () => {
        await asyncio.sleep(1);
        return 42;
      });
      const b = tg.createTask(function* () {
        yield* asyncio.sleep(2);
        return 11;
      });
      return [a, b, "body"] as const;
    });
    assert.equal(t1.result(), 42);
    assert.equal(t2.result(), 11);
    assert.equal(value, "body");
    assert.equal(loop.time(), 2);
  });
});

test("the group waits for every child; the body's value is returned (async body)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const [t1, t2, value] = await asyncio.taskGroup(async (tg) => {
      const a = tg.createTask(async () => {
        await asyncio.sleep(1);
        return 42;
      });
      await asyncio.sleep(0.5);
      const b = tg.createTask(asyncio.sleep(2, 11));
      return [a, b, "body"] as const;
    });
    assert.equal(t1.result(), 42);
    assert.equal(t2.result(), 11);
    assert.equal(value, "body");
    assert.equal(loop.time(), 2.5);
  });
});

test("a child cancelled explicitly does not disturb the group (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const [t1, t2] = yield* asyncio.taskGroup(function* (tg) {
      const a = tg.createTask(asyncio.sleep(10, 42));
      yield* asyncio.sleep(0.15);
      a.cancel();
      const b = tg.createTask(asyncio.sleep(0.2, 11));
      return [a, b];
    });
    assert.ok(t1.cancelled());
    assert.equal(t2.result(), 11);
  });
  await runVirtual(async () => {
    const [t1, t2] = await asyncio.taskGroup(async (tg) => {
      const a = tg.createTask(asyncio.sleep(10, 42));
      await asyncio.sleep(0.15);
      a.cancel();
      const b = tg.createTask(asyncio.sleep(0.2, 11));
      return [a, b];
    });
    assert.ok(t1.cancelled());
    assert.equal(t2.result(), 11);
  });
});

test("children may add children while the group waits for them", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    let started = 0;
    await asyncio.taskGroup(async (tg) => {
      tg.createTask(async () => {
        await asyncio.sleep(1);
        for (const delay of [1, 2]) {
          tg.createTask(function* () {
            started += 1;
            yield* asyncio.sleep(delay);
          });
        }
      });
    });
    assert.equal(started, 2);
    assert.equal(loop.time(), 3);
  });
});

test("createTask passes name and context to the task", async () => {
  await runVirtual(async () => {
    const v = new asyncio.ContextVar<string>("v", { default: "default" });
    const ctx = new asyncio.Context();
    ctx.run(() => v.set("in ctx"));
    await asyncio.taskGroup(async (tg) => {
      const t = tg.createTask(async () => v.get(), { name: "yolo", context: ctx });
      assert.equal(t.getName(), "yolo");
      assert.equal(t.getContext(), ctx);
      assert.equal(await t, "in ctx");
    });
  });
});

// ---- failures ----------------------------------------------------------------------

test("the first child failure cancels the siblings and the body; code after the group does not run (generator body)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let siblingCancelled = false;
    let bodyCancelled = false;
    let after = false;
    let sibling: asyncio.Task<unknown> | null = null;
    const error = yield* thrownBy(
      asyncio.createTask(function* () {
        yield* asyncio.taskGroup(function* (tg) {
          tg.createTask(async () => {
            await asyncio.sleep(0.1);
            throw new RangeError("child");
          });
          sibling = tg.createTask(async () => {
            try {
              await asyncio.sleep(5);
            } catch (e) {
              siblingCancelled = e instanceof asyncio.CancelledError;
              throw e;
            }
          });
          try {
            yield* asyncio.sleep(10);
          } catch (e) {
            bodyCancelled = e instanceof asyncio.CancelledError;
            throw e;
          }
        });
        after = true;
      }),
    );
    assert.deepEqual(errorTypes(error), ["RangeError"]);
    assert.ok(siblingCancelled && bodyCancelled);
    assert.ok((sibling as unknown as asyncio.Task<unknown>).cancelled());
    assert.equal(after, false);
  });
});

test("the first child failure cancels the siblings and the body; code after the group does not run (async body)", async () => {
  await runVirtual(async () => {
    let siblingCancelled = false;
    let bodyCancelled = false;
    let after = false;
    let sibling: asyncio.Task<unknown> | null = null;
    const runner = asyncio.createTask(async () => {
      await asyncio.taskGroup(async (tg) => {
        tg.createTask(function* () {
          yield* asyncio.sleep(0.1);
          throw new RangeError("child");
        });
        sibling = tg.createTask(function* () {
          try {
            yield* asyncio.sleep(5);
          } catch (e) {
            siblingCancelled = e instanceof asyncio.CancelledError;
            throw e;
          }
        });
        try {
          await asyncio.sleep(10);
        } catch (e) {
          bodyCancelled = e instanceof asyncio.CancelledError;
          throw e;
        }
      });
      after = true;
    });
    const error = await thrownByAsync(runner);
    assert.deepEqual(errorTypes(error), ["RangeError"]);
    assert.ok(siblingCancelled && bodyCancelled);
    assert.ok((sibling as unknown as asyncio.Task<unknown>).cancelled());
    assert.equal(after, false);
    assert.equal(runner.cancelled(), false);
  });
});

test("children failing together are all in the ExceptionGroup, which is a subclass of AggregateError (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const error = yield* thrownBy(
      asyncio.taskGroup(function* (tg) {
        for (const message of ["a", "b", "c"]) {
          tg.createTask(async () => {
            await asyncio.sleep(0.1);
            throw new MyExc(message);
          });
        }
        yield* asyncio.sleep(10);
      }),
    );
    assert.ok(error instanceof AggregateError);
    assert.ok(error instanceof asyncio.ExceptionGroup);
    assert.deepEqual(error.exceptions.map((e) => (e as Error).message).sort(), ["a", "b", "c"]);
    assert.equal(error.message, "unhandled errors in a TaskGroup");
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    const error = await thrownByAsync(
      asyncio.taskGroup(async (tg) => {
        for (const message of ["a", "b"]) {
          tg.createTask(function* () {
            yield* asyncio.sleep(0.1);
            throw new MyExc(message);
          });
        }
        await asyncio.sleep(10);
      }),
    );
    assert.ok(error instanceof asyncio.ExceptionGroup);
    assert.deepEqual(error.errors.map((e) => (e as Error).message).sort(), ["a", "b"]);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("a body that fails cancels the children and is included in the group (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const tasks: asyncio.Task<unknown>[] = [];
    const error = yield* thrownBy(
      asyncio.taskGroup(function* (tg) {
        tasks.push(tg.createTask(asyncio.sleep(1, 42)), tg.createTask(asyncio.sleep(2, 11)));
        yield* asyncio.sleep(0.1);
        throw new MyExc("body");
      }),
    );
    assert.deepEqual(errorTypes(error), ["MyExc"]);
    assert.ok(tasks.every((t) => t.cancelled()));
  });
  await runVirtual(async () => {
    const tasks: asyncio.Task<unknown>[] = [];
    const error = await thrownByAsync(
      asyncio.taskGroup(async (tg) => {
        tasks.push(tg.createTask(asyncio.sleep(1, 42)), tg.createTask(asyncio.sleep(2, 11)));
        throw new MyExc("body, before any await");
      }),
    );
    assert.deepEqual(errorTypes(error), ["MyExc"]);
    assert.ok(tasks.every((t) => t.cancelled()));
  });
});

test("an error the body raises while being cancelled by a child failure joins the child's (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const error = yield* thrownBy(
      asyncio.taskGroup(function* (tg) {
        tg.createTask(async () => {
          await asyncio.sleep(0.1);
          throw new RangeError("crash");
        });
        try {
          yield* asyncio.sleep(10);
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: the body raises while cancelled, on purpose
          throw new MyExc("nested");
        }
      }),
    );
    assert.deepEqual(errorTypes(error), ["MyExc", "RangeError"]);
  });
  await runVirtual(async () => {
    const error = await thrownByAsync(
      asyncio.taskGroup(async (tg) => {
        tg.createTask(async () => {
          await asyncio.sleep(0.1);
          throw new RangeError("crash");
        });
        try {
          await asyncio.sleep(10);
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: the body raises while cancelled, on purpose
          throw new MyExc("nested");
        }
      }),
    );
    assert.deepEqual(errorTypes(error), ["MyExc", "RangeError"]);
  });
});

test("nested groups: an inner failure reaches the outer group as a nested ExceptionGroup (both styles)", async () => {
  const crashAfter = (t: number) =>
    async function crash(): Promise<never> {
      await asyncio.sleep(t);
      throw new RangeError(String(t));
    };
  await runVirtual(function* (): asyncio.Coroutine<void> {
    // The outer child fails first: the inner group is cancelled, the outer raises the RangeError.
    const first = yield* thrownBy(
      asyncio.taskGroup(function* (g1) {
        g1.createTask(crashAfter(0.1));
        // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
        yield* asyncio.taskGroup(function* (g2) {
          g2.createTask(crashAfter(10));
        });
      }),
    );
    assert.deepEqual(errorTypes(first), ["RangeError"]);
    // The inner child fails first: the outer group holds the inner group's ExceptionGroup.
    const second = yield* thrownBy(
      asyncio.taskGroup(function* (g1) {
        g1.createTask(crashAfter(10));
        // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
        yield* asyncio.taskGroup(function* (g2) {
          g2.createTask(crashAfter(0.1));
        });
      }),
    );
    assert.deepEqual(errorTypes(second), ["ExceptionGroup"]);
    assert.deepEqual(errorTypes((second as asyncio.ExceptionGroup).exceptions[0]), ["RangeError"]);
  });
  await runVirtual(async () => {
    const second = await thrownByAsync(
      asyncio.taskGroup(async (g1) => {
        g1.createTask(crashAfter(10));
        await asyncio.taskGroup(async (g2) => {
          g2.createTask(crashAfter(0.1));
        });
      }),
    );
    assert.deepEqual(errorTypes(second), ["ExceptionGroup"]);
    assert.deepEqual(errorTypes((second as asyncio.ExceptionGroup).exceptions[0]), ["RangeError"]);
  });
});

test("a child failing after the body returned still cancels the siblings (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let sibling: asyncio.Task<unknown> | null = null;
    const error = yield* thrownBy(
      asyncio.taskGroup(function* (tg) {
        tg.createTask(async () => {
          await asyncio.sleep(1);
          throw new MyExc("late");
        });
        sibling = tg.createTask(asyncio.sleep(10));
      }),
    );
    assert.deepEqual(errorTypes(error), ["MyExc"]);
    assert.ok((sibling as unknown as asyncio.Task<unknown>).cancelled());
    assert.equal(asyncio.getRunningLoop().time(), 1);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    let sibling: asyncio.Task<unknown> | null = null;
    const error = await thrownByAsync(
      asyncio.taskGroup(async (tg) => {
        tg.createTask(
          asyncio.coroutine(function* () {
            yield* asyncio.sleep(1);
            throw new MyExc("late");
          })(),
        );
        sibling = tg.createTask(asyncio.sleep(10));
      }),
    );
    assert.deepEqual(errorTypes(error), ["MyExc"]);
    assert.ok((sibling as unknown as asyncio.Task<unknown>).cancelled());
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("the children's errors are retrieved: nothing is reported to the exception handler", async () => {
  const seen: asyncio.ExceptionContext[] = [];
  await runVirtual(async () => {
    asyncio.getRunningLoop().setExceptionHandler((_loop, context) => {
      seen.push(context);
    });
    await rejects(
      asyncio.taskGroup(async (tg) => {
        for (let i = 0; i < 3; i++) {
          tg.createTask(async () => {
            await asyncio.sleep(1);
            throw new MyExc(String(i));
          });
        }
      }),
      asyncio.ExceptionGroup,
    );
    // The control: a failed future nobody looks at is reported.
    (() => {
      asyncio.getRunningLoop().createFuture().setException(new MyExc("control"));
    })();
  });
  await collectGarbage();
  assert.deepEqual(
    seen.map((context) => (context.exception as Error).message),
    ["control"],
  );
});

// ---- cancellation from outside ------------------------------------------------------

test("cancelling the enclosing task cancels the children and propagates, with its message, unwrapped (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let childrenCancelled = 0;
    let bodyCancelled = false;
    const runner = asyncio.createTask(
      asyncio.taskGroup(function* (tg) {
        for (let i = 0; i < 5; i++) {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(5);
            } catch (e) {
              childrenCancelled += 1;
              throw e;
            }
          });
        }
        try {
          yield* asyncio.sleep(10);
        } catch (e) {
          bodyCancelled = true;
          throw e;
        }
      }),
    );
    yield* asyncio.sleep(0.1);
    runner.cancel("test");
    const error = yield* thrownBy(runner);
    assert.ok(error instanceof asyncio.CancelledError);
    assert.equal(error.message, "test");
    assert.equal(childrenCancelled, 5);
    assert.ok(bodyCancelled);
    assert.ok(runner.cancelled());
  });
  await runVirtual(async () => {
    let childrenCancelled = 0;
    const runner = asyncio.createTask(async () => {
      await asyncio.taskGroup(async (tg) => {
        for (let i = 0; i < 5; i++) {
          tg.createTask(function* () {
            try {
              yield* asyncio.sleep(5);
            } catch (e) {
              childrenCancelled += 1;
              throw e;
            }
          });
        }
        // The body is done; the scope waits for the children when the cancellation comes.
      });
    });
    await asyncio.sleep(0.1);
    runner.cancel("test");
    const error = await thrownByAsync(runner);
    assert.ok(error instanceof asyncio.CancelledError);
    assert.equal(error.message, "test");
    assert.equal(childrenCancelled, 5);
    assert.ok(runner.cancelled());
  });
});

test("a child failing while the body cleans up after an outside cancellation: the error wins, as an ExceptionGroup (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const runner = asyncio.createTask(
      asyncio.taskGroup(function* (g) {
        g.createTask(async () => {
          await asyncio.sleep(0.3);
          throw new RangeError("crash soon");
        });
        try {
          yield* asyncio.sleep(10);
        } catch (e) {
          yield* asyncio.sleep(0.5);
          throw e;
        }
      }),
    );
    yield* asyncio.sleep(0.1);
    runner.cancel();
    // The child fails at 0.3, while the body sleeps in its handler: errors have priority over the cancellation.
    assert.deepEqual(errorTypes(yield* thrownBy(runner)), ["RangeError"]);
    assert.equal(runner.cancelled(), false);
  });
  await runVirtual(async () => {
    const runner = asyncio.createTask(async () => {
      await asyncio.taskGroup(async (g) => {
        g.createTask(async () => {
          await asyncio.sleep(0.3);
          throw new RangeError("crash soon");
        });
        try {
          await asyncio.sleep(10);
        } catch (e) {
          await asyncio.sleep(0.5);
          throw e;
        }
      });
    });
    await asyncio.sleep(0.1);
    runner.cancel();
    assert.deepEqual(errorTypes(await thrownByAsync(runner)), ["RangeError"]);
    assert.equal(runner.cancelled(), false);
  });
});

test("a body that turns the outside cancellation into an error raises it in a group (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const runner = asyncio.createTask(
      asyncio.taskGroup(function* () {
        try {
          yield* asyncio.sleep(10);
        } catch {
          throw new MyExc("instead of cancelled");
        }
      }),
    );
    yield* asyncio.sleep(0.1);
    runner.cancel();
    assert.deepEqual(errorTypes(yield* thrownBy(runner)), ["MyExc"]);
  });
  await runVirtual(async () => {
    const runner = asyncio.createTask(async () => {
      await asyncio.taskGroup(async () => {
        try {
          await asyncio.sleep(10);
        } catch {
          throw new MyExc("instead of cancelled");
        }
      });
    });
    await asyncio.sleep(0.1);
    runner.cancel();
    assert.deepEqual(errorTypes(await thrownByAsync(runner)), ["MyExc"]);
  });
});

test("race: a child fails while the group is being cancelled from outside; the cancellation stays pending (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const runner = asyncio.createTask(function* () {
      let group: unknown;
      try {
        yield* asyncio.taskGroup(function* (tg) {
          tg.createTask(async () => {
            try {
              await asyncio.sleep(10);
            } finally {
              // biome-ignore lint/correctness/noUnsafeFinally: the child fails while being cancelled, on purpose
              throw new MyExc("failed while cancelled");
            }
          });
          yield* asyncio.sleep(10);
        });
      } catch (e) {
        group = e;
      }
      assert.deepEqual(errorTypes(group), ["MyExc"]);
      assert.equal(asyncio.currentTask()?.cancelling(), 1);
      yield* asyncio.sleep(1); // the pending cancellation is delivered here
      return "not reached";
    });
    yield* asyncio.sleep(0.1);
    runner.cancel();
    assert.ok((yield* thrownBy(runner)) instanceof asyncio.CancelledError);
  });
  await runVirtual(async () => {
    const runner = asyncio.createTask(async () => {
      let group: unknown;
      try {
        await asyncio.taskGroup(async (tg) => {
          tg.createTask(function* () {
            try {
              yield* asyncio.sleep(10);
            } finally {
              // biome-ignore lint/correctness/noUnsafeFinally: the child fails while being cancelled, on purpose
              throw new MyExc("failed while cancelled");
            }
          });
          await asyncio.sleep(10);
        });
      } catch (e) {
        group = e;
      }
      assert.deepEqual(errorTypes(group), ["MyExc"]);
      assert.equal(asyncio.currentTask()?.cancelling(), 1);
      await asyncio.sleep(1);
      return "not reached";
    });
    await asyncio.sleep(0.1);
    runner.cancel();
    assert.ok((await thrownByAsync(runner)) instanceof asyncio.CancelledError);
  });
});

test("a child that swallows the cancellation does not swallow the enclosing task's (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const runner = asyncio.createTask(
      asyncio.taskGroup(function* (tg) {
        tg.createTask(async () => {
          try {
            await asyncio.sleep(10);
          } catch {
            await asyncio.sleep(1);
            return "swallowed";
          }
        });
        yield* asyncio.sleep(10);
      }),
    );
    yield* asyncio.sleep(0.1);
    runner.cancel();
    assert.ok((yield* thrownBy(runner)) instanceof asyncio.CancelledError);
    assert.equal(asyncio.getRunningLoop().time(), 1.1);
  });
  await runVirtual(async () => {
    const runner = asyncio.createTask(async () => {
      await asyncio.taskGroup(async (tg) => {
        tg.createTask(function* () {
          try {
            yield* asyncio.sleep(10);
          } catch {
            yield* asyncio.sleep(1);
          }
        });
      });
      return "not reached";
    });
    await asyncio.sleep(0.1);
    runner.cancel();
    assert.ok((await thrownByAsync(runner)) instanceof asyncio.CancelledError);
  });
});

test("nested groups failing at once: each takes back its own cancel request (both styles)", async () => {
  const raiseAfter = (t: number, make: () => Error) =>
    async function raising(): Promise<never> {
      await asyncio.sleep(t);
      throw make();
    };
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const outer = yield* thrownBy(
      asyncio.taskGroup(function* (outerTg) {
        const inner = yield* thrownBy(
          asyncio.taskGroup(function* (innerTg) {
            innerTg.createTask(raiseAfter(0, () => new asyncio.RuntimeError("inner")));
            outerTg.createTask(raiseAfter(0, () => new asyncio.ValueError("outer")));
          }),
        );
        const [matched, rest] = (inner as asyncio.ExceptionGroup).split(asyncio.RuntimeError);
        assert.ok(matched !== null && rest === null);
        assert.equal(asyncio.currentTask()?.cancelling(), 1, "the outer group's request is still there");
      }),
    );
    assert.deepEqual(errorTypes(outer), ["ValueError"]);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
    yield* asyncio.sleep(1); // no cancellation is left pending
  });
  await runVirtual(async () => {
    const outer = await thrownByAsync(
      asyncio.taskGroup(async (outerTg) => {
        const inner = await thrownByAsync(
          asyncio.taskGroup(async (innerTg) => {
            innerTg.createTask(raiseAfter(0, () => new asyncio.RuntimeError("inner")));
            outerTg.createTask(raiseAfter(0, () => new asyncio.ValueError("outer")));
          }),
        );
        assert.deepEqual(errorTypes(inner), ["RuntimeError"]);
        assert.equal(asyncio.currentTask()?.cancelling(), 1, "the outer group's request is still there");
      }),
    );
    assert.deepEqual(errorTypes(outer), ["ValueError"]);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
    await asyncio.sleep(1);
  });
});

test("race: a child fails right when the parent is cancelled from outside; the error is raised, the cancellation kept (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const started = loop.createFuture<void>();
    const steps: string[] = [];
    const t = asyncio.createTask(function* () {
      try {
        yield* asyncio.taskGroup(function* (tg) {
          tg.createTask(function* () {
            started.setResult();
            yield* asyncio.sleep(0);
            throw new asyncio.RuntimeError("child");
          });
          yield* asyncio.sleep(1);
          steps.push("sleep in group not cancelled");
        });
      } catch (e) {
        assert.deepEqual(errorTypes(e), ["RuntimeError"]);
        steps.push(`caught, cancelling=${asyncio.currentTask()?.cancelling()}`);
      }
      yield* asyncio.sleep(1);
      steps.push("sleep after group not cancelled");
    });
    yield* started;
    assert.equal(t.cancelling(), 0);
    t.cancel();
    assert.equal(t.cancelling(), 1);
    assert.ok((yield* thrownBy(t)) instanceof asyncio.CancelledError);
    assert.ok(t.cancelled());
    assert.deepEqual(steps, ["caught, cancelling=1"]);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const started = loop.createFuture<void>();
    const steps: string[] = [];
    const t = asyncio.createTask(async () => {
      try {
        await asyncio.taskGroup(async (tg) => {
          tg.createTask(async () => {
            started.setResult();
            await asyncio.sleep(0);
            throw new asyncio.RuntimeError("child");
          });
          await asyncio.sleep(1);
          steps.push("sleep in group not cancelled");
        });
      } catch (e) {
        assert.deepEqual(errorTypes(e), ["RuntimeError"]);
        steps.push(`caught, cancelling=${asyncio.currentTask()?.cancelling()}`);
      }
      await asyncio.sleep(1);
      steps.push("sleep after group not cancelled");
    });
    await started;
    t.cancel();
    assert.ok((await thrownByAsync(t)) instanceof asyncio.CancelledError);
    assert.ok(t.cancelled());
    assert.deepEqual(steps, ["caught, cancelling=1"]);
  });
});

// ---- with timeout() --------------------------------------------------------------------

test("an enclosing timeout() still times out a group, thanks to uncancel() bookkeeping (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    let child: asyncio.Task<unknown> | null = null;
    const error = yield* thrownBy(
      asyncio.timeout(1, function* () {
        yield* asyncio.taskGroup(function* (tg) {
          child = tg.createTask(asyncio.sleep(10));
          yield* asyncio.sleep(10);
        });
      }),
    );
    assert.ok(error instanceof asyncio.TimeoutError);
    assert.ok((child as unknown as asyncio.Task<unknown>).cancelled());
    assert.equal(loop.time(), 1);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    await rejects(
      asyncio.timeout(1, async () => {
        await asyncio.taskGroup(async (tg) => {
          tg.createTask(asyncio.sleep(10));
        });
      }),
      asyncio.TimeoutError,
    );
    assert.equal(loop.time(), 1);
    assert.equal(asyncio.currentTask()?.cancelling(), 0);
  });
});

test("a child failure inside a timeout() raises the ExceptionGroup, not TimeoutError, and the timeout still works after (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const timedOut = yield* thrownBy(
      asyncio.timeout(5, function* () {
        const error = yield* thrownBy(
          asyncio.taskGroup(function* (tg) {
            tg.createTask(async () => {
              await asyncio.sleep(1);
              throw new MyExc("child");
            });
            yield* asyncio.sleep(10);
          }),
        );
        assert.deepEqual(errorTypes(error), ["MyExc"]);
        assert.equal(asyncio.currentTask()?.cancelling(), 0);
        const late = yield* thrownBy(asyncio.sleep(10));
        assert.ok(late instanceof asyncio.CancelledError, "the timeout cancels the body at 5");
        throw late;
      }),
    );
    assert.ok(timedOut instanceof asyncio.TimeoutError);
    assert.equal(loop.time(), 5);
  });
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    await rejects(
      asyncio.timeout(5, async () => {
        const error = await thrownByAsync(
          asyncio.taskGroup(async (tg) => {
            tg.createTask(async () => {
              await asyncio.sleep(1);
              throw new MyExc("child");
            });
            await asyncio.sleep(10);
          }),
        );
        assert.deepEqual(errorTypes(error), ["MyExc"]);
        assert.equal(asyncio.currentTask()?.cancelling(), 0);
        await asyncio.sleep(10);
      }),
      asyncio.TimeoutError,
    );
    assert.equal(loop.time(), 5);
  });
});

test("a timeout() inside the group's body that expires is caught there and the group goes on (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const [t] = yield* asyncio.taskGroup(function* (tg) {
      const child = tg.createTask(asyncio.sleep(3, "child"));
      const error = yield* thrownBy(
        asyncio.timeout(1, function* () {
          yield* asyncio.sleep(10);
        }),
      );
      assert.ok(error instanceof asyncio.TimeoutError);
      return [child];
    });
    assert.equal(t.result(), "child");
  });
  await runVirtual(async () => {
    const [t] = await asyncio.taskGroup(async (tg) => {
      const child = tg.createTask(asyncio.sleep(3, "child"));
      await rejects(
        asyncio.timeout(1, async () => {
          await asyncio.sleep(10);
        }),
        asyncio.TimeoutError,
      );
      return [child];
    });
    assert.equal(t.result(), "child");
  });
});

// ---- misuse ------------------------------------------------------------------------------

test("a group cannot be entered twice, inside itself or after it is left (both styles)", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    const tg = new asyncio.TaskGroup();
    yield* tg.run(function* (inner) {
      assert.equal(inner, tg);
      const error = yield* thrownBy(tg.run(function* () {}));
      assert.ok(error instanceof asyncio.RuntimeError && /already been entered/.test(error.message));
    });
    assert.ok((yield* thrownBy(tg.run(function* () {}))) instanceof asyncio.RuntimeError);
  });
  await runVirtual(async () => {
    const tg = new asyncio.TaskGroup();
    await tg.run(async () => {
      await rejects(
        tg.run(async () => {}),
        asyncio.RuntimeError,
      );
    });
    await rejects(
      tg.run(async () => {}),
      asyncio.RuntimeError,
    );
  });
});

test("createTask before entry, after the group finished, or while it shuts down is refused and closes the coroutine", async () => {
  await runVirtual(async () => {
    let ran = 0;
    function* counted(): asyncio.Coroutine<void> {
      ran += 1;
      yield* asyncio.sleep(0);
    }
    const fresh = new asyncio.TaskGroup();
    const gen1 = counted();
    assert.throws(
      () => fresh.createTask(gen1),
      (e: unknown) => e instanceof asyncio.RuntimeError && /not been entered/.test(e.message),
    );
    assert.deepEqual(gen1.next(), { value: undefined, done: true }, "the generator was closed");

    let finished: asyncio.TaskGroup | null = null;
    await asyncio.taskGroup(async (tg) => {
      finished = tg;
    });
    const coro = asyncio.coroutine(counted)();
    assert.throws(
      () => (finished as unknown as asyncio.TaskGroup).createTask(coro),
      (e: unknown) => e instanceof asyncio.RuntimeError && /is finished/.test(e.message),
    );
    await rejects(coro, asyncio.RuntimeError); // consumed: the Coro was closed

    const shuttingDown = await thrownByAsync(
      asyncio.taskGroup(async (tg) => {
        tg.createTask(async () => {
          throw new MyExc("first");
        });
        try {
          await asyncio.sleep(1);
        } finally {
          const gen2 = counted();
          assert.throws(
            () => tg.createTask(gen2),
            (e: unknown) => e instanceof asyncio.RuntimeError && /shutting down/.test(e.message),
          );
          assert.equal(gen2.next().done, true);
        }
      }),
    );
    assert.deepEqual(errorTypes(shuttingDown), ["MyExc"]);
    assert.equal(ran, 0);
  });
});

test("createTask works from a generator body on a finished group's sibling: each group is its own", async () => {
  await runVirtual(function* (): asyncio.Coroutine<void> {
    let first: asyncio.TaskGroup | null = null;
    // biome-ignore lint/correctness/useYield: a generator body that never suspends is a case to cover
    yield* asyncio.taskGroup(function* (tg) {
      first = tg;
    });
    const result = yield* asyncio.taskGroup(function* (tg) {
      assert.notEqual(tg, first);
      return yield* tg.createTask(asyncio.sleep(1, "second"));
    });
    assert.equal(result, "second");
    assert.throws(() => (first as unknown as asyncio.TaskGroup).createTask(asyncio.sleep(0)), asyncio.RuntimeError);
  });
});

test("a group entered outside any task is refused", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const outcome = loop.createFuture<unknown>();
    loop.callSoon(() => {
      asyncio
        .taskGroup(async () => "entered")
        .then(
          (value) => outcome.setResult(value),
          (e: unknown) => outcome.setResult(e),
        );
    });
    const error = await outcome;
    assert.ok(error instanceof asyncio.RuntimeError && /parent task/.test(error.message));
  });
});

test("taskGroup() needs a body function", async () => {
  await runVirtual(async () => {
    assert.throws(() => asyncio.taskGroup(42 as never), TypeError);
    assert.throws(() => new asyncio.TaskGroup().run(null as never), TypeError);
  });
});

test("repr says the tasks, the errors and the state", async () => {
  await runVirtual(async () => {
    const tg = new asyncio.TaskGroup();
    assert.equal(inspect(tg), "<TaskGroup>");
    await tg.run(async () => {
      assert.equal(String(tg), "<TaskGroup entered>");
      tg.createTask(asyncio.sleep(1));
      tg.createTask(asyncio.sleep(1));
      assert.equal(String(tg), "<TaskGroup tasks=2 entered>");
    });
    const failing = new asyncio.TaskGroup();
    await rejects(
      failing.run(async () => {
        failing.createTask(async () => {
          throw new MyExc("x");
        });
        failing.createTask(asyncio.sleep(5));
        try {
          await asyncio.sleep(1);
        } finally {
          assert.equal(String(failing), "<TaskGroup tasks=1 errors=1 cancelling>");
        }
      }),
      asyncio.ExceptionGroup,
    );
  });
});
