/**
 * Unit tests of the streams (streams.ts) on a virtual-time loop: the
 * StreamReader fed by hand (`feedData`/`feedEof`/`setException`) and,
 * through StreamReaderProtocol, by an in-memory transport pair that pauses
 * and buffers as a socket would (memory_transport.ts); StreamWriter's
 * flow control over it; StreamReader.fromReadable / StreamWriter.fromWritable
 * over Node streams. Each feature in both coroutine styles.
 */
import assert from "node:assert/strict";
import { PassThrough, Readable, Writable } from "node:stream";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { runVirtual } from "asyncio-ts/testing";
import { rejects, thrownBy } from "./helpers.js";
import { MemoryTransport } from "./memory_transport.js";

const b = (s: string): Buffer => Buffer.from(s);
const text = (data: Uint8Array): string => Buffer.from(data).toString();

function fed(chunks: string[], { eof = true, limit }: { eof?: boolean; limit?: number } = {}): asyncio.StreamReader {
  const reader = new asyncio.StreamReader(limit);
  for (const chunk of chunks) reader.feedData(b(chunk));
  if (eof) reader.feedEof();
  return reader;
}

interface Pair {
  reader: asyncio.StreamReader;
  writer: asyncio.StreamWriter;
  peerReader: asyncio.StreamReader;
  peerWriter: asyncio.StreamWriter;
  transport: MemoryTransport;
  peerTransport: MemoryTransport;
}

/** Two stream endpoints joined by a MemoryTransport pair, inside the running loop. */
function pair({ limit, chunk }: { limit?: number; chunk?: number } = {}): Pair {
  const loop = asyncio.getRunningLoop();
  const reader = new asyncio.StreamReader(limit, { loop });
  const peerReader = new asyncio.StreamReader(limit, { loop });
  const protocol = new asyncio.StreamReaderProtocol(reader, null, { loop });
  const peerProtocol = new asyncio.StreamReaderProtocol(peerReader, null, { loop });
  const [transport, peerTransport] = MemoryTransport.pair(loop, protocol, peerProtocol, chunk);
  return {
    reader,
    peerReader,
    transport,
    peerTransport,
    writer: new asyncio.StreamWriter(transport, protocol, reader, loop),
    peerWriter: new asyncio.StreamWriter(peerTransport, peerProtocol, peerReader, loop),
  };
}

// --- read ---

test("read(n) returns what is buffered, at most n; read(0) is empty; at EOF empty (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = fed(["hello ", "world"]);
      assert.equal(text(yield* reader.read(0)), "");
      assert.equal(text(yield* reader.read(3)), "hel");
      assert.equal(text(yield* reader.read(100)), "lo world");
      assert.equal(text(yield* reader.read(100)), "");
      assert.ok(reader.atEof());
    })(),
  );
});

test("read(n) returns what is buffered, at most n; read(0) is empty; at EOF empty (async)", async () => {
  await runVirtual(async () => {
    const reader = fed(["hello ", "world"]);
    assert.equal(text(await reader.read(0)), "");
    assert.equal(text(await reader.read(3)), "hel");
    assert.equal(text(await reader.read(100)), "lo world");
    assert.equal(text(await reader.read(100)), "");
    assert.ok(reader.atEof());
  });
});

test("read() waits for data, and read(-1) reads to EOF across many chunks larger than the limit (generators)", async () => {
  await runVirtual(
    (function* () {
      const loop = asyncio.getRunningLoop();
      const reader = new asyncio.StreamReader(4);
      loop.callLater(1, () => reader.feedData(b("abc")));
      assert.equal(text(yield* reader.read(10)), "abc");
      for (let i = 0; i < 5; i++) loop.callLater(1 + i, () => reader.feedData(b(`chunk${i};`)));
      loop.callLater(7, () => reader.feedEof());
      assert.equal(text(yield* reader.read()), "chunk0;chunk1;chunk2;chunk3;chunk4;");
      assert.equal(text(yield* reader.read(-1)), "");
    })(),
  );
});

test("read() waits for data, and read(-1) reads to EOF across many chunks larger than the limit (async)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const reader = new asyncio.StreamReader(4);
    loop.callLater(1, () => reader.feedData(b("abc")));
    assert.equal(text(await reader.read(10)), "abc");
    for (let i = 0; i < 5; i++) loop.callLater(1 + i, () => reader.feedData(b(`chunk${i};`)));
    loop.callLater(7, () => reader.feedEof());
    assert.equal(text(await reader.read()), "chunk0;chunk1;chunk2;chunk3;chunk4;");
    assert.equal(text(await reader.read(-1)), "");
  });
});

