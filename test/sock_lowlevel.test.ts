/**
 * The loop's low-level socket API on real descriptors, in both coroutine
 * styles: `addReader`/`addWriter` (the seeds' "watch a file descriptor"
 * example), and CPython's `test_sock_lowlevel` behaviours for `sockAccept`,
 * `sockConnect`, `sockSendall`, `sockRecv`, `sockRecvInto`, `sockSendto`,
 * `sockRecvfrom`, `sockSendfile`; cancellation leaving the socket usable;
 * watchers released on `removeReader` and on loop close; no descriptor
 * leaked (counted in /proc/self/fd).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import * as asyncio from "asyncio-ts";
import { collectGarbage } from "./helpers.js";
import type { Script, Style } from "./sync_helpers.js";
import { coro, STYLES } from "./sync_helpers.js";

const { socket } = asyncio;
/** The addon's own view of a descriptor (internal, not part of the public API). */
const { addon } = (await import(new URL("../../dist/node/addon.js", import.meta.url).href)) as {
  addon(): { getblocking(fd: number): boolean };
};
type Socket = asyncio.socket.Socket;

/** Runs `script` on a real `EventLoop`; a loop still running after 10 s is stopped, failing the test. */
async function runReal<T>(style: Style, script: Script<T>): Promise<T> {
  const loop = new asyncio.EventLoop();
  const timer = setTimeout(() => loop.stop(), 10000);
  try {
    return await loop.runUntilComplete(coro(style, script));
  } finally {
    clearTimeout(timer);
    loop.close();
  }
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

function loop(): asyncio.AbstractEventLoop {
  return asyncio.getRunningLoop();
}

/** A non-blocking listening TCP socket on 127.0.0.1 and its port. */
function listener(family = socket.AF_INET, host = "127.0.0.1"): [Socket, number] {
  const srv = socket.socket(family, socket.SOCK_STREAM);
  srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);
  srv.bind([host, 0]);
  srv.listen();
  srv.setblocking(false);
  return [srv, (srv.getsockname() as [string, number])[1]];
}

function nonBlocking(family = socket.AF_INET, type = socket.SOCK_STREAM): Socket {
  const s = socket.socket(family, type);
  s.setblocking(false);
  return s;
}

function pair(): [Socket, Socket] {
  const [a, b] = socket.socketpair();
  a.setblocking(false);
  b.setblocking(false);
  return [a, b];
}

function closeAll(...socks: Socket[]): void {
  for (const s of socks) s.close();
}

/** Receives exactly `n` bytes with sockRecv. */
function* recvExactly(sock: Socket, n: number, chunk = 65536): Generator<asyncio.Awaitable<unknown>, Buffer, unknown> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const data = (yield loop().sockRecv(sock, Math.min(chunk, n - got))) as Buffer;
    if (data.length === 0) break;
    parts.push(data);
    got += data.length;
  }
  return Buffer.concat(parts);
}

