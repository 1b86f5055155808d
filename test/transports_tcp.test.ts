/**
 * The stream transport over Node's `net` (net_transport.ts) through
 * `createConnection`/`createServer` and their Unix twins: echo round trips
 * on IPv4, IPv6 and Unix sockets, asyncio's protocol state machine, flow
 * control on a 64 MiB echo, half-close both ways, a peer reset, refused
 * connections, Happy Eyeballs, BufferedProtocol, writes after close,
 * reading paused and while the loop is stopped, sendfile; each in both
 * coroutine styles.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { Collector, EchoProtocol, hasIPv6Loopback, runNet } from "./net_helpers.js";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;

function portOf(server: asyncio.AbstractServer): number {
  return ((server as asyncio.Server).sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number;
}

function tmpSocketPath(name: string): string {
  return path.join(os.tmpdir(), `asyncio-ts-${process.pid}-${name}.sock`);
}

// ---- echo round trips -----------------------------------------------------------

function* echoRoundTrip(host: string): asyncio.Coroutine<void> {
  const loop = asyncio.getRunningLoop();
  const server = yield* loop.createServer(() => new EchoProtocol(), { host, port: 0 });
  const port = portOf(server);
  const [transport, client] = yield* loop.createConnection(() => new Collector(), { host, port });
  assert.deepEqual((transport.getExtraInfo("peername") as unknown[]).slice(0, 2), [host, port]);
  assert.equal((transport.getExtraInfo("sockname") as unknown[])[0], host);
  assert.ok(transport.getExtraInfo("socket") instanceof asyncio.TransportSocket);
  assert.match(String(transport), /^<TCPTransport fd=\d+ read=polling write=<idle, bufsize=0>>$/);
  transport.write(Buffer.from("hello "));
  transport.writelines([Buffer.from("world")]);
  yield* client.until(11);
  assert.equal(client.received.toString(), "hello world");
  transport.close();
  assert.equal(transport.isClosing(), true);
  assert.equal(yield* client.done, null);
  assert.deepEqual(client.events, ["made", "data", "lost"]);
  assert.match(String(transport), /^<TCPTransport closed fd=\d+>$/);
  server.close();
  yield* server.waitClosed();
}

test("echo over TCP IPv4 (generator coroutine)", async () => {
  await runNet(echoRoundTrip("127.0.0.1"));
});

test("echo over TCP IPv4 (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.write(Buffer.from("ping"));
    await client.until(4);
    assert.equal(client.received.toString(), "ping");
    transport.close();
    assert.equal(await client.done, null);
    server.close();
    await server.waitClosed();
  });
});

test("echo over TCP IPv6 on ::1 where the machine has IPv6 loopback (both styles)", async () => {
  if (hasIPv6Loopback()) {
    await runNet(echoRoundTrip("::1"));
    await runNet(async () => {
      const loop = asyncio.getRunningLoop();
      const server = await loop.createServer(() => new EchoProtocol(), { host: "::1", port: 0 });
      const [transport, client] = await loop.createConnection(() => new Collector(), { host: "::1", port: portOf(server) });
      assert.equal((transport.getExtraInfo("peername") as unknown[]).length, 4, "IPv6 addresses are 4-tuples");
      transport.write(Buffer.from("six"));
      await client.until(3);
      transport.close();
      await client.done;
      server.close();
      await server.waitClosed();
    });
  } else {
    // No IPv6 loopback: listening on ::1 must fail with an OSError naming the address, not hang or pass.
    await runNet(async () => {
      const loop = asyncio.getRunningLoop();
      await assert.rejects(
        Promise.resolve(loop.createServer(() => new EchoProtocol(), { host: "::1", port: 0 })),
        asyncio.OSError,
      );
    });
  }
});

test("echo over a Unix socket; the socket file is removed on close (both styles)", async () => {
  const socketPath = tmpSocketPath("echo");
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createUnixServer(() => new EchoProtocol(), { path: socketPath });
    assert.equal((server as asyncio.Server).sockets[0]?.getsockname(), socketPath);
    const [transport, client] = yield* loop.createUnixConnection(() => new Collector(), { path: socketPath });
    assert.equal(transport.getExtraInfo("peername"), socketPath);
    assert.match(String(transport), /^<UnixTransport /);
    transport.write(Buffer.from("unix"));
    yield* client.until(4);
    assert.equal(client.received.toString(), "unix");
    transport.close();
    yield* client.done;
    server.close();
    yield* server.waitClosed();
  });
  assert.equal(fs.existsSync(socketPath), false);
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    fs.writeFileSync(socketPath, ""); // a regular file is not a stale socket: left alone, and listen fails
    await assert.rejects(Promise.resolve(loop.createUnixServer(() => new EchoProtocol(), { path: socketPath })), asyncio.OSError);
    fs.unlinkSync(socketPath);
    const server = await loop.createUnixServer(() => new EchoProtocol(), { path: socketPath });
    const [transport, client] = await loop.createUnixConnection(() => new Collector(), { path: socketPath });
    transport.write(Buffer.from("again"));
    await client.until(5);
    transport.close();
    await client.done;
    server.close();
    await server.waitClosed();
  });
  assert.equal(fs.existsSync(socketPath), false);
});

test("an over-long Unix socket path is an OSError, not a silently truncated path (both styles)", async () => {
  const long = path.join(os.tmpdir(), "x".repeat(120));
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const error = (yield* thrownBy(loop.createUnixServer(() => new EchoProtocol(), { path: long }))) as asyncio.OSError;
    assert.ok(error instanceof asyncio.OSError);
    assert.match(error.message, /AF_UNIX path too long/);
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    await assert.rejects(
      Promise.resolve(loop.createUnixConnection(() => new Collector(), { path: long })),
      /AF_UNIX path too long/,
    );
  });
});

function* thrownBy(aw: asyncio.Awaitable<unknown>): asyncio.Coroutine<unknown> {
  try {
    yield* aw;
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}

// ---- flow control -----------------------------------------------------------------

/** An echo server that stops reading while its own writes are paused: back-pressure end to end. */
class FlowEcho extends asyncio.Protocol {
  static pausedWriting = 0;
  static pausedReading = 0;
  static onPauseWriting: (() => void) | null = null;
  static writingPaused = false;
  transport: asyncio.Transport | null = null;
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    this.transport?.write(data);
  }
  override pauseWriting(): void {
    FlowEcho.pausedWriting++;
    FlowEcho.pausedReading++;
    FlowEcho.writingPaused = true;
    this.transport?.pauseReading();
    assert.equal(this.transport?.isReading(), false);
    FlowEcho.onPauseWriting?.();
  }
  override resumeWriting(): void {
    FlowEcho.writingPaused = false;
    this.transport?.resumeReading();
  }
}