test("read(n).then(f, g) called directly on a read that waits: f runs later, and its result or throw settles then()'s Promise", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const reader = new asyncio.StreamReader();
    const order: string[] = [];
    const mapped = reader.read(10).then((data) => {
      order.push(`fulfilled ${text(data)}`);
      return data.length;
    });
    order.push("then() returned");
    loop.callLater(1, () => reader.feedData(b("abc")));
    assert.equal(await mapped, 3, "then()'s Promise has what the callback returned");
    const failing = reader.read(10).then(() => {
      throw new Error("from the callback");
    });
    loop.callLater(1, () => reader.feedData(b("de")));
    await assert.rejects(failing, /from the callback/);
    // Without callbacks the value passes through; a failure goes to onRejected.
    const passed = reader.read(10).then();
    loop.callLater(1, () => reader.feedData(b("f")));
    assert.equal(text((await passed) as Buffer), "f");
    const rejected = reader.read(10).then(
      () => "fulfilled",
      (error: unknown) => `rejected ${(error as Error).message}`,
    );
    loop.callLater(1, () => reader.setException(new Error("boom")));
    assert.equal(await rejected, "rejected boom", "a failed read goes to onRejected, whose result resolves then()");
    assert.deepEqual(order, ["then() returned", "fulfilled abc"]);
  });
});

test("a generator coroutine's then(f, g) called directly: f runs after then() returns, suspended or not, and settles its Promise", async () => {
  await runVirtual(async () => {
    const order: string[] = [];
    // biome-ignore lint/correctness/useYield: a coroutine that ends without suspending
    const quick = asyncio.coroutine(function* () {
      return 1;
    });
    const slow = asyncio.coroutine(function* () {
      yield* asyncio.sleep(1);
      return 2;
    });
    const failing = asyncio.coroutine(function* () {
      yield* asyncio.sleep(1);
      throw new Error("from the coroutine");
    });
    const a = quick().then((v) => {
      order.push(`quick ${v}`);
      return v * 10;
    });
    const b = slow().then((v) => {
      order.push(`slow ${v}`);
      return v * 10;
    });
    const c = failing().then(
      () => "fulfilled",
      (error: unknown) => `rejected ${(error as Error).message}`,
    );
    const d = slow().then(() => {
      throw new Error("from the callback");
    });
    order.push("then() returned");
    assert.equal(await a, 10);
    assert.equal(await b, 20);
    assert.equal(await c, "rejected from the coroutine");
    await assert.rejects(d, /from the callback/);
    assert.deepEqual(order, ["then() returned", "quick 1", "slow 2"]);
  });
});

test("bad counts: read(1.5) is a TypeError, readexactly(-1) a ValueError", async () => {
  await runVirtual(async () => {
    const reader = fed(["abc"]);
    await rejects(reader.read(1.5), TypeError);
    await rejects(reader.readexactly(-1), asyncio.ValueError);
    assert.throws(() => new asyncio.StreamReader(0), asyncio.ValueError);
    assert.throws(() => reader.feedData(b("x")), /feedData\(\) after feedEof\(\)/);
  });
});

// --- readline ---

test("readline() returns lines with their newline, the rest at EOF without one, then empty (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = fed(["one\ntw", "o\nthr", "ee"]);
      assert.equal(text(yield* reader.readline()), "one\n");
      assert.equal(text(yield* reader.readline()), "two\n");
      assert.equal(text(yield* reader.readline()), "three");
      assert.equal(text(yield* reader.readline()), "");
    })(),
  );
});

test("readline() returns lines with their newline, the rest at EOF without one, then empty (async)", async () => {
  await runVirtual(async () => {
    const reader = fed(["one\ntw", "o\nthr", "ee"]);
    assert.equal(text(await reader.readline()), "one\n");
    assert.equal(text(await reader.readline()), "two\n");
    assert.equal(text(await reader.readline()), "three");
    assert.equal(text(await reader.readline()), "");
  });
});

test("a line longer than the limit: readline() raises ValueError and drops that line, the rest stays readable (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = fed([`${"x".repeat(20)}\nshort\n`], { limit: 10 });
      const error = yield* thrownBy(reader.readline());
      assert.ok(error instanceof asyncio.ValueError);
      assert.ok((error as Error).cause instanceof asyncio.LimitOverrunError);
      assert.equal(text(yield* reader.readline()), "short\n");
    })(),
  );
});

test("a line longer than the limit: readline() raises ValueError and drops that line, the rest stays readable (async)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const reader = new asyncio.StreamReader(10);
    reader.feedData(b("y".repeat(25)));
    loop.callLater(1, () => {
      reader.feedData(b("tail\nnext\n"));
      reader.feedEof();
    });
    await rejects(reader.readline(), asyncio.ValueError); // no newline yet: the whole buffer is dropped
    assert.equal(text(await reader.readline()), "tail\n");
    assert.equal(text(await reader.readline()), "next\n");
  });
});

