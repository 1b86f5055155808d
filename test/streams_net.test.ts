/**
 * The streams over real sockets: openConnection/startServer on TCP
 * loopback and openUnixConnection/startUnixServer on a Unix socket under
 * os.tmpdir(), each method in both coroutine styles: lines, separators,
 * exact reads at EOF, a line longer than the limit, a byte at a time, 32 MiB
 * through drain() to a slow reader (the transport's buffer stays bounded),
 * drain() after the peer is gone, client callbacks of every kind.
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { thrownBy } from "./helpers.js";
import { runNet } from "./net_helpers.js";

const b = (s: string): Buffer => Buffer.from(s);
const text = (data: Uint8Array): string => Buffer.from(data).toString();

let unixCount = 0;
function unixPath(): string {
  unixCount += 1;
  return path.join(tmpdir(), `asyncio-ts-streams-${process.pid}-${unixCount}.sock`);
}

type Family = "tcp" | "unix";

/** Where a server listens: `[host, port]` or a path. */
type Where = { family: "tcp"; port: number } | { family: "unix"; path: string };

function portOf(server: asyncio.AbstractServer): number {
  const sock = server.sockets[0] as { getsockname(): [string, number] };
  return sock.getsockname()[1];
}

/** Starts a server with `callback` on `family` (a random port, or a fresh path). */
const serve = asyncio.coroutine(function* serve(
  family: Family,
  callback: asyncio.ClientConnectedCallback,
  options: asyncio.StartServerOptions = {},
): asyncio.Coroutine<[asyncio.AbstractServer, Where]> {
  if (family === "tcp") {
    const server = yield* asyncio.startServer(callback, "127.0.0.1", 0, options);
    return [server, { family, port: portOf(server) }];
  }
  const where = unixPath();
  const server = yield* asyncio.startUnixServer(callback, where, options);
  return [server, { family, path: where }];
});

function connect(
  where: Where,
  options: asyncio.OpenConnectionOptions = {},
): asyncio.Coro<[asyncio.StreamReader, asyncio.StreamWriter]> {
  return where.family === "tcp"
    ? asyncio.openConnection("127.0.0.1", where.port, options)
    : asyncio.openUnixConnection(where.path, options);
}

const closeServer = asyncio.coroutine(function* closeServer(server: asyncio.AbstractServer): asyncio.Coroutine<void> {
  server.close();
  yield* server.waitClosed();
});

/** The echo handler of the seeds' streams server, in the generator style: echoes lines until EOF. */
function* echoLinesGen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): asyncio.Coroutine<void> {
  for (;;) {
    const line = yield* reader.readline();
    if (line.length === 0) break;
    writer.write(line);
    yield* writer.drain();
  }
  writer.close();
  yield* writer.waitClosed();
}

/** The same handler as an async function. */
async function echoLinesAsync(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  for await (const line of reader) {
    writer.write(line);
    await writer.drain();
  }
  writer.close();
  await writer.waitClosed();
}

for (const family of ["tcp", "unix"] as const) {
  test(`${family}: an echo of lines with a generator server and client: write, readline, writeEof, read(-1), atEof, extra info`, async () => {
    await runNet(
      (function* () {
        const [server, where] = yield* serve(family, echoLinesGen);
        const [reader, writer] = yield* connect(where);
        if (family === "tcp") {
          assert.deepEqual(writer.getExtraInfo<[string, number]>("peername"), [
            "127.0.0.1",
            where.family === "tcp" ? where.port : 0,
          ]);
          assert.equal((writer.getExtraInfo<[string, number]>("sockname") as [string, number])[0], "127.0.0.1");
        } else {
          assert.equal(writer.getExtraInfo("peername"), where.family === "unix" ? where.path : "");
        }
        assert.ok(writer.canWriteEof());
        writer.write(b("hello\n"));
        writer.writelines([b("wor"), b("ld\n")]);
        yield* writer.drain();
        assert.equal(text(yield* reader.readline()), "hello\n");
        assert.equal(text(yield* reader.readline()), "world\n");
        writer.write(b("last\n"));
        writer.writeEof();
        assert.equal(text(yield* reader.read()), "last\n");
        assert.ok(reader.atEof());
        writer.close();
        assert.ok(writer.isClosing());
        yield* writer.waitClosed();
        yield* closeServer(server);
      })(),
    );
  });

  test(`${family}: an echo of lines with an async server and client: for await, readuntil, readexactly, waitClosed`, async () => {
    await runNet(async () => {
      const [server, where] = await serve(family, echoLinesAsync);
      const [reader, writer] = await connect(where);
      writer.write(b("a;b\nccc\n"));
      await writer.drain();
      assert.equal(text(await reader.readuntil([b(";"), b("\n")])), "a;");
      assert.equal(text(await reader.readuntil([b(";"), b("\n")])), "b\n");
      assert.equal(text(await reader.readexactly(4)), "ccc\n");
      writer.write(b("x\ny\n"));
      writer.writeEof();
      const lines: string[] = [];
      for await (const line of reader) lines.push(text(line));
      assert.deepEqual(lines, ["x\n", "y\n"]);
      writer.close();
      await writer.waitClosed();
      await closeServer(server);
    });
  });
}