/** Sends `total` pseudo-random bytes as fast as flow control allows, hashing what it sent and what came back. */
class FlowClient extends asyncio.Protocol {
  pausedWriting = 0;
  resumedWriting = 0;
  sentHash = createHash("sha256");
  receivedHash = createHash("sha256");
  received = 0;
  sent = 0;
  transport: asyncio.Transport | null = null;
  readonly finished = asyncio.getRunningLoop().createFuture<void>();
  private _paused = false;
  private _seed = 1;
  constructor(readonly total: number) {
    super();
  }
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
    this._pump();
  }
  private _pump(): void {
    while (!this._paused && this.sent < this.total) {
      const chunk = Buffer.allocUnsafe(Math.min(256 * 1024, this.total - this.sent));
      for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((this._seed = (this._seed * 1103515245 + 12345) >>> 0), i);
      this.sentHash.update(chunk);
      this.sent += chunk.length;
      this.transport?.write(chunk);
    }
  }
  override pauseWriting(): void {
    this.pausedWriting++;
    this._paused = true;
  }
  override resumeWriting(): void {
    this.resumedWriting++;
    this._paused = false;
    this._pump();
  }
  pausedReading = 0;
  private _sincePause = 0;
  override dataReceived(data: Buffer): void {
    this.receivedHash.update(data);
    this.received += data.length;
    if (this.received === this.total) this.finished.setResult(undefined);
    // A slow reader now and then: the server's buffer fills, so its writes pause too.
    this._sincePause += data.length;
    // Only while much is still to come: the data in flight must be able to fill the server's buffers.
    if (this._sincePause >= 8 * 1024 * 1024 && this.total - this.received >= 24 * 1024 * 1024) {
      this._sincePause = 0;
      this.pausedReading++;
      this.transport?.pauseReading();
      // Until the server's buffer is full (its pauseWriting); a timer as the backstop, so that the test cannot hang.
      const loop = asyncio.getRunningLoop();
      let backstop: asyncio.TimerHandle | null = null;
      const resume = (): void => {
        FlowEcho.onPauseWriting = null;
        backstop?.cancel();
        this.transport?.resumeReading();
      };
      backstop = loop.callLater(1, resume);
      if (FlowEcho.writingPaused) loop.callLater(0.005, resume);
      else FlowEcho.onPauseWriting = resume;
    }
  }
}