// --- readexactly ---

test("readexactly(n) waits for n bytes; at EOF IncompleteReadError with partial and expected (generators)", async () => {
  await runVirtual(
    (function* () {
      const loop = asyncio.getRunningLoop();
      const reader = new asyncio.StreamReader();
      loop.callLater(1, () => reader.feedData(b("ab")));
      loop.callLater(2, () => reader.feedData(b("cdef")));
      loop.callLater(3, () => reader.feedEof());
      assert.equal(text(yield* reader.readexactly(0)), "");
      assert.equal(text(yield* reader.readexactly(5)), "abcde");
      const error = yield* thrownBy(reader.readexactly(3));
      assert.ok(error instanceof asyncio.IncompleteReadError);
      assert.equal(text(error.partial), "f");
      assert.equal(error.expected, 3);
      assert.ok(reader.atEof());
    })(),
  );
});

test("readexactly(n) waits for n bytes; at EOF IncompleteReadError with partial and expected (async)", async () => {
  await runVirtual(async () => {
    const reader = fed(["ab", "cdef"]);
    assert.equal(text(await reader.readexactly(5)), "abcde");
    await rejects(reader.readexactly(3), (error: unknown) => {
      assert.ok(error instanceof asyncio.IncompleteReadError);
      assert.equal(text(error.partial), "f");
      assert.equal(error.expected, 3);
      return true;
    });
    await rejects(
      reader.readexactly(1),
      (error: unknown) => error instanceof asyncio.IncompleteReadError && error.partial.length === 0,
    );
  });
});

test("readexactly(n) with n above twice the limit resumes the paused transport instead of deadlocking", async () => {
  await runVirtual(async () => {
    const { reader, peerWriter, transport } = pair({ limit: 16, chunk: 8 });
    peerWriter.write(Buffer.alloc(100, 7));
    const data = await reader.readexactly(100);
    assert.equal(data.length, 100);
    assert.ok(data.every((x) => x === 7));
    assert.ok(transport.readingLog.includes("pause"));
    assert.ok(transport.readingLog.includes("resume"));
  });
});

// --- readuntil ---

test("readuntil(separator) with a multi-byte separator split across chunks; IncompleteReadError at EOF (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = fed(["GET / HTTP/1.0\r", "\nHost: x\r\n\r", "\nbody"]);
      const crlf = b("\r\n");
      assert.equal(text(yield* reader.readuntil(crlf)), "GET / HTTP/1.0\r\n");
      assert.equal(text(yield* reader.readuntil(b("\r\n\r\n"))), "Host: x\r\n\r\n");
      const error = yield* thrownBy(reader.readuntil(crlf));
      assert.ok(error instanceof asyncio.IncompleteReadError);
      assert.equal(text(error.partial), "body");
      assert.equal(error.expected, null);
    })(),
  );
});

test("readuntil(separator) with a multi-byte separator split across chunks; IncompleteReadError at EOF (async)", async () => {
  await runVirtual(async () => {
    const reader = fed(["a--", "-b---c"]);
    assert.equal(text(await reader.readuntil(b("---"))), "a---");
    assert.equal(text(await reader.readuntil(b("---"))), "b---");
    await rejects(
      reader.readuntil(b("---")),
      (e: unknown) => e instanceof asyncio.IncompleteReadError && text(e.partial) === "c",
    );
    // The buffer was emptied: at EOF, readuntil() raises again with an empty partial.
    await rejects(reader.readuntil(), (e: unknown) => e instanceof asyncio.IncompleteReadError && e.partial.length === 0);
    assert.ok(reader.atEof());
  });
});

test("readuntil([separators]): the match that ends first wins, the shortest on a tie (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = fed(["one\r\ntwo;three\nfour"]);
      const seps = [b("\n"), b("\r\n"), b(";")];
      assert.equal(text(yield* reader.readuntil(seps)), "one\r\n");
      assert.equal(text(yield* reader.readuntil(seps)), "two;");
      assert.equal(text(yield* reader.readuntil(seps)), "three\n");
      const tie = fed(["ab\nc"]);
      assert.equal(text(yield* tie.readuntil([b("b\n"), b("\n")])), "ab\n");
    })(),
  );
});

test("readuntil([separators]): the match that ends first wins, waiting across chunks (async)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const reader = new asyncio.StreamReader();
    loop.callLater(1, () => reader.feedData(b("xx<en")));
    loop.callLater(2, () => reader.feedData(b("d>yy|")));
    assert.equal(text(await reader.readuntil([b("<end>"), b("|")])), "xx<end>");
    assert.equal(text(await reader.readuntil([b("<end>"), b("|")])), "yy|");
  });
});