for (const [kind, handler] of [
  [
    "plain function",
    (reader: asyncio.StreamReader, writer: asyncio.StreamWriter) => {
      // Python allows a plain callback: it starts its own task.
      asyncio.createTask(async () => {
        writer.write(await reader.readline());
        await writer.drain();
        writer.close();
      });
    },
  ],
  [
    "async function",
    async (reader: asyncio.StreamReader, writer: asyncio.StreamWriter) => {
      writer.write(await reader.readline());
      await writer.drain();
      writer.close();
    },
  ],
  [
    "generator function",
    function* (reader: asyncio.StreamReader, writer: asyncio.StreamWriter): asyncio.Coroutine<void> {
      writer.write(yield* reader.readline());
      yield* writer.drain();
      writer.close();
    },
  ],
] as const) {
  test(`startServer takes ${kind === "async function" ? "an" : "a"} ${kind} as the client callback`, async () => {
    await runNet(async () => {
      const [server, where] = await serve("tcp", handler);
      const [reader, writer] = await connect(where);
      writer.write(b(`from a ${kind} client\n`));
      assert.equal(text(await reader.read()), `from a ${kind} client\n`);
      writer.close();
      await writer.waitClosed();
      await closeServer(server);
    });
  });
}

test("a line longer than the limit: LimitOverrunError, the data stays, the rest still readable (generators)", async () => {
  await runNet(
    (function* () {
      const [server, where] = yield* serve("tcp", function* (_reader, writer) {
        writer.write(b(`${"x".repeat(5000)}\ntail\n`));
        yield* writer.drain();
        writer.close();
      });
      const [reader, writer] = yield* connect(where, { limit: 1024 });
      const parts: Buffer[] = [];
      for (;;) {
        try {
          parts.push(yield* reader.readuntil(b("\n")));
          break;
        } catch (error) {
          assert.ok(error instanceof asyncio.LimitOverrunError);
          assert.ok(error.consumed > 1024);
          parts.push(yield* reader.readexactly(error.consumed));
        }
      }
      assert.equal(Buffer.concat(parts).toString(), `${"x".repeat(5000)}\n`);
      assert.equal(text(yield* reader.readline()), "tail\n");
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
    })(),
  );
});

test("a line longer than the limit: readline raises ValueError, the next line is readable (async, Unix)", async () => {
  await runNet(async () => {
    const [server, where] = await serve("unix", async (_reader, writer) => {
      writer.write(b(`${"y".repeat(3000)}\nnext\n`));
      await writer.drain();
      writer.close();
    });
    const [reader, writer] = await connect(where, { limit: 1024 });
    await asyncio.sleep(0.05); // let the whole long line arrive: it is dropped through its newline
    await assert.rejects(Promise.resolve(reader.readline()), asyncio.ValueError);
    assert.equal(text(await reader.readline()), "next\n");
    writer.close();
    await writer.waitClosed();
    await closeServer(server);
  });
});

test("readexactly at EOF: IncompleteReadError with the partial data (generators, Unix)", async () => {
  await runNet(
    (function* () {
      const [server, where] = yield* serve("unix", (_reader, writer) => {
        writer.write(b("0123456789"));
        writer.close();
      });
      const [reader, writer] = yield* connect(where);
      const error = yield* thrownBy(reader.readexactly(20));
      assert.ok(error instanceof asyncio.IncompleteReadError);
      assert.equal(text(error.partial), "0123456789");
      assert.equal(error.expected, 20);
      writer.close();
      yield* writer.waitClosed();
      yield* closeServer(server);
    })(),
  );
});

test("readexactly at EOF: IncompleteReadError with the partial data (async, TCP)", async () => {
  await runNet(async () => {
    const [server, where] = await serve("tcp", (_reader, writer) => {
      writer.write(b("abc"));
      writer.close();
    });
    const [reader, writer] = await connect(where);
    await assert.rejects(Promise.resolve(reader.readexactly(4)), (e: unknown) => {
      assert.ok(e instanceof asyncio.IncompleteReadError);
      assert.equal(text(e.partial), "abc");
      assert.equal(e.expected, 4);
      return true;
    });
    writer.close();
    await writer.waitClosed();
    await closeServer(server);
  });
});

