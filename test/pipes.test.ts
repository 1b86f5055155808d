/**
 * Pipe transports (`loop.connectReadPipe`, `loop.connectWritePipe`) on
 * file descriptors of FIFOs made with `mkfifo`, on a child's stdio
 * streams and on plain Node streams: data, end of file, pause/resume,
 * flow control, writeEof/close/abort, a reader that went away
 * (`BrokenPipeError`), and the errors for what is not a pipe. Every test
 * runs in both coroutine styles on a real loop.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import { future, runIo, STYLES } from "./io_helpers.js";

/** Records a stream protocol's events in order. */
class Reader extends asyncio.Protocol {
  events: string[] = [];
  chunks: string[] = [];
  transport: asyncio.ReadTransport | null = null;
  got = future<string>();
  lost = future<Error | null>();
  private _want = 0;

  /** Resolves `got` once `n` bytes in all have arrived. */
  expect(n: number): asyncio.Future<string> {
    this._want = n;
    this.got = future<string>();
    this._check();
    return this.got;
  }
  private _check(): void {
    const all = this.chunks.join("");
    if (this._want > 0 && all.length >= this._want && !this.got.done()) this.got.setResult(all);
  }
  override connectionMade(transport: asyncio.Transport): void {
    this.events.push("made");
    this.transport = transport as unknown as asyncio.ReadTransport;
  }
  override dataReceived(data: Buffer): void {
    if (this.events.at(-1) !== "data") this.events.push("data");
    this.chunks.push(data.toString());
    this._check();
  }
  override eofReceived(): void {
    this.events.push("eof");
  }
  override connectionLost(exc: Error | null): void {
    this.events.push("lost");
    this.lost.setResult(exc);
  }
}

/** Records a write pipe protocol's events in order. */
class Writer extends asyncio.BaseProtocol {
  events: string[] = [];
  lost = future<Error | null>();
  resumed = future();
  override connectionMade(): void {
    this.events.push("made");
  }
  override pauseWriting(): void {
    this.events.push("pause");
  }
  override resumeWriting(): void {
    this.events.push("resume");
    if (!this.resumed.done()) this.resumed.setResult();
  }
  override connectionLost(exc: Error | null): void {
    this.events.push("lost");
    this.lost.setResult(exc);
  }
}

let fifoCount = 0;