test("readuntil() separator checks: empty, no separators, not bytes", async () => {
  await runVirtual(async () => {
    const reader = fed(["abc"]);
    await rejects(reader.readuntil(b("")), asyncio.ValueError);
    await rejects(reader.readuntil([]), asyncio.ValueError);
    await rejects(reader.readuntil("\n" as unknown as Uint8Array), TypeError);
  });
});

test("readuntil() past the limit: LimitOverrunError with consumed, the data stays in the buffer (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = fed(["0123456789abcdef!rest"], { limit: 8 });
      const found = yield* thrownBy(reader.readuntil(b("!")));
      assert.ok(found instanceof asyncio.LimitOverrunError);
      assert.match(found.message, /Separator is found, but chunk is longer than limit/);
      assert.equal(found.consumed, 16);
      assert.equal(text(yield* reader.readexactly(found.consumed + 1)), "0123456789abcdef!");
      assert.equal(text(yield* reader.read()), "rest");
    })(),
  );
});

test("readuntil() past the limit without the separator: LimitOverrunError, then the rest is readable (async)", async () => {
  await runVirtual(async () => {
    const reader = fed(["z".repeat(30)], { eof: false, limit: 8 });
    await rejects(reader.readuntil(b("\n")), (error: unknown) => {
      assert.ok(error instanceof asyncio.LimitOverrunError);
      assert.match(error.message, /Separator is not found, and chunk exceed the limit/);
      return true;
    });
    reader.feedData(b("\n"));
    assert.equal(text(await reader.read(31)), `${"z".repeat(30)}\n`);
  });
});

// --- one-byte chunks ---

test("a reader fed in one-byte chunks: readline, readuntil and readexactly see every byte once (generators)", async () => {
  await runVirtual(
    (function* () {
      const { reader, peerWriter } = pair({ chunk: 1 });
      peerWriter.write(b("first line\nsecond||tail-of-it"));
      peerWriter.writeEof();
      assert.equal(text(yield* reader.readline()), "first line\n");
      assert.equal(text(yield* reader.readuntil(b("||"))), "second||");
      assert.equal(text(yield* reader.readexactly(4)), "tail");
      assert.equal(text(yield* reader.read()), "-of-it");
      assert.ok(reader.atEof());
    })(),
  );
});

test("a reader fed in one-byte chunks: readline, readuntil and readexactly see every byte once (async)", async () => {
  await runVirtual(async () => {
    const { reader, peerWriter } = pair({ chunk: 1 });
    peerWriter.write(b("first line\nsecond||tail-of-it"));
    peerWriter.writeEof();
    assert.equal(text(await reader.readline()), "first line\n");
    assert.equal(text(await reader.readuntil(b("||"))), "second||");
    assert.equal(text(await reader.readexactly(4)), "tail");
    assert.equal(text(await reader.read()), "-of-it");
    assert.ok(reader.atEof());
  });
});

// --- iteration, exceptions, misuse ---

test("for await (const line of reader) yields each line until EOF", async () => {
  await runVirtual(async () => {
    const reader = fed(["a\nb", "\nc"]);
    const lines: string[] = [];
    for await (const line of reader) lines.push(text(line));
    assert.deepEqual(lines, ["a\n", "b\n", "c"]);
  });
});

test("setException() wakes a waiting read with the error; later reads raise it (generators)", async () => {
  await runVirtual(
    (function* () {
      const loop = asyncio.getRunningLoop();
      const reader = new asyncio.StreamReader();
      const boom = new asyncio.ConnectionResetError(104, "Connection reset by peer");
      loop.callLater(1, () => reader.setException(boom));
      assert.equal(yield* thrownBy(reader.readline()), boom);
      assert.equal(yield* thrownBy(reader.read(1)), boom);
      assert.equal(reader.exception(), boom);
    })(),
  );
});

test("setException() wakes a waiting read with the error; later reads raise it (async)", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const reader = new asyncio.StreamReader();
    const boom = new Error("boom");
    loop.callLater(1, () => reader.setException(boom));
    await rejects(reader.readexactly(4), (e: unknown) => e === boom);
    await rejects(reader.readuntil(), (e: unknown) => e === boom);
  });
});