function* flowControlledEcho(total: number): asyncio.Coroutine<void> {
  FlowEcho.pausedWriting = FlowEcho.pausedReading = 0;
  FlowEcho.onPauseWriting = null;
  const loop = asyncio.getRunningLoop();
  const server = yield* loop.createServer(() => new FlowEcho(), { host: "127.0.0.1", port: 0 });
  const [transport, client] = yield* loop.createConnection(() => new FlowClient(total), {
    host: "127.0.0.1",
    port: portOf(server),
  });
  yield* client.finished;
  assert.equal(client.receivedHash.digest("hex"), client.sentHash.digest("hex"), "the echo is byte-exact");
  assert.ok(client.pausedWriting > 0, "the client's writes were paused");
  assert.equal(client.resumedWriting, client.pausedWriting);
  assert.ok(FlowEcho.pausedWriting > 0, "the server's writes were paused");
  assert.ok(FlowEcho.pausedReading > 0, "the server paused its reading");
  assert.ok(client.pausedReading > 0, "the client paused its reading");
  assert.equal(transport.getWriteBufferSize(), 0);
  transport.close();
  server.close();
  yield* server.waitClosed();
}

test("64 MiB echoed byte-exact with flow control engaged on both sides (generator coroutine)", async () => {
  await runNet(flowControlledEcho(64 * 1024 * 1024), 60);
});

test("flow control: pauseWriting/resumeWriting at the limits, setWriteBufferLimits (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new FlowEcho(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new FlowClient(8 * 1024 * 1024), {
      host: "127.0.0.1",
      port: portOf(server),
    });
    assert.deepEqual(transport.getWriteBufferLimits(), [16384, 65536]);
    transport.setWriteBufferLimits({ high: 1024 * 1024 });
    assert.deepEqual(transport.getWriteBufferLimits(), [262144, 1048576]);
    assert.throws(() => transport.setWriteBufferLimits({ high: 1, low: 2 }), asyncio.ValueError);
    await client.finished;
    assert.equal(client.receivedHash.digest("hex"), client.sentHash.digest("hex"));
    assert.ok(client.pausedWriting > 0);
    transport.close();
    server.close();
    await server.waitClosed();
  }, 30);
});

// ---- half-close, reset, refused ------------------------------------------------------

/** A server that answers "bye" once the client has half-closed, then half-closes too. */
class HalfCloseServer extends asyncio.Protocol {
  transport: asyncio.Transport | null = null;
  readonly got: Buffer[] = [];
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    this.got.push(data);
  }
  override eofReceived(): boolean {
    this.transport?.write(Buffer.from(`got ${Buffer.concat(this.got).toString()}`));
    this.transport?.writeEof();
    return true;
  }
}

test("half-close: the client's writeEof reaches the server, which still answers (generator coroutine)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new HalfCloseServer(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    client.keepOpen = true;
    assert.equal(transport.canWriteEof(), true);
    transport.write(Buffer.from("question"));
    transport.writeEof();
    assert.throws(() => transport.write(Buffer.from("more")), asyncio.RuntimeError);
    yield* client.gotEof;
    assert.equal(client.received.toString(), "got question");
    assert.equal(yield* client.done, null);
    assert.deepEqual(client.events, ["made", "data", "eof", "lost"]);
    server.close();
    yield* server.waitClosed();
  });
});