/** A FIFO with its read end (non-blocking) and write end open: `[readFd, writeFd, path]`. */
function fifo(): [number, number, string] {
  const where = path.join(os.tmpdir(), `asyncio-ts-pipes-${process.pid}-${fifoCount++}.fifo`);
  fs.rmSync(where, { force: true });
  execFileSync("mkfifo", [where]);
  const readFd = fs.openSync(where, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(where, fs.constants.O_WRONLY);
  fs.rmSync(where);
  return [readFd, writeFd, where];
}

function loop(): asyncio.AbstractEventLoop {
  return asyncio.getRunningLoop();
}

for (const style of STYLES) {
  test(`${style}: a read pipe on a FIFO descriptor: connectionMade, dataReceived, eofReceived, connectionLost`, async () => {
    await runIo(style, function* () {
      const [readFd, writeFd] = fifo();
      const [transport, proto] = (yield loop().connectReadPipe(() => new Reader(), readFd)) as [asyncio.ReadTransport, Reader];
      assert.deepEqual(proto.events, ["made"]);
      assert.equal(transport.getExtraInfo("pipe"), readFd);
      assert.equal(transport.isReading(), true);
      assert.match(inspect(transport), new RegExp(`^<ReadPipeTransport fd=${readFd} polling>$`));
      fs.writeSync(writeFd, "hello");
      assert.equal((yield proto.expect(5)) as string, "hello");
      fs.closeSync(writeFd);
      assert.equal((yield proto.lost) as Error | null, null);
      assert.deepEqual(proto.events, ["made", "data", "eof", "lost"]);
      assert.equal(transport.isClosing(), true);
      assert.match(inspect(transport), /closed/);
      assert.throws(() => fs.fstatSync(readFd), { code: "EBADF" }, "the transport closed the descriptor it owned");
    });
  });

  test(`${style}: pauseReading() stops dataReceived at once, resumeReading() delivers what waited`, async () => {
    await runIo(style, function* () {
      const [readFd, writeFd] = fifo();
      const [transport, proto] = (yield loop().connectReadPipe(() => new Reader(), readFd)) as [asyncio.ReadTransport, Reader];
      fs.writeSync(writeFd, "a");
      yield proto.expect(1);
      transport.pauseReading();
      transport.pauseReading();
      assert.equal(transport.isReading(), false);
      assert.match(inspect(transport), /paused/);
      fs.writeSync(writeFd, "b");
      yield asyncio.sleep(0.03);
      assert.deepEqual(proto.chunks, ["a"], "nothing is delivered while paused");
      transport.resumeReading();
      assert.equal(transport.isReading(), true);
      assert.equal((yield proto.expect(2)) as string, "ab");
      transport.close();
      transport.close();
      assert.equal((yield proto.lost) as Error | null, null);
      assert.deepEqual(proto.events, ["made", "data", "lost"], "close() ends without eofReceived");
      fs.closeSync(writeFd);
    });
  });

  test(`${style}: a write pipe on a FIFO: writes reach the reader, writeEof() flushes then closes`, async () => {
    await runIo(style, function* () {
      const [readFd, writeFd] = fifo();
      const [reader, readerProto] = (yield loop().connectReadPipe(() => new Reader(), readFd)) as [asyncio.ReadTransport, Reader];
      const [writer, proto] = (yield loop().connectWritePipe(() => new Writer(), writeFd)) as [asyncio.WriteTransport, Writer];
      assert.equal(writer.getExtraInfo("pipe"), writeFd);
      assert.equal(writer.canWriteEof(), true);
      assert.match(inspect(writer), new RegExp(`^<WritePipeTransport fd=${writeFd} bufsize=0>$`));
      assert.deepEqual(writer.getWriteBufferLimits(), [16384, 65536]);
      writer.write(Buffer.from("one "));
      writer.writelines([Buffer.from("two "), Buffer.from("three")]);
      writer.write(new Uint8Array(0));
      assert.throws(() => writer.write("text" as unknown as Uint8Array), TypeError);
      writer.writeEof();
      assert.equal(writer.isClosing(), true);
      writer.write(Buffer.from("too late"));
      assert.equal((yield proto.lost) as Error | null, null);
      assert.equal((yield readerProto.lost) as Error | null, null);
      assert.equal(readerProto.chunks.join(""), "one two three");
      assert.deepEqual(proto.events, ["made", "lost"]);
      assert.equal(reader.isClosing(), true);
    });
  });

  test(`${style}: write pipe flow control: pauseWriting over the high-water mark, resumeWriting once drained`, async () => {
    await runIo(style, function* () {
      const [readFd, writeFd] = fifo();
      const [reader, readerProto] = (yield loop().connectReadPipe(() => new Reader(), readFd)) as [asyncio.ReadTransport, Reader];
      const [writer, proto] = (yield loop().connectWritePipe(() => new Writer(), writeFd)) as [asyncio.WriteTransport, Writer];
      reader.pauseReading();
      writer.setWriteBufferLimits({ high: 1000 });
      assert.deepEqual(writer.getWriteBufferLimits(), [250, 1000]);
      const big = Buffer.alloc(256 * 1024, "x");
      writer.write(big);
      assert.ok(writer.getWriteBufferSize() > 1000, "a FIFO holds 64 KiB: the rest is buffered");
      assert.deepEqual(proto.events, ["made", "pause"]);
      reader.resumeReading();
      yield proto.resumed;
      assert.deepEqual(proto.events, ["made", "pause", "resume"]);
      yield readerProto.expect(big.length);
      writer.close();
      yield proto.lost;
      yield readerProto.lost;
      assert.deepEqual(readerProto.events, ["made", "data", "eof", "lost"]);
    });
  });

  test(`${style}: a reader that went away: writing ends the write pipe with BrokenPipeError`, async () => {
    await runIo(style, function* () {
      const [readFd, writeFd] = fifo();
      const [writer, proto] = (yield loop().connectWritePipe(() => new Writer(), writeFd)) as [asyncio.WriteTransport, Writer];
      fs.closeSync(readFd);
      writer.write(Buffer.from("anyone?"));
      const exc = (yield proto.lost) as Error | null;
      assert.ok(exc instanceof asyncio.BrokenPipeError, String(exc));
      assert.equal(writer.isClosing(), true);
      writer.write(Buffer.from("dropped"));
      assert.deepEqual(proto.events, ["made", "lost"]);
    });
  });

  test(`${style}: a write pipe on a socket learns that its peer closed without writing: connectionLost(null)`, async () => {
    await runIo(style, function* () {
      const where = path.join(os.tmpdir(), `asyncio-ts-pipes-${process.pid}-${fifoCount++}.sock`);
      const accepted = future<net.Socket>();
      const server = net.createServer((socket) => accepted.setResult(socket));
      server.listen(where);
      const ours = net.connect(where);
      const theirs = (yield accepted) as net.Socket;
      server.close();
      const [writer, proto] = (yield loop().connectWritePipe(() => new Writer(), ours)) as [asyncio.WriteTransport, Writer];
      theirs.destroy();
      assert.equal((yield proto.lost) as Error | null, null);
      assert.deepEqual(proto.events, ["made", "lost"]);
      assert.equal(writer.isClosing(), true);
      assert.equal(ours.destroyed, true);
    });
  });

  test(`${style}: abort() drops what is buffered and calls connectionLost(null) once`, async () => {
    await runIo(style, function* () {
      const [readFd, writeFd] = fifo();
      const [writer, proto] = (yield loop().connectWritePipe(() => new Writer(), writeFd)) as [asyncio.WriteTransport, Writer];
      writer.write(Buffer.alloc(200 * 1024));
      assert.ok(writer.getWriteBufferSize() > 0);
      writer.abort();
      writer.abort();
      assert.equal(writer.getWriteBufferSize(), 0);
      assert.equal((yield proto.lost) as Error | null, null);
      assert.deepEqual(proto.events, ["made", "pause", "lost"]);
      fs.closeSync(readFd);
    });
  });

  test(`${style}: pipes on a child's stdio streams and on plain Node streams`, async () => {
    await runIo(
      style,
      function* () {
        const child = spawn(process.execPath, ["-e", "process.stdin.pipe(process.stdout)"], {
          stdio: ["pipe", "pipe", "inherit"],
        });
        const [writer, wproto] = (yield loop().connectWritePipe(() => new Writer(), child.stdin)) as [
          asyncio.WriteTransport,
          Writer,
        ];
        const [reader, rproto] = (yield loop().connectReadPipe(() => new Reader(), child.stdout)) as [
          asyncio.ReadTransport,
          Reader,
        ];
        assert.equal(reader.getExtraInfo("pipe"), child.stdout);
        writer.write(Buffer.from("through the child"));
        writer.close();
        yield wproto.lost;
        assert.equal((yield rproto.lost) as Error | null, null);
        assert.equal(rproto.chunks.join(""), "through the child");
        assert.deepEqual(rproto.events, ["made", "data", "eof", "lost"]);
        const exited = future();
        if (child.exitCode === null) child.once("exit", () => exited.setResult());
        else exited.setResult();
        yield exited;

        const [, plain] = (yield loop().connectReadPipe(
          () => new Reader(),
          Readable.from([Buffer.from("x"), Buffer.from("y")]),
        )) as [asyncio.ReadTransport, Reader];
        yield plain.lost;
        assert.equal(plain.chunks.join(""), "xy");
        assert.deepEqual(plain.events, ["made", "data", "eof", "lost"]);

        const gone = new PassThrough();
        gone.destroy();
        const [, ended] = (yield loop().connectReadPipe(() => new Reader(), gone)) as [asyncio.ReadTransport, Reader];
        assert.equal((yield ended.lost) as Error | null, null);
        assert.deepEqual(ended.events, ["made", "eof", "lost"], "a stream destroyed before counts as ended");

        const sink = new PassThrough();
        const collected: Buffer[] = [];
        sink.on("data", (chunk: Buffer) => collected.push(chunk));
        const [w, p] = (yield loop().connectWritePipe(() => new Writer(), sink)) as [asyncio.WriteTransport, Writer];
        w.write(Buffer.from("into a PassThrough"));
        w.writeEof();
        assert.equal((yield p.lost) as Error | null, null);
        assert.equal(Buffer.concat(collected).toString(), "into a PassThrough");
        assert.equal(sink.destroyed, true);
      },
      new asyncio.EventLoop(),
      10,
    );
  });

  test(`${style}: what is not a pipe: ValueError for a regular file, TypeError for a non-stream`, async () => {
    await runIo(style, function* () {
      const file = path.join(os.tmpdir(), `asyncio-ts-pipes-${process.pid}.txt`);
      fs.writeFileSync(file, "x");
      const fd = fs.openSync(file, "r+");
      try {
        for (const attempt of [
          () => loop().connectReadPipe(() => new Reader(), fd),
          () => loop().connectWritePipe(() => new Writer(), fd),
        ]) {
          let error: unknown = null;
          try {
            yield attempt();
          } catch (e) {
            error = e;
          }
          assert.ok(error instanceof asyncio.ValueError, String(error));
        }
        for (const [pipe, kind] of [
          [{}, TypeError],
          [-1, asyncio.ValueError],
          [1.5, asyncio.ValueError],
        ] as const) {
          let error: unknown = null;
          try {
            yield loop().connectReadPipe(() => new Reader(), pipe as never);
          } catch (e) {
            error = e;
          }
          assert.ok(error instanceof kind, String(error));
        }
      } finally {
        fs.closeSync(fd);
        fs.rmSync(file);
      }
    });
  });
}