test("two coroutines waiting on one reader: the second gets RuntimeError", async () => {
  await runVirtual(async () => {
    const reader = new asyncio.StreamReader();
    const first = asyncio.createTask(async () => reader.read(5));
    await asyncio.sleep(0);
    await rejects(
      reader.readline(),
      (e: unknown) => e instanceof asyncio.RuntimeError && /called while another coroutine is already waiting/.test(String(e)),
    );
    reader.feedData(b("hi"));
    assert.equal(text(await first), "hi");
  });
});

test("a cancelled read leaves the buffer intact for the next read", async () => {
  await runVirtual(
    (function* () {
      const reader = new asyncio.StreamReader();
      const task = asyncio.createTask(reader.readexactly(4));
      yield* asyncio.sleep(0);
      reader.feedData(b("ab"));
      yield* asyncio.sleep(0);
      task.cancel();
      yield* thrownBy(task);
      reader.feedData(b("cd"));
      assert.equal(text(yield* reader.readexactly(4)), "abcd");
    })(),
  );
});

// --- the fast paths of read(n), readexactly(n) and drain(): the same semantics as the generators ---

const isCancelled = (e: unknown): boolean => e instanceof asyncio.CancelledError;

test("a read waiting for data, cancelled: CancelledError, no waiter left, the next read works (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = new asyncio.StreamReader();
      const task = asyncio.createTask(
        (function* () {
          return yield* reader.read(5);
        })(),
      );
      yield* asyncio.sleep(0);
      assert.match(String(reader), /waiter=/);
      task.cancel();
      assert.ok(isCancelled(yield* thrownBy(task)));
      assert.doesNotMatch(String(reader), /waiter=/);
      reader.feedData(b("abc"));
      assert.equal(text(yield* reader.read(5)), "abc");
    })(),
  );
});

test("a read waiting for data, cancelled: CancelledError, no waiter left, the next read works (async)", async () => {
  await runVirtual(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(async () => await reader.read(5));
    await asyncio.sleep(0);
    assert.match(String(reader), /waiter=/);
    task.cancel();
    await rejects(task, isCancelled);
    assert.doesNotMatch(String(reader), /waiter=/);
    reader.feedData(b("abc"));
    assert.equal(text(await reader.read(5)), "abc");
  });
});

test("data arrives, then the reading task is cancelled before it resumes: CancelledError, the data stays buffered (generators)", async () => {
  await runVirtual(
    (function* () {
      for (const read of [(r: asyncio.StreamReader) => r.read(5), (r: asyncio.StreamReader) => r.readexactly(3)]) {
        const reader = new asyncio.StreamReader();
        const task = asyncio.createTask(
          (function* () {
            return yield* read(reader);
          })(),
        );
        yield* asyncio.sleep(0);
        reader.feedData(b("abc"));
        task.cancel();
        assert.ok(isCancelled(yield* thrownBy(task)));
        assert.equal(text(yield* reader.read(5)), "abc");
      }
    })(),
  );
});

test("data arrives, then the reading task is cancelled before it resumes: CancelledError, the data stays buffered (async)", async () => {
  await runVirtual(async () => {
    for (const read of [(r: asyncio.StreamReader) => r.read(5), (r: asyncio.StreamReader) => r.readexactly(3)]) {
      const reader = new asyncio.StreamReader();
      const task = asyncio.createTask(async () => await read(reader));
      await asyncio.sleep(0);
      reader.feedData(b("abc"));
      task.cancel();
      await rejects(task, isCancelled);
      assert.equal(text(await reader.read(5)), "abc");
    }
  });
});

test("readexactly(n) waits across several chunks, each read of the buffer once (generators)", async () => {
  await runVirtual(
    (function* () {
      const reader = new asyncio.StreamReader();
      const task = asyncio.createTask(
        (function* () {
          return yield* reader.readexactly(6);
        })(),
      );
      for (const chunk of ["ab", "cd", "efgh"]) {
        yield* asyncio.sleep(0);
        assert.equal(task.done(), false);
        reader.feedData(b(chunk));
      }
      assert.equal(text(yield* task), "abcdef");
      assert.equal(text(yield* reader.read(10)), "gh");
    })(),
  );
});

test("readexactly(n) waits across several chunks, each read of the buffer once (async)", async () => {
  await runVirtual(async () => {
    const reader = new asyncio.StreamReader();
    const task = asyncio.createTask(async () => await reader.readexactly(6));
    for (const chunk of ["ab", "cd", "efgh"]) {
      await asyncio.sleep(0);
      assert.equal(task.done(), false);
      reader.feedData(b(chunk));
    }
    assert.equal(text(await task), "abcdef");
    assert.equal(text(await reader.read(10)), "gh");
  });
});