test("half-close: the server half-closes first, the client keeps writing (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    let serverSide: Collector | null = null;
    const server = await loop.createServer(
      () => {
        serverSide = new Collector();
        serverSide.keepOpen = true;
        return serverSide;
      },
      { host: "127.0.0.1", port: 0 },
    );
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    client.keepOpen = true;
    transport.write(Buffer.from("x"));
    while (serverSide === null || (serverSide as Collector).transport === null) await asyncio.sleep(0);
    const peer = serverSide as Collector;
    await peer.until(1);
    peer.transport?.writeEof();
    await client.gotEof;
    assert.equal(transport.isClosing(), false, "eofReceived returning true keeps the transport open");
    transport.write(Buffer.from("after eof"));
    await peer.until(10);
    assert.equal(peer.received.toString(), "xafter eof");
    transport.close();
    assert.equal(await client.done, null);
    await peer.done;
    assert.deepEqual(peer.events, ["made", "data", "eof", "lost"]);
    server.close();
    await server.waitClosed();
  });
});

test("half-close in both directions, the other coroutine style of each", async () => {
  // The client half-closes first (async function).
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new HalfCloseServer(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    client.keepOpen = true;
    transport.write(Buffer.from("q"));
    transport.writeEof();
    await client.gotEof;
    assert.equal(client.received.toString(), "got q");
    assert.equal(await client.done, null);
    server.close();
    await server.waitClosed();
  });
  // The server half-closes first (generator coroutine).
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const made: Collector[] = [];
    const server = yield* loop.createServer(
      () => {
        const proto = new Collector();
        proto.keepOpen = true;
        made.push(proto);
        return proto;
      },
      { host: "127.0.0.1", port: 0 },
    );
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    client.keepOpen = true;
    while (made.length === 0 || (made[0] as Collector).transport === null) yield* asyncio.sleep(0.001);
    const peer = made[0] as Collector;
    peer.transport?.writeEof();
    yield* client.gotEof;
    transport.write(Buffer.from("late"));
    yield* peer.until(4);
    transport.close();
    yield* peer.done;
    assert.deepEqual(peer.events, ["made", "data", "eof", "lost"]);
    server.close();
    yield* server.waitClosed();
  });
});

test("end of file closes the transport unless eofReceived returns true (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new Collector(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.writeEof();
    // The server's Collector returns false from eofReceived: its transport closes, so the client sees eof then lost.
    yield* client.done;
    assert.deepEqual(client.events, ["made", "eof", "lost"]);
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new Collector(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.writeEof();
    await client.done;
    assert.deepEqual(client.events, ["made", "eof", "lost"]);
    server.close();
    await server.waitClosed();
  });
});

/** A raw Node server that resets every connection once it got a byte. */
async function resettingServer(): Promise<net.Server> {
  const server = net.createServer((sock) => sock.once("data", () => sock.resetAndDestroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

test("a peer reset is a ConnectionResetError in connectionLost (both styles)", async () => {
  const raw = await resettingServer();
  const port = (raw.address() as net.AddressInfo).port;
  try {
    await runNet(function* () {
      const loop = asyncio.getRunningLoop();
      const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
      transport.write(Buffer.from("x"));
      const exc = yield* client.done;
      assert.ok(exc instanceof asyncio.ConnectionResetError, String(exc));
      assert.equal(client.events.at(-1), "lost:ConnectionResetError");
    });
    await runNet(async () => {
      const loop = asyncio.getRunningLoop();
      const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
      transport.write(Buffer.from("x"));
      assert.ok((await client.done) instanceof asyncio.ConnectionResetError);
    });
  } finally {
    await new Promise((resolve) => raw.close(resolve));
  }
});

/** A port nobody listens on (bound then released). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test("a refused connection is a ConnectionRefusedError naming the address (both styles)", async () => {
  const port = await freePort();
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const error = (yield* thrownBy(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port }))) as asyncio.OSError;
    assert.ok(error instanceof asyncio.ConnectionRefusedError);
    assert.equal(error.errno, 111);
    assert.equal(error.message, `[Errno 111] Connect call failed ('127.0.0.1', ${port})`);
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port })),
      (e: unknown) => e instanceof asyncio.ConnectionRefusedError && e.message.includes(`('127.0.0.1', ${port})`),
    );
  });
});

/** Makes `loop.getaddrinfo` return `infos` (as a test of Python's create_connection patches getaddrinfo). */
function fakeResolver(loop: asyncio.AbstractEventLoop, infos: asyncio.AddrInfo[]): void {
  loop.getaddrinfo = () => {
    const fut = loop.createFuture<asyncio.AddrInfo[]>();
    fut.setResult(infos);
    return fut;
  };
}

test("every resolved address is tried in order; several failures give 'Multiple exceptions' (both styles)", async () => {
  const refused = await freePort();
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    fakeResolver(loop, [
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.2", portOf(server)]],
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", portOf(server)]],
    ]);
    const [transport] = yield* loop.createConnection(() => new Collector(), { host: "example.test", port: portOf(server) });
    assert.deepEqual(transport.getExtraInfo("peername"), ["127.0.0.1", portOf(server)]);
    transport.close();
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    fakeResolver(loop, [
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", refused]],
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.2", refused]],
    ]);
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "example.test", port: refused })),
      (e: unknown) => {
        assert.ok(e instanceof asyncio.OSError && !(e instanceof asyncio.ConnectionRefusedError));
        assert.match(e.message, /^Multiple exceptions: \[Errno 111\] Connect call failed \('127\.0\.0\.1', \d+\), \[Errno 111\]/);
        return true;
      },
    );
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "example.test", port: refused, allErrors: true })),
      (e: unknown) => e instanceof asyncio.ExceptionGroup && e.exceptions.length === 2,
    );
  });
});

