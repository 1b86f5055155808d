/**
 * Property test of StreamReader: fast-check builds random byte strings
 * (from a small alphabet rich in separators), delivers them through a
 * StreamReaderProtocol from an in-memory transport in random chunk sizes
 * (a small limit, so that the reader pauses and resumes the transport),
 * and runs a random sequence of reads (`read(n)`, `read()`,
 * `readexactly(n)`, `readuntil` with one or several separators), in either
 * coroutine style, on a virtual-time loop.
 *
 * Invariant: no byte is lost or duplicated. The concatenation of every
 * result (with the `partial` of each IncompleteReadError, and, after a
 * LimitOverrunError, the `consumed` bytes read with `readexactly`) equals
 * the data sent. Also: `readexactly(n)` returns n bytes, `read(n)` at most
 * n, `readuntil` ends with one of its separators.
 *
 * Runs are seeded (FC_SEED, default fixed) and counted (FC_RUNS scales them).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import fc from "fast-check";
import { MemoryTransport } from "./memory_transport.js";

const SEED = process.env.FC_SEED === undefined ? 20261201 : Number(process.env.FC_SEED);
const RUN_SCALE = process.env.FC_RUNS === undefined ? 1 : Number(process.env.FC_RUNS);
const runs = (n: number): number => Math.max(1, Math.round(n * RUN_SCALE));

type Op = { kind: "read"; n: number } | { kind: "readexactly"; n: number } | { kind: "readuntil"; seps: string[] };

const SEPARATORS = ["\n", "\r\n", "|", "ab", "||"];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("read" as const), n: fc.integer({ min: -1, max: 40 }) }),
  fc.record({ kind: fc.constant("readexactly" as const), n: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ kind: fc.constant("readuntil" as const), seps: fc.subarray(SEPARATORS, { minLength: 1 }) }),
);

const scenarioArb = fc.record({
  data: fc.array(fc.constantFrom("a", "b", "c", "\n", "\r", "|"), { maxLength: 300 }).map((chars) => chars.join("")),
  chunk: fc.integer({ min: 1, max: 17 }),
  limit: fc.integer({ min: 4, max: 24 }),
  ops: fc.array(opArb, { maxLength: 40 }),
});

type Scenario = { data: string; chunk: number; limit: number; ops: Op[] };

/** What one read gave back, and whether the reader reached its end. */
type Step = { out: Buffer[]; eof: boolean };

function check(op: Op, result: Buffer): void {
  if (op.kind === "readexactly") assert.equal(result.length, op.n);
  if (op.kind === "read" && op.n >= 0) assert.ok(result.length <= op.n);
  if (op.kind === "readuntil") assert.ok(op.seps.some((sep) => result.toString("latin1").endsWith(sep)));
}

function start(reader: asyncio.StreamReader, op: Op): asyncio.Coro<Buffer> {
  if (op.kind === "read") return reader.read(op.n);
  if (op.kind === "readexactly") return reader.readexactly(op.n);
  return reader.readuntil(op.seps.map((sep) => Buffer.from(sep, "latin1")));
}

function* stepGen(reader: asyncio.StreamReader, op: Op): asyncio.Coroutine<Step> {
  try {
    const result = yield* start(reader, op);
    check(op, result);
    return { out: [result], eof: false };
  } catch (error) {
    if (error instanceof asyncio.IncompleteReadError) return { out: [Buffer.from(error.partial)], eof: true };
    if (!(error instanceof asyncio.LimitOverrunError)) throw error;
    try {
      return { out: [yield* reader.readexactly(error.consumed)], eof: false };
    } catch (inner) {
      if (inner instanceof asyncio.IncompleteReadError) return { out: [Buffer.from(inner.partial)], eof: true };
      throw inner;
    }
  }
}

async function stepAsync(reader: asyncio.StreamReader, op: Op): Promise<Step> {
  try {
    const result = await start(reader, op);
    check(op, result);
    return { out: [result], eof: false };
  } catch (error) {
    if (error instanceof asyncio.IncompleteReadError) return { out: [Buffer.from(error.partial)], eof: true };
    if (!(error instanceof asyncio.LimitOverrunError)) throw error;
    try {
      return { out: [await reader.readexactly(error.consumed)], eof: false };
    } catch (inner) {
      if (inner instanceof asyncio.IncompleteReadError) return { out: [Buffer.from(inner.partial)], eof: true };
      throw inner;
    }
  }
}

/** A reader fed `data` in `chunk`-byte pieces by a transport, then EOF. */
function connect(scenario: Scenario): asyncio.StreamReader {
  const loop = asyncio.getRunningLoop();
  const reader = new asyncio.StreamReader(scenario.limit, { loop });
  const protocol = new asyncio.StreamReaderProtocol(reader, null, { loop });
  const peer = new asyncio.StreamReaderProtocol(null, null, { loop });
  const [, peerTransport] = MemoryTransport.pair(loop, protocol, peer, scenario.chunk);
  peerTransport.write(Buffer.from(scenario.data, "latin1"));
  peerTransport.writeEof();
  return reader;
}

function* runGen(scenario: Scenario): asyncio.Coroutine<Buffer[]> {
  const reader = connect(scenario);
  const out: Buffer[] = [];
  for (const op of scenario.ops) {
    const step = yield* stepGen(reader, op);
    out.push(...step.out);
  }
  out.push(yield* reader.read());
  assert.ok(reader.atEof());
  return out;
}

async function runAsync(scenario: Scenario): Promise<Buffer[]> {
  const reader = connect(scenario);
  const out: Buffer[] = [];
  for (const op of scenario.ops) {
    const step = await stepAsync(reader, op);
    out.push(...step.out);
  }
  out.push(await reader.read());
  assert.ok(reader.atEof());
  return out;
}

for (const style of ["generators", "async functions"] as const) {
  test(`no byte lost or duplicated across random reads (${style})`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const out = await runVirtual(style === "generators" ? runGen(scenario) : () => runAsync(scenario));
        assert.equal(Buffer.concat(out).toString("latin1"), scenario.data);
      }),
      { seed: SEED, numRuns: runs(150) },
    );
  });
}