test("read(n) and drain() are coroutines used once: a second await or yield* raises RuntimeError", async () => {
  await runVirtual(async () => {
    const { reader, writer } = pair();
    reader.feedData(b("x"));
    const reuse = (e: unknown): boolean =>
      e instanceof asyncio.RuntimeError && /cannot reuse already awaited coroutine/.test(String(e));
    for (const coro of [reader.read(1), reader.readexactly(1), writer.drain()]) {
      reader.feedData(b("x"));
      await coro;
      await rejects(coro, reuse);
      assert.throws(() => coro[Symbol.iterator](), reuse);
    }
    writer.close();
    await writer.waitClosed();
  });
});

test("drain() with room in the buffer does not give up the loop; on a closing transport it yields once, then raises (generators)", async () => {
  await runVirtual(
    (function* () {
      const { writer } = pair();
      let ran = false;
      asyncio.getRunningLoop().callSoon(() => {
        ran = true;
      });
      writer.write(b("data"));
      yield* writer.drain();
      assert.equal(ran, false, "drain() suspended although nothing had to wait");
      yield* asyncio.sleep(0);
      assert.equal(ran, true);
      writer.close();
      const error = yield* thrownBy(writer.drain());
      assert.ok(error instanceof asyncio.ConnectionResetError, String(error));
      yield* writer.waitClosed();
    })(),
  );
});

test("drain() with room in the buffer does not give up the loop; on a closing transport it yields once, then raises (async)", async () => {
  await runVirtual(async () => {
    const { writer } = pair();
    let ran = false;
    asyncio.getRunningLoop().callSoon(() => {
      ran = true;
    });
    writer.write(b("data"));
    await writer.drain();
    assert.equal(ran, false, "drain() suspended although nothing had to wait");
    await asyncio.sleep(0);
    assert.equal(ran, true);
    writer.close();
    await rejects(writer.drain(), (e: unknown) => e instanceof asyncio.ConnectionResetError);
    await writer.waitClosed();
  });
});

test("StreamReader prints its state", async () => {
  const reader = new asyncio.StreamReader(10);
  reader.feedData(b("abc"));
  reader.feedEof();
  assert.equal(inspect(reader), "<StreamReader 3 bytes eof limit=10>");
});

// --- the limit bounds memory ---

test("the reader pauses the transport past twice the limit and resumes it once drained", async () => {
  await runVirtual(async () => {
    const { reader, peerWriter, transport, peerTransport } = pair({ limit: 1024, chunk: 512 });
    peerWriter.write(Buffer.alloc(64 * 1024, 1));
    await asyncio.sleep(1);
    assert.deepEqual(transport.readingLog, ["pause"]);
    assert.ok(reader._size <= 2 * 1024 + 512, `buffered ${reader._size}`);
    assert.ok(peerTransport.getWriteBufferSize() > 0, "the rest waits in the writer's buffer");
    let total = 0;
    while (total < 64 * 1024) total += (await reader.read(4096)).length;
    assert.equal(total, 64 * 1024);
    assert.equal(transport.readingLog[1], "resume");
  });
});

// --- StreamWriter ---

test("StreamWriter: write, writelines, drain, writeEof, canWriteEof, getExtraInfo, transport, close, waitClosed (generators)", async () => {
  await runVirtual(
    (function* () {
      const { reader, writer, peerReader, peerWriter, transport } = pair();
      assert.equal(writer.transport, transport);
      assert.equal(writer.getExtraInfo("peername"), "b");
      assert.equal(writer.getExtraInfo("nothing", 42), 42);
      assert.ok(writer.canWriteEof());
      writer.write(b("hello "));
      writer.writelines([b("wor"), b("ld\n")]);
      yield* writer.drain();
      writer.writeEof();
      assert.equal(text(yield* peerReader.read()), "hello world\n");
      peerWriter.write(b("bye"));
      peerWriter.close();
      assert.ok(peerWriter.isClosing());
      yield* peerWriter.waitClosed();
      assert.equal(text(yield* reader.read()), "bye");
      writer.close();
      yield* writer.waitClosed();
      assert.ok(writer.isClosing());
      assert.match(inspect(writer), /^<StreamWriter transport=<MemoryTransport/);
    })(),
  );
});

test("StreamWriter: write, writelines, drain, writeEof, close, waitClosed (async)", async () => {
  await runVirtual(async () => {
    const { reader, writer, peerReader, peerWriter } = pair();
    writer.write(b("ping\n"));
    await writer.drain();
    assert.equal(text(await peerReader.readline()), "ping\n");
    peerWriter.writelines([b("po"), b("ng\n")]);
    await peerWriter.drain();
    assert.equal(text(await reader.readline()), "pong\n");
    writer.close();
    await writer.waitClosed();
    assert.equal(text(await peerReader.read()), "");
    peerWriter.close();
    await peerWriter.waitClosed();
  });
});