for (const style of ["generators", "async"] as const) {
  test(`a reader fed one byte at a time over TCP: lines and separators come out whole (${style})`, async () => {
    const message = "one\ntwo--three\n";
    const sender = async (_reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> => {
      for (const byte of Buffer.from(message)) {
        writer.write(Buffer.of(byte));
        await writer.drain();
        await asyncio.sleep(0.002);
      }
      writer.close();
    };
    const received = await runNet(
      style === "generators"
        ? (function* () {
            const [server, where] = yield* serve("tcp", sender);
            const [reader, writer] = yield* connect(where);
            const got = [
              yield* reader.readline(),
              yield* reader.readuntil(b("--")),
              yield* reader.readexactly(5),
              yield* reader.read(),
            ];
            writer.close();
            yield* closeServer(server);
            return got.map(text);
          })()
        : async () => {
            const [server, where] = await serve("tcp", sender);
            const [reader, writer] = await connect(where);
            const got = [
              await reader.readline(),
              await reader.readuntil(b("--")),
              await reader.readexactly(5),
              await reader.read(),
            ];
            writer.close();
            await closeServer(server);
            return got.map(text);
          },
    );
    assert.deepEqual(received, ["one\n", "two--", "three", "\n"]);
  });
}

const BIG = 32 * 1024 * 1024;
const BLOCK = 64 * 1024;

/** A slow reader: reads 64 KiB at a time, yielding to the loop between reads; returns the byte count. */
async function slowCount(reader: asyncio.StreamReader, limit: number, sizes: number[]): Promise<number> {
  let total = 0;
  for (;;) {
    await asyncio.sleep(0);
    sizes.push(reader._size);
    const data = await reader.read(BLOCK);
    if (data.length === 0) return total;
    total += data.length;
    assert.ok(reader._size <= 2 * limit + BLOCK * 4, `reader buffer ${reader._size}`);
  }
}

for (const style of ["generators", "async"] as const) {
  test(`drain() with a slow reader: 32 MiB in 64 KiB writes, the write buffer stays bounded (${style})`, async () => {
    const payload = Buffer.alloc(BLOCK, 0x5a);
    let counted = 0;
    const server = (reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> =>
      slowCount(reader, reader.limit, []).then((n) => {
        counted = n;
        writer.close();
      });
    const maxBuffered = await runNet(
      style === "generators"
        ? (function* () {
            const [srv, where] = yield* serve("tcp", server);
            const [, writer] = yield* connect(where);
            let max = 0;
            for (let sent = 0; sent < BIG; sent += BLOCK) {
              writer.write(payload);
              max = Math.max(max, writer.transport.getWriteBufferSize());
              yield* writer.drain();
              assert.ok(writer.transport.getWriteBufferSize() <= 64 * 1024, "drain returned below the high-water mark");
            }
            writer.writeEof();
            yield* writer.waitClosed();
            yield* closeServer(srv);
            return max;
          })()
        : async () => {
            const [srv, where] = await serve("tcp", server);
            const [, writer] = await connect(where);
            let max = 0;
            for (let sent = 0; sent < BIG; sent += BLOCK) {
              writer.write(payload);
              max = Math.max(max, writer.transport.getWriteBufferSize());
              await writer.drain();
            }
            writer.writeEof();
            await writer.waitClosed();
            await closeServer(srv);
            return max;
          },
      20,
    );
    assert.equal(counted, BIG);
    assert.ok(maxBuffered <= 64 * 1024 + BLOCK, `the write buffer reached ${maxBuffered} bytes`);
  });
}

test("drain() raises the connection's error once the peer is gone (generators)", async () => {
  await runNet(
    (function* () {
      const [server, where] = yield* serve("tcp", (_reader, writer) => {
        writer.transport.abort(); // a reset: the client's writes fail
      });
      const [reader, writer] = yield* connect(where);
      const block = Buffer.alloc(BLOCK);
      let error: unknown = null;
      for (let i = 0; i < 1000 && error === null; i++) {
        writer.write(block);
        try {
          yield* writer.drain();
        } catch (e) {
          error = e;
        }
        yield* asyncio.sleep(0.001);
      }
      assert.ok(error instanceof asyncio.ConnectionError, `got ${error}`);
      assert.ok(reader.exception() === null || reader.exception() instanceof asyncio.ConnectionError);
      writer.close();
      yield* closeServer(server);
    })(),
  );
});

test("drain() raises the connection's error once the peer is gone (async, Unix)", async () => {
  await runNet(async () => {
    const [server, where] = await serve("unix", (_reader, writer) => {
      writer.transport.abort();
    });
    const [, writer] = await connect(where);
    const block = Buffer.alloc(BLOCK);
    let error: unknown = null;
    for (let i = 0; i < 1000 && error === null; i++) {
      writer.write(block);
      try {
        await writer.drain();
      } catch (e) {
        error = e;
      }
      await asyncio.sleep(0.001);
    }
    assert.ok(error instanceof asyncio.ConnectionError, `got ${error}`);
    writer.close();
    await closeServer(server);
  });
});

test("openConnection to a closed port raises ConnectionRefusedError", async () => {
  await runNet(async () => {
    const [server, where] = await serve("tcp", () => {});
    await closeServer(server);
    await assert.rejects(Promise.resolve(connect(where)), asyncio.ConnectionRefusedError);
  });
});

test("a client callback that raises is reported and its connection closed (real TCP)", async () => {
  await runNet(async () => {
    const seen: string[] = [];
    asyncio.getRunningLoop().setExceptionHandler((_loop, context) => seen.push(context.message));
    const [server, where] = await serve("tcp", async () => {
      throw new asyncio.ValueError("bad handler");
    });
    const [reader, writer] = await connect(where);
    assert.equal(text(await reader.read()), "");
    assert.deepEqual(seen, ["Unhandled exception in client_connected_cb"]);
    writer.close();
    await closeServer(server);
  });
});