test("Happy Eyeballs: a refused first address, the next one wins; families interleave (both styles)", async () => {
  const refused = await freePort();
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const port = portOf(server);
    fakeResolver(loop, [
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", refused]],
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.2", refused]],
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", port]],
    ]);
    const [transport, client] = yield* loop.createConnection(() => new Collector(), {
      host: "example.test",
      port,
      happyEyeballsDelay: 0.25,
    });
    assert.deepEqual(transport.getExtraInfo("peername"), ["127.0.0.1", port]);
    transport.write(Buffer.from("he"));
    yield* client.until(2);
    transport.close();
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const port = portOf(server);
    const v6 = hasIPv6Loopback();
    // The IPv6 address (refused, or unreachable without IPv6) comes second after interleaving.
    fakeResolver(loop, [
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.2", refused]],
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", port]],
      [AF_INET6, SOCK_STREAM, 6, "", [v6 ? "::1" : "::2", refused, 0, 0]],
    ]);
    const [transport] = await loop.createConnection(() => new Collector(), {
      host: "example.test",
      port,
      happyEyeballsDelay: 0.1,
    });
    assert.deepEqual(transport.getExtraInfo("peername"), ["127.0.0.1", port]);
    transport.close();
    server.close();
    await server.waitClosed();
    fakeResolver(loop, [[AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", refused]]]);
    await assert.rejects(
      Promise.resolve(
        loop.createConnection(() => new Collector(), { host: "example.test", port: refused, happyEyeballsDelay: 0.1 }),
      ),
      asyncio.ConnectionRefusedError,
    );
  });
});

test("Happy Eyeballs losers and cancelled connection attempts leave no socket behind (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const { made, factory } = (() => {
      const list: Collector[] = [];
      return { made: list, factory: () => list[list.push(new Collector()) - 1] as Collector };
    })();
    const server = yield* loop.createServer(factory, { host: "127.0.0.1", port: 0 });
    const port = portOf(server);
    // Two good addresses started at once: one wins, the other is cancelled and its socket closed.
    fakeResolver(loop, [
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", port]],
      [AF_INET, SOCK_STREAM, 6, "", ["127.0.0.1", port]],
    ]);
    const [transport] = yield* loop.createConnection(() => new Collector(), {
      host: "example.test",
      port,
      happyEyeballsDelay: 0,
    });
    transport.close();
    yield* asyncio.sleep(0.05);
    for (const proto of made) yield* proto.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const attempt = loop.createTask(
      async () => await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) }),
    );
    await asyncio.sleep(0);
    attempt.cancel();
    await assert.rejects(Promise.resolve(attempt), asyncio.CancelledError);
    server.close();
    server.closeClients();
    await asyncio.sleep(0.02);
    server.closeClients();
    await server.waitClosed();
  });
});

test("localAddr binds the connecting socket (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport] = yield* loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      localAddr: ["127.0.0.3", 0],
    });
    assert.equal((transport.getExtraInfo("sockname") as [string, number])[0], "127.0.0.3");
    transport.close();
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport] = await loop.createConnection(() => new Collector(), {
      host: "127.0.0.1",
      port: portOf(server),
      localAddr: ["127.0.0.4", 0],
    });
    assert.equal((transport.getExtraInfo("sockname") as [string, number])[0], "127.0.0.4");
    transport.close();
    server.close();
    await server.waitClosed();
  });
});

