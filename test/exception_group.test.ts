/**
 * ExceptionGroup (Python's, as a subclass of AggregateError): construction
 * and its checks, `exceptions`/`errors`, `subgroup`, `split` and `derive`
 * with classes, lists of classes and predicates, nesting and `cause` kept;
 * and handling a TaskGroup's group the way `except*` does, from both
 * coroutine styles.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";

class NetError extends Error {}
class DiskError extends Error {}

/** The leaves of a group, depth first, by message. */
function leaves(group: asyncio.ExceptionGroup | null): string[] {
  if (group === null) return [];
  return group.exceptions.flatMap((e) => (e instanceof asyncio.ExceptionGroup ? leaves(e) : [(e as Error).message]));
}

/** The shape of a group: messages of the leaves, nested groups as arrays. */
function shape(group: asyncio.ExceptionGroup): unknown[] {
  return group.exceptions.map((e) => (e instanceof asyncio.ExceptionGroup ? shape(e) : (e as Error).message));
}

function sample(): asyncio.ExceptionGroup {
  return new asyncio.ExceptionGroup("outer", [
    new NetError("net1"),
    new asyncio.ExceptionGroup("inner", [new DiskError("disk1"), new NetError("net2")]),
    new DiskError("disk2"),
  ]);
}

test("an ExceptionGroup is an AggregateError whose exceptions are a frozen copy", () => {
  const list: unknown[] = [new NetError("a"), new DiskError("b")];
  const group = new asyncio.ExceptionGroup("two errors", list);
  assert.ok(group instanceof Error);
  assert.ok(group instanceof AggregateError);
  assert.ok(group instanceof asyncio.ExceptionGroup);
  assert.equal(group.name, "ExceptionGroup");
  assert.equal(group.message, "two errors");
  assert.deepEqual([...group.exceptions], list);
  assert.deepEqual(group.errors, list);
  assert.ok(Object.isFrozen(group.exceptions));
  list.push(new Error("later"));
  assert.equal(group.exceptions.length, 2, "later changes to the array do not reach the group");
  assert.equal(new NetError("x") instanceof asyncio.ExceptionGroup, false);
  assert.equal(new AggregateError([]) instanceof asyncio.ExceptionGroup, false);
});

test("the constructor checks its arguments as Python's does", () => {
  assert.throws(() => new asyncio.ExceptionGroup(42 as never, [new Error()]), TypeError);
  assert.throws(() => new asyncio.ExceptionGroup("m", new Error() as never), TypeError);
  assert.throws(() => new asyncio.ExceptionGroup("m", []), asyncio.ValueError);
});

test("subgroup keeps the nesting of what matches a class, and gives null when nothing does", () => {
  const group = sample();
  const net = group.subgroup(NetError);
  assert.ok(net !== null);
  assert.deepEqual(shape(net), ["net1", ["net2"]]);
  assert.equal(net.message, "outer");
  assert.equal((net.exceptions[1] as asyncio.ExceptionGroup).message, "inner");
  assert.equal(group.subgroup(TypeError), null);
  assert.deepEqual(leaves(group.subgroup([NetError, DiskError])), ["net1", "disk1", "net2", "disk2"]);
});

test("subgroup and split take a predicate, which also sees the groups themselves", () => {
  const group = sample();
  const seen: string[] = [];
  const byName = group.subgroup((e) => {
    seen.push((e as Error).message);
    return (e as Error).message.endsWith("1");
  });
  assert.deepEqual(leaves(byName), ["net1", "disk1"]);
  assert.ok(seen.includes("outer") && seen.includes("inner"));
  const whole = group.subgroup((e) => e instanceof asyncio.ExceptionGroup && e.message === "outer");
  assert.equal(whole, group, "a group that matches as a whole is returned as it is");
  const [inner, rest] = group.split((e) => e instanceof asyncio.ExceptionGroup && e.message === "inner");
  assert.deepEqual(shape(inner as asyncio.ExceptionGroup), [["disk1", "net2"]]);
  assert.deepEqual(shape(rest as asyncio.ExceptionGroup), ["net1", "disk2"]);
});

test("split gives [match, rest], each null when empty, both keeping the nesting", () => {
  const group = sample();
  const [disk, rest] = group.split(DiskError);
  assert.deepEqual(shape(disk as asyncio.ExceptionGroup), [["disk1"], "disk2"]);
  assert.deepEqual(shape(rest as asyncio.ExceptionGroup), ["net1", ["net2"]]);
  const [all, none] = group.split(Error);
  assert.deepEqual(leaves(all), ["net1", "disk1", "net2", "disk2"]);
  assert.equal(none, null);
  const [nothing, everything] = group.split(TypeError);
  assert.equal(nothing, null);
  assert.deepEqual(leaves(everything), ["net1", "disk1", "net2", "disk2"]);
});

test("split and subgroup copy the cause; derive makes a group of the same message", () => {
  const group = sample();
  const cause = new Error("root cause");
  group.cause = cause;
  const [match, rest] = group.split(NetError);
  assert.equal(match?.cause, cause);
  assert.equal(rest?.cause, cause);
  const derived = group.derive([new DiskError("only")]);
  assert.ok(derived instanceof asyncio.ExceptionGroup);
  assert.equal(derived.message, "outer");
  assert.deepEqual(shape(derived), ["only"]);
});

test("a TaskGroup's errors handled like except*: the matching part handled, the rest raised (generator)", async () => {
  const handled = await runVirtual(function* (): asyncio.Coroutine<string[]> {
    try {
      yield* asyncio.taskGroup(function* (tg) {
        tg.createTask(async () => {
          await asyncio.sleep(1);
          throw new NetError("timeout talking to db");
        });
        tg.createTask(function* () {
          yield* asyncio.sleep(1);
          throw new DiskError("disk full");
        });
        yield* asyncio.sleep(10);
      });
      return [];
    } catch (e) {
      assert.ok(e instanceof asyncio.ExceptionGroup);
      const [net, rest] = e.split(NetError);
      assert.deepEqual(leaves(rest), ["disk full"]);
      return leaves(net);
    }
  });
  assert.deepEqual(handled, ["timeout talking to db"]);
});

test("a TaskGroup's errors handled like except*: the unmatched part propagates (async)", async () => {
  await assert.rejects(
    runVirtual(async () => {
      try {
        await asyncio.taskGroup(async (tg) => {
          tg.createTask(async () => {
            throw new NetError("net");
          });
          tg.createTask(async () => {
            throw new DiskError("disk");
          });
        });
      } catch (e) {
        if (!(e instanceof asyncio.ExceptionGroup)) throw e;
        const [, rest] = e.split(NetError);
        if (rest !== null) throw rest;
      }
    }),
    (e: unknown) => e instanceof asyncio.ExceptionGroup && leaves(e).join() === "disk",
  );
});

test("split() takes a plain `function` predicate as a predicate, not as a class", () => {
  const group = new asyncio.ExceptionGroup("two", [new asyncio.ValueError("a"), new asyncio.RuntimeError("b")]);
  const [match, rest] = group.split((e: unknown) => e instanceof asyncio.ValueError);
  assert.equal(match?.exceptions.length, 1);
  assert.ok(match?.exceptions[0] instanceof asyncio.ValueError);
  assert.ok(rest?.exceptions[0] instanceof asyncio.RuntimeError);
});