test("drain() waits while the peer does not read, and the write buffer stays bounded (generators)", async () => {
  await runVirtual(
    (function* () {
      const { writer, peerReader, transport } = pair({ chunk: 4096 });
      const block = Buffer.alloc(16 * 1024, 3);
      const total = 4 * 1024 * 1024;
      const consumer = asyncio.createTask(
        (function* () {
          let got = 0;
          for (;;) {
            yield* asyncio.sleep(0.01); // a slow reader
            const data = yield* peerReader.read(8192);
            if (data.length === 0) return got;
            got += data.length;
          }
        })(),
      );
      for (let sent = 0; sent < total; sent += block.length) {
        writer.write(block);
        yield* writer.drain();
        assert.ok(transport.getWriteBufferSize() <= 64 * 1024 + block.length);
      }
      writer.writeEof();
      assert.equal(yield* consumer, total);
      assert.ok(transport.maxBuffered <= 64 * 1024 + block.length, `max ${transport.maxBuffered}`);
    })(),
  );
});

test("drain() waits while the peer does not read, and the write buffer stays bounded (async)", async () => {
  await runVirtual(async () => {
    const { writer, peerReader, transport } = pair({ chunk: 4096 });
    const block = Buffer.alloc(16 * 1024, 3);
    const total = 2 * 1024 * 1024;
    const consumer = asyncio.createTask(async () => {
      let got = 0;
      for (;;) {
        await asyncio.sleep(0.01);
        const data = await peerReader.read(8192);
        if (data.length === 0) return got;
        got += data.length;
      }
    });
    for (let sent = 0; sent < total; sent += block.length) {
      writer.write(block);
      await writer.drain();
    }
    writer.writeEof();
    assert.equal(await consumer, total);
    assert.ok(transport.maxBuffered <= 64 * 1024 + block.length, `max ${transport.maxBuffered}`);
  });
});

test("drain() raises the connection's error once it is lost, ConnectionResetError after a clean loss (generators)", async () => {
  await runVirtual(
    (function* () {
      const { writer, transport } = pair();
      const reset = new asyncio.ConnectionResetError(104, "Connection reset by peer");
      transport._connectionLost(reset);
      assert.equal(yield* thrownBy(writer.drain()), reset);
      assert.equal(yield* thrownBy(writer.waitClosed()), reset);
      const other = pair();
      other.transport._connectionLost(null);
      const error = yield* thrownBy(other.writer.drain());
      assert.ok(error instanceof asyncio.ConnectionResetError);
      assert.match(String(error), /Connection lost/);
    })(),
  );
});

test("a drain waiting on a paused transport gets the error when the connection is lost (async)", async () => {
  await runVirtual(async () => {
    const { writer, peerTransport, transport } = pair();
    peerTransport.pauseReading();
    writer.write(Buffer.alloc(100 * 1024));
    const draining = asyncio.createTask(async () => writer.drain());
    await asyncio.sleep(1);
    assert.ok(!draining.done(), "drain waits while paused");
    const broken = new asyncio.BrokenPipeError(32, "Broken pipe");
    transport._connectionLost(broken);
    await rejects(draining, (e: unknown) => e === broken);
  });
});

// --- StreamReaderProtocol with a client callback ---

for (const [style, makeCallback] of [
  [
    "plain function",
    (log: string[]) => (reader: asyncio.StreamReader, writer: asyncio.StreamWriter) => {
      log.push(`plain ${reader instanceof asyncio.StreamReader} ${writer instanceof asyncio.StreamWriter}`);
    },
  ],
  [
    "async function",
    (log: string[]) => async (reader: asyncio.StreamReader, writer: asyncio.StreamWriter) => {
      const line = await reader.readline();
      log.push(`async ${text(line)}`);
      writer.write(line);
      await writer.drain();
      writer.close();
    },
  ],
  [
    "generator function",
    (log: string[]) =>
      function* (reader: asyncio.StreamReader, writer: asyncio.StreamWriter): asyncio.Coroutine<void> {
        const line = yield* reader.readline();
        log.push(`generator ${text(line)}`);
        writer.write(line);
        yield* writer.drain();
        writer.close();
      },
  ],
] as const) {
  test(`StreamReaderProtocol calls a ${style} client callback with a reader and a writer`, async () => {
    await runVirtual(async () => {
      const loop = asyncio.getRunningLoop();
      const log: string[] = [];
      const serverSide = new asyncio.StreamReaderProtocol(new asyncio.StreamReader(), makeCallback(log), { loop });
      const reader = new asyncio.StreamReader();
      const clientSide = new asyncio.StreamReaderProtocol(reader, null, { loop });
      const [transport] = MemoryTransport.pair(loop, clientSide, serverSide);
      const writer = new asyncio.StreamWriter(transport, clientSide, reader, loop);
      writer.write(b("echo me\n"));
      if (style === "plain function") {
        assert.deepEqual(log, ["plain true true"]);
        writer.close();
        return;
      }
      assert.equal(text(await reader.read()), "echo me\n");
      assert.deepEqual(log, [`${style.split(" ")[0]} echo me\n`]);
      writer.close();
      await writer.waitClosed();
    });
  });
}