// ---- BufferedProtocol, reading, writing after close ------------------------------------

/** Receives into a small buffer of its own and echoes a copy of each filled part. */
class BufferedEcho extends asyncio.BufferedProtocol {
  transport: asyncio.Transport | null = null;
  readonly buffer = Buffer.alloc(7);
  hints: number[] = [];
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
  }
  override getBuffer(sizehint: number): Uint8Array {
    this.hints.push(sizehint);
    return this.buffer;
  }
  override bufferUpdated(nbytes: number): void {
    // A copy: the transport keeps what it is given until it is sent.
    this.transport?.write(Buffer.from(this.buffer.subarray(0, nbytes)));
  }
}

test("BufferedProtocol: data goes through getBuffer/bufferUpdated, in as many parts as it takes (both styles)", async () => {
  const message = Buffer.from("a message longer than seven bytes");
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    let serverProto: BufferedEcho | null = null;
    const server = yield* loop.createServer(() => (serverProto = new BufferedEcho()), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.write(message);
    yield* client.until(message.length);
    assert.equal(client.received.toString(), message.toString());
    assert.ok(((serverProto as BufferedEcho | null)?.hints.length ?? 0) >= 5, "a 33-byte message fills a 7-byte buffer 5 times");
    transport.close();
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new BufferedEcho(), {
      host: "127.0.0.1",
      port: portOf(server),
    });
    // The client is buffered too: what comes back is echoed again, so count a few round trips.
    transport.write(message);
    await asyncio.sleep(0.05);
    assert.ok(client.hints.length > 0);
    transport.abort();
    server.close();
    server.closeClients();
    await server.waitClosed();
  });
});

test("pauseReading stops delivery until resumeReading, nothing is lost (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.pauseReading();
    assert.equal(transport.isReading(), false);
    transport.write(Buffer.from("while paused"));
    yield* asyncio.sleep(0.05);
    assert.equal(client.size, 0, "no data while paused");
    transport.resumeReading();
    assert.equal(transport.isReading(), true);
    yield* client.until(12);
    assert.equal(client.received.toString(), "while paused");
    transport.close();
    assert.equal(transport.isReading(), false);
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.pauseReading();
    transport.write(Buffer.from("abc"));
    await asyncio.sleep(0.05);
    assert.equal(client.size, 0);
    transport.resumeReading();
    await client.until(3);
    transport.close();
    server.close();
    await server.waitClosed();
  });
});

test("data that arrives while the loop is stopped waits and is delivered when it runs again", async () => {
  const loop = new asyncio.EventLoop();
  const raw = net.createServer((sock) => sock.on("data", (d) => sock.write(d)));
  await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
  try {
    const port = (raw.address() as net.AddressInfo).port;
    const [transport, client] = await loop.runUntilComplete(
      loop.createTask(async () => loop.createConnection(() => new Collector(), { host: "127.0.0.1", port })),
    );
    transport.write(Buffer.alloc(300_000, 7));
    // The loop is stopped: Node receives the echo, the transport holds it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(client.size, 0, "no protocol callback runs while the loop is stopped");
    await loop.runUntilComplete(
      loop.createTask(function* () {
        yield* client.until(300_000);
        transport.close();
        yield* client.done;
      }),
    );
    assert.equal(client.size, 300_000);
  } finally {
    loop.close();
    await new Promise((resolve) => raw.close(resolve));
  }
});

test("writes after close are dropped, and from the fifth on asyncio's warning is logged (both styles)", async () => {
  const warnings: unknown[][] = [];
  const quiet = { debug() {}, info() {}, warn: (...args: unknown[]) => warnings.push(args), error() {} };
  asyncio.setLogger(quiet);
  try {
    await runNet(function* () {
      const loop = asyncio.getRunningLoop();
      const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
      const [transport, client] = yield* loop.createConnection(() => new Collector(), {
        host: "127.0.0.1",
        port: portOf(server),
      });
      transport.close();
      for (let i = 0; i < 4; i++) transport.write(Buffer.from("x"));
      assert.equal(warnings.length, 0);
      transport.write(Buffer.from("x"));
      assert.deepEqual(warnings, [["socket.send() raised exception."]]);
      yield* client.done;
      assert.throws(() => transport.write("text" as unknown as Uint8Array), TypeError);
      server.close();
      yield* server.waitClosed();
    });
    warnings.length = 0;
    await runNet(async () => {
      const loop = asyncio.getRunningLoop();
      const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
      const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
      transport.abort();
      await client.done;
      for (let i = 0; i < 6; i++) transport.write(Buffer.from("x"));
      assert.equal(warnings.length, 2);
      server.close();
      await server.waitClosed();
    });
  } finally {
    asyncio.setLogger(null);
  }
});