for (const style of STYLES) {
  describe(`addReader / addWriter (${style})`, () => {
    test("the seeds' example: watch a socketpair with addReader, remove the reader once data came", () =>
      runReal(style, function* () {
        const [rsock, wsock] = pair();
        const done = loop().createFuture<string>();
        const reader = (tag: string): void => {
          const data = rsock.recv(100);
          loop().removeReader(rsock);
          done.setResult(`${tag}:${data.toString()}`);
        };
        loop().addReader(rsock, reader, "got");
        loop().callSoon(() => wsock.send(Buffer.from("abc")));
        const result = yield done;
        assert.equal(result, "got:abc");
        assert.equal(loop().removeReader(rsock), false, "already removed");
        closeAll(rsock, wsock);
      }));

    test("the seeds' example: register an open socket to wait for data using a protocol", () =>
      runReal(style, function* () {
        const [rsock, wsock] = socket.socketpair();
        const received: string[] = [];
        const lost = loop().createFuture<void>();
        class MyProtocol extends asyncio.Protocol {
          transport: asyncio.BaseTransport | null = null;
          override connectionMade(transport: asyncio.BaseTransport): void {
            this.transport = transport;
          }
          override dataReceived(data: Buffer): void {
            received.push(data.toString());
            this.transport?.close();
          }
          override connectionLost(): void {
            lost.setResult();
          }
        }
        yield loop().connectAcceptedSocket(() => new MyProtocol(), rsock);
        assert.equal(rsock.fileno(), -1, "the transport owns the descriptor now");
        loop().callSoon(() => wsock.send(Buffer.from("abc")));
        yield lost;
        assert.deepEqual(received, ["abc"]);
        rsock.close();
        wsock.close();
      }));

    test("addWriter fires while writable; removeWriter stops it; a reader and a writer share a descriptor", () =>
      runReal(style, function* () {
        const [a, b] = pair();
        let writes = 0;
        const wrote = loop().createFuture<void>();
        loop().addWriter(a.fileno(), () => {
          writes++;
          if (writes === 3) {
            assert.equal(loop().removeWriter(a), true);
            wrote.setResult();
          }
        });
        const read = loop().createFuture<Buffer>();
        loop().addReader(a, () => {
          read.setResult(a.recv(10));
          loop().removeReader(a);
        });
        yield wrote;
        b.send(Buffer.from("x"));
        assert.deepEqual(yield read, Buffer.from("x"));
        assert.equal(writes, 3);
        closeAll(a, b);
      }));

    test("a new addReader replaces the old callback; bad descriptors are ValueErrors", () =>
      runReal(style, function* () {
        const [a, b] = pair();
        const seen: string[] = [];
        const done = loop().createFuture<void>();
        loop().addReader(a, () => seen.push("old"));
        loop().addReader(a, () => {
          seen.push(a.recv(10).toString());
          loop().removeReader(a);
          done.setResult();
        });
        b.send(Buffer.from("new"));
        yield done;
        assert.deepEqual(seen, ["new"]);
        assert.throws(() => loop().addReader(-1, () => {}), asyncio.ValueError);
        assert.throws(() => loop().addReader({ fileno: () => "x" } as unknown as number, () => {}), asyncio.ValueError);
        closeAll(a, b);
      }));

    test("any descriptor: a named pipe (FIFO) is watched the same way", () =>
      runReal(style, function* () {
        const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-fifo-"));
        const path = join(dir, "fifo");
        execFileSync("mkfifo", [path]);
        const rfd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
        const wfd = openSync(path, constants.O_WRONLY);
        const done = loop().createFuture<string>();
        loop().addReader(rfd, () => {
          loop().removeReader(rfd);
          const buf = Buffer.alloc(10);
          done.setResult(buf.subarray(0, readSync(rfd, buf)).toString());
        });
        loop().callSoon(() => writeSync(wfd, "fifo"));
        assert.equal(yield done, "fifo");
        closeSync(rfd);
        closeSync(wfd);
        rmSync(dir, { recursive: true });
      }));

    test("a descriptor Node already watches (a net.Socket's) is refused with a clear RuntimeError", () =>
      runReal(style, function* () {
        const [a, b] = socket.socketpair();
        const fd = a.detach();
        const stream = new net.Socket({ fd, readable: true, writable: true });
        stream.resume();
        yield asyncio.sleep(0.01);
        assert.throws(
          () => loop().addReader(fd, () => {}),
          (error: unknown) =>
            error instanceof asyncio.RuntimeError && /already watched by Node itself/.test((error as Error).message),
        );
        stream.destroy();
        b.close();
        yield asyncio.sleep(0.01);
      }));

    test("watching a descriptor leaves its blocking mode alone", () =>
      runReal(style, function* () {
        const [a, b] = socket.socketpair();
        const native = addon();
        loop().addReader(a, () => {});
        assert.equal(native.getblocking(a.fileno()), true, "still blocking, as Python's add_reader leaves it");
        loop().removeReader(a);
        yield asyncio.sleep(0);
        closeAll(a, b);
      }));

    test("data that arrives while the loop is stopped waits; the reader runs once the loop runs again", async () => {
      const ev = new asyncio.EventLoop();
      const [a, b] = pair();
      const seen: string[] = [];
      ev.addReader(a, () => {
        seen.push(a.recv(10).toString());
        ev.stop();
      });
      b.send(Buffer.from("early"));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(seen, []);
      const guard = setTimeout(() => ev.stop(), 5000);
      await ev.runForever();
      clearTimeout(guard);
      assert.deepEqual(seen, ["early"]);
      ev.removeReader(a);
      ev.close();
      closeAll(a, b);
    });

    test("closing the loop releases its watchers: another loop can watch the same descriptor", async () => {
      const [a, b] = pair();
      const first = new asyncio.EventLoop();
      first.addReader(a, () => {});
      const second = new asyncio.EventLoop();
      assert.throws(() => second.addReader(a, () => {}), asyncio.RuntimeError);
      first.close();
      assert.equal(first.removeReader(a), false);
      await runReal(style, function* () {
        const done = loop().createFuture<string>();
        loop().addReader(a, () => {
          loop().removeReader(a);
          done.setResult(a.recv(10).toString());
        });
        b.send(Buffer.from("ok"));
        assert.equal(yield done, "ok");
      });
      second.close();
      closeAll(a, b);
    });
  });

  describe(`sock* methods (${style})`, () => {
    test("echo: sockAccept server, sockConnect/sockSendall/sockRecv client", () =>
      runReal(style, function* () {
        const [srv, port] = listener();
        const server = asyncio.createTask(
          coro(style, function* () {
            const [conn, addr] = (yield loop().sockAccept(srv)) as [Socket, asyncio.Address];
            assert.equal((addr as [string, number])[0], "127.0.0.1");
            assert.equal(conn.getblocking(), false);
            for (;;) {
              const data = (yield loop().sockRecv(conn, 1024)) as Buffer;
              if (data.length === 0) break;
              yield loop().sockSendall(conn, data);
            }
            conn.close();
          }),
        );
        const client = nonBlocking();
        yield loop().sockConnect(client, ["127.0.0.1", port]);
        for (const message of ["hello", "world", "x".repeat(1000)]) {
          yield loop().sockSendall(client, Buffer.from(message));
          const echoed = yield* recvExactly(client, message.length);
          assert.equal(echoed.toString(), message);
        }
        client.shutdown(socket.SHUT_WR);
        assert.equal(((yield loop().sockRecv(client, 10)) as Buffer).length, 0);
        yield server;
        closeAll(client, srv);
      }));

    test("sockConnect resolves a host name; a refused connection is ConnectionRefusedError", () =>
      runReal(style, function* () {
        const [srv, port] = listener();
        const client = nonBlocking();
        const accepted = loop().sockAccept(srv);
        yield loop().sockConnect(client, ["localhost", port]);
        const [conn] = (yield accepted) as [Socket, asyncio.Address];
        const refused = nonBlocking();
        srv.close();
        let error: unknown;
        try {
          yield loop().sockConnect(refused, ["127.0.0.1", port]);
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof asyncio.ConnectionRefusedError, String(error));
        assert.equal(error.errno, 111);
        assert.equal(error.code, "ECONNREFUSED");
        assert.equal(error.syscall, "connect");
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        closeAll(client, conn, refused);
      }));

    test("sockSendall of 8 MiB completes against a slow reader, byte-exact", () =>
      runReal(style, function* () {
        const [a, b] = pair();
        const data = randomBytes(8 * 1024 * 1024);
        const sending = asyncio.ensureFuture(loop().sockSendall(a, data));
        yield asyncio.sleep(0.02);
        assert.equal(sending.done(), false, "the kernel buffer cannot take 8 MiB at once");
        const received = yield* recvExactly(b, data.length, 16384);
        yield sending;
        assert.equal(Buffer.compare(received, data), 0);
        closeAll(a, b);
      }));

    test("sockRecvInto fills the provided buffer", () =>
      runReal(style, function* () {
        const [a, b] = pair();
        const buf = Buffer.alloc(16);
        const pending = loop().sockRecvInto(b, buf);
        a.send(Buffer.from("into"));
        assert.equal(yield pending, 4);
        assert.equal(buf.subarray(0, 4).toString(), "into");
        closeAll(a, b);
      }));

    test("a cancelled sockRecv leaves the socket usable: the next sockRecv gets the data", () =>
      runReal(style, function* () {
        const [a, b] = pair();
        const first = asyncio.ensureFuture(loop().sockRecv(b, 100));
        yield asyncio.sleep(0);
        first.cancel();
        try {
          yield first;
          assert.fail("cancelled");
        } catch (error) {
          assert.ok(error instanceof asyncio.CancelledError);
        }
        yield asyncio.sleep(0);
        assert.equal(loop().removeReader(b), false, "the cancelled receive removed its reader");
        a.send(Buffer.from("after"));
        assert.equal(((yield loop().sockRecv(b, 100)) as Buffer).toString(), "after");
        closeAll(a, b);
      }));

    test("a cancelled sockSendall leaves the socket usable", () =>
      runReal(style, function* () {
        const [a, b] = pair();
        const big = asyncio.ensureFuture(loop().sockSendall(a, Buffer.alloc(8 * 1024 * 1024)));
        yield asyncio.sleep(0.01);
        big.cancel();
        try {
          yield big;
        } catch (error) {
          assert.ok(error instanceof asyncio.CancelledError);
        }
        yield asyncio.sleep(0);
        assert.equal(loop().removeWriter(a), false);
        closeAll(a, b);
      }));

    test("UDP: sockSendto / sockRecvfrom / sockRecvfromInto with Python's address tuples", () =>
      runReal(style, function* () {
        const server = nonBlocking(socket.AF_INET, socket.SOCK_DGRAM);
        server.bind(["127.0.0.1", 0]);
        const address = server.getsockname() as [string, number];
        const client = nonBlocking(socket.AF_INET, socket.SOCK_DGRAM);
        const receiving = loop().sockRecvfrom(server, 100);
        assert.equal(yield loop().sockSendto(client, Buffer.from("ping"), address), 4);
        const [data, from] = (yield receiving) as [Buffer, [string, number]];
        assert.equal(data.toString(), "ping");
        assert.equal(from[0], "127.0.0.1");
        assert.equal(from[1], (client.getsockname() as [string, number])[1]);
        yield loop().sockSendto(server, Buffer.from("pong"), from);
        const buf = Buffer.alloc(10);
        const [n, from2] = (yield loop().sockRecvfromInto(client, buf)) as [number, asyncio.Address];
        assert.equal(buf.subarray(0, n).toString(), "pong");
        assert.deepEqual(from2, address);
        closeAll(server, client);
      }));

    test("IPv6 and Unix stream sockets: addresses in Python's shapes", () =>
      runReal(style, function* () {
        const [srv6, port6] = listener(socket.AF_INET6, "::1");
        const c6 = nonBlocking(socket.AF_INET6);
        const accepted6 = loop().sockAccept(srv6);
        yield loop().sockConnect(c6, ["::1", port6]);
        const [conn6, addr6] = (yield accepted6) as [Socket, asyncio.Address];
        assert.equal((addr6 as unknown[]).length, 4);
        assert.equal((addr6 as [string, number, number, number])[0], "::1");
        assert.deepEqual(c6.getpeername(), ["::1", port6, 0, 0]);
        const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-sock-"));
        const path = join(dir, "s.sock");
        const srvU = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM);
        srvU.bind(path);
        srvU.listen();
        srvU.setblocking(false);
        const cU = nonBlocking(socket.AF_UNIX);
        const acceptedU = loop().sockAccept(srvU);
        yield loop().sockConnect(cU, path);
        const [connU] = (yield acceptedU) as [Socket, asyncio.Address];
        assert.equal(cU.getpeername(), path);
        yield loop().sockSendall(cU, Buffer.from("unix"));
        assert.equal(((yield loop().sockRecv(connU, 10)) as Buffer).toString(), "unix");
        closeAll(srv6, c6, conn6, srvU, cU, connU);
        rmSync(dir, { recursive: true });
      }));

    test("sockSendfile sends a 16 MiB file byte-exact with sendfile(2), and leaves the file position after it", () =>
      runReal(style, function* () {
        const dir = mkdtempSync(join(tmpdir(), "asyncio-ts-sendfile-"));
        const path = join(dir, "data.bin");
        const content = randomBytes(16 * 1024 * 1024);
        writeFileSync(path, content);
        const fd = openSync(path, "r");
        const [a, b] = pair();
        const sending = asyncio.ensureFuture(loop().sockSendfile(a, fd));
        const received = yield* recvExactly(b, content.length);
        assert.equal(yield sending, content.length);
        assert.equal(createHash("sha256").update(received).digest("hex"), createHash("sha256").update(content).digest("hex"));
        // With an offset and a count.
        const part = asyncio.ensureFuture(loop().sockSendfile(a, { fd }, 100, 1000));
        const got = yield* recvExactly(b, 1000);
        assert.equal(yield part, 1000);
        assert.equal(Buffer.compare(got, content.subarray(100, 1100)), 0);
        closeSync(fd);
        closeAll(a, b);
        rmSync(dir, { recursive: true });
      }));

    test("sockSendfile of something that is not a regular file: SendfileNotAvailableError without fallback, copied with it", () =>
      runReal(style, function* () {
        const [src, feed] = socket.socketpair();
        feed.sendall(Buffer.from("through the fallback"));
        feed.close();
        const [a, b] = pair();
        let error: unknown;
        try {
          yield loop().sockSendfile(a, src.fileno(), 0, null, { fallback: false });
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof asyncio.SendfileNotAvailableError, String(error));
        const sending = asyncio.ensureFuture(loop().sockSendfile(a, src.fileno()));
        assert.equal(yield sending, 20);
        assert.equal(((yield loop().sockRecv(b, 100)) as Buffer).toString(), "through the fallback");
        closeAll(src, a, b);
      }));

    test("a blocking socket is refused with ValueError; so is a wrong socket type for sendfile", () =>
      runReal(style, function* () {
        const [a, b] = socket.socketpair();
        for (const aw of [loop().sockRecv(a, 1), loop().sockSendall(a, Buffer.from("x")), loop().sockAccept(a)]) {
          try {
            yield aw;
            assert.fail("expected ValueError");
          } catch (error) {
            assert.ok(error instanceof asyncio.ValueError);
            assert.match((error as Error).message, /the socket must be non-blocking/);
          }
        }
        const udp = nonBlocking(socket.AF_INET, socket.SOCK_DGRAM);
        try {
          yield loop().sockSendfile(udp, 0);
          assert.fail("expected ValueError");
        } catch (error) {
          assert.ok(error instanceof asyncio.ValueError);
        }
        closeAll(a, b, udp);
      }));

    test("no descriptor is leaked: /proc/self/fd counts the same before and after", async () => {
      const scenario = () =>
        runReal(style, function* () {
          const [srv, port] = listener();
          const client = nonBlocking();
          const accepted = loop().sockAccept(srv);
          yield loop().sockConnect(client, ["127.0.0.1", port]);
          const [conn] = (yield accepted) as [Socket, asyncio.Address];
          const [a, b] = pair();
          loop().addReader(a, () => {});
          loop().addWriter(b, () => {});
          yield loop().sockSendall(client, Buffer.from("bye"));
          assert.equal(((yield loop().sockRecv(conn, 10)) as Buffer).toString(), "bye");
          closeAll(srv, client, conn, a, b);
        });
      // A first run lets Node open what it keeps (the DNS resolver's, the thread pool's); a second must leave the count as it was.
      await scenario();
      await collectGarbage();
      const before = openFds();
      await scenario();
      await collectGarbage();
      assert.equal(openFds(), before);
    });
  });
}

test("no handle is left behind by the tests of this file", () => {
  // The runner's pipes to this file's process (PipeWrap, or TTYWrap when run by hand) stay.
  const left = process.getActiveResourcesInfo().filter((kind) => kind !== "PipeWrap" && kind !== "TTYWrap");
  assert.deepEqual(left, []);
});