test("a client callback that fails is reported and its connection closed", async () => {
  await runVirtual(async () => {
    const loop = asyncio.getRunningLoop();
    const seen: asyncio.ExceptionContext[] = [];
    loop.setExceptionHandler((_loop, context) => seen.push(context));
    const failing = async (): Promise<void> => {
      throw new asyncio.ValueError("bad client");
    };
    const serverSide = new asyncio.StreamReaderProtocol(new asyncio.StreamReader(), failing, { loop });
    const reader = new asyncio.StreamReader();
    const clientSide = new asyncio.StreamReaderProtocol(reader, null, { loop });
    MemoryTransport.pair(loop, clientSide, serverSide);
    assert.equal(text(await reader.read()), "", "the server side closed the connection");
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.message, "Unhandled exception in client_connected_cb");
    assert.ok(seen[0]?.exception instanceof asyncio.ValueError);
  });
});

// --- Node streams ---

test("StreamReader.fromReadable reads a Node Readable: lines, pausing past the limit, EOF (async)", async () => {
  await asyncio.run(async () => {
    const source = new PassThrough();
    const reader = asyncio.StreamReader.fromReadable(source, { limit: 16 });
    source.write("line one\nline two\n");
    assert.equal(text(await reader.readline()), "line one\n");
    source.write(Buffer.alloc(100, 0x61));
    await asyncio.sleep(0.01);
    assert.ok(source.isPaused(), "paused past twice the limit");
    assert.equal(text(await reader.readline()), "line two\n");
    source.end("\nlast");
    const rest = await reader.read();
    assert.equal(text(rest), `${"a".repeat(100)}\nlast`);
    assert.ok(reader.atEof());
  });
});

test("StreamReader.fromReadable reads a Node Readable; its error becomes the reader's (generators)", async () => {
  await asyncio.run(
    (function* () {
      const reader = asyncio.StreamReader.fromReadable(Readable.from([b("a"), b("b\nc")]));
      assert.equal(text(yield* reader.readline()), "ab\n");
      assert.equal(text(yield* reader.read()), "c");
      const failing = new Readable({ read() {} });
      const broken = asyncio.StreamReader.fromReadable(failing);
      failing.destroy(new Error("disk on fire"));
      const error = yield* thrownBy(broken.read());
      assert.match(String(error), /disk on fire/);
    })(),
  );
});

test("StreamWriter.fromWritable: drain waits for a slow Writable, waitClosed for its end (async)", async () => {
  await asyncio.run(async () => {
    const received: Buffer[] = [];
    let maxPending = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setTimeout(callback, 1);
      },
    });
    const writer = asyncio.StreamWriter.fromWritable(slow, { high: 4096 });
    for (let i = 0; i < 50; i++) {
      writer.write(Buffer.alloc(1000, i));
      maxPending = Math.max(maxPending, writer.transport.getWriteBufferSize());
      await writer.drain();
    }
    writer.close();
    await writer.waitClosed();
    assert.equal(Buffer.concat(received).length, 50_000);
    assert.ok(maxPending <= 4096 + 1000, `pending ${maxPending}`);
  });
});

test("StreamWriter.fromWritable: writeEof ends the stream; an error reaches waitClosed and drain (generators)", async () => {
  await asyncio.run(
    (function* () {
      const sink = new PassThrough();
      const chunks: Buffer[] = [];
      sink.on("data", (chunk: Buffer) => chunks.push(chunk));
      const writer = asyncio.StreamWriter.fromWritable(sink);
      assert.ok(writer.canWriteEof());
      writer.write(b("abc"));
      writer.writeEof();
      yield* writer.waitClosed();
      assert.equal(Buffer.concat(chunks).toString(), "abc");
      const failing = new Writable({
        write(_chunk, _encoding, callback) {
          callback(new Error("no space left"));
        },
      });
      const broken = asyncio.StreamWriter.fromWritable(failing);
      broken.write(b("x"));
      const error = yield* thrownBy(broken.waitClosed());
      assert.match(String(error), /no space left/);
      assert.ok((yield* thrownBy(broken.drain())) instanceof Error);
    })(),
  );
});