test("a protocol whose dataReceived throws: the error goes to the exception handler and the transport closes", async () => {
  class Failing extends asyncio.Protocol {
    lost: asyncio.Future<Error | null> = asyncio.getRunningLoop().createFuture();
    override dataReceived(): void {
      throw new Error("boom");
    }
    override connectionLost(exc: Error | null): void {
      this.lost.setResult(exc);
    }
  }
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const seen: asyncio.ExceptionContext[] = [];
    loop.setExceptionHandler((_l, context) => seen.push(context));
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new Failing(), { host: "127.0.0.1", port: portOf(server) });
    transport.write(Buffer.from("x"));
    const exc = await client.lost;
    assert.equal(exc?.message, "boom");
    assert.equal(seen[0]?.message, "Fatal error: protocol.dataReceived() call failed.");
    server.close();
    await server.waitClosed();
  });
});

// ---- sendfile ----------------------------------------------------------------------------

test("sendfile sends a file byte-exact through the transport; fallback: false is SendfileNotAvailableError (both styles)", async () => {
  const file = path.join(os.tmpdir(), `asyncio-ts-${process.pid}-sendfile.bin`);
  const content = Buffer.alloc(1_000_003);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
  fs.writeFileSync(file, content);
  try {
    await runNet(function* () {
      const loop = asyncio.getRunningLoop();
      let receiver: Collector | null = null;
      const server = yield* loop.createServer(() => (receiver = new Collector()), { host: "127.0.0.1", port: 0 });
      const [transport, client] = yield* loop.createConnection(() => new Collector(), {
        host: "127.0.0.1",
        port: portOf(server),
      });
      const native = (loop as asyncio.EventLoop).transportBackend === "native";
      const fd = fs.openSync(file, "r");
      try {
        const sent = yield* loop.sendfile(transport, fd);
        assert.equal(sent, content.length);
        const part = yield* loop.sendfile(transport, fd, 10, 100);
        assert.equal(part, 100);
        if (native) {
          // A descriptor-based transport has zero-copy sendfile: fallback: false is not needed.
          assert.equal(yield* loop.sendfile(transport, fd, 0, 5, { fallback: false }), 5);
        } else {
          const error = yield* thrownBy(loop.sendfile(transport, fd, 0, 5, { fallback: false }));
          assert.ok(error instanceof asyncio.SendfileNotAvailableError);
        }
        assert.ok((yield* thrownBy(loop.sendfile(transport, fd, -1))) instanceof asyncio.ValueError);
      } finally {
        fs.closeSync(fd);
      }
      assert.equal(transport.isReading(), true, "reading resumes after sendfile");
      transport.close();
      yield* client.done;
      const r = receiver as Collector | null;
      yield* (r as Collector).done;
      const extra = native ? content.subarray(0, 5) : Buffer.alloc(0);
      assert.ok((r as Collector).received.equals(Buffer.concat([content, content.subarray(10, 110), extra])));
      server.close();
      yield* server.waitClosed();
    }, 20);
    await runNet(async () => {
      const loop = asyncio.getRunningLoop();
      let receiver: Collector | null = null;
      const server = await loop.createServer(() => (receiver = new Collector()), { host: "127.0.0.1", port: 0 });
      const [transport] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
      const handle = await fs.promises.open(file, "r");
      try {
        assert.equal(await loop.sendfile(transport, handle, 1000), content.length - 1000);
        await assert.rejects(Promise.resolve(loop.sendfile(transport, handle, 0, 0)), asyncio.ValueError);
      } finally {
        await handle.close();
      }
      transport.close();
      const r = receiver as Collector | null;
      await (r as Collector).done;
      assert.ok((r as Collector).received.equals(content.subarray(1000)));
      server.close();
      await server.waitClosed();
    }, 20);
  } finally {
    fs.unlinkSync(file);
  }
});
