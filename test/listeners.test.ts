/**
 * The servers and connections of a native loop (listeners.ts and the raw
 * connect path of tcp.ts / unix_events.ts): no Node socket or server
 * handle is made, a burst of connections is accepted in batches, a raw
 * `socket.Socket` given as `sock` listens from `startServing()` on, a Unix
 * server removes its socket file on close unless it was replaced or
 * `cleanupSocket: false`, a cancelled connection attempt leaves no socket,
 * and running out of descriptors pauses accepting (reported, then resumed)
 * instead of spinning. Each in both coroutine styles.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as asyncio from "asyncio-ts";
import { thrownBy } from "./helpers.js";
import { Collector, EchoProtocol, runNet } from "./net_helpers.js";

function portOf(server: asyncio.AbstractServer): number {
  return ((server as asyncio.Server).sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number;
}

/** How many of Node's own socket and server handles are alive now (the test runner's stdio pipes among them). */
function nodeNetHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => /^(TCP|Pipe)/.test(name)).length;
}

function tempSocketPath(name: string): string {
  return path.join(os.tmpdir(), `asyncio-ts-${process.pid}-${name}.sock`);
}

test("a native server and its connections use no Node socket; sockets[] shows raw sockets (generator coroutine)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop() as asyncio.EventLoop;
    assert.equal(loop.transportBackend, "native");
    const handlesBefore = nodeNetHandles();
    const server = (yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 })) as asyncio.Server;
    const listening = server.sockets[0] as asyncio.TransportSocket;
    assert.ok(listening.nodeSocket instanceof asyncio.socket.Socket, "the listener is a raw socket");
    assert.ok(listening.fileno() >= 0);
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    assert.ok((transport.getExtraInfo("socket") as asyncio.TransportSocket).nodeSocket instanceof asyncio.socket.Socket);
    assert.equal(nodeNetHandles(), handlesBefore, "no TCPWrap / TCPServerWrap of Node's");
    transport.write(Buffer.from("raw all the way"));
    yield* client.until(15);
    assert.equal(client.received.toString(), "raw all the way");
    transport.close();
    yield* client.done;
    server.close();
    yield* server.waitClosed();
    assert.equal(listening.fileno(), -1, "closing the server closed its socket");
  });
});

test("a burst of connections is accepted in batches, every one served (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    let accepted = 0;
    const server = await loop.createServer(
      () => {
        accepted++;
        return new EchoProtocol();
      },
      { host: "127.0.0.1", port: 0, backlog: 8 },
    );
    const port = portOf(server);
    const count = 40; // more than the backlog: several readiness reports, each accepting up to 8
    const pairs = await asyncio.gather(
      ...Array.from({ length: count }, () => loop.createConnection(() => new Collector(), { host: "127.0.0.1", port })),
    );
    for (const [i, [transport]] of pairs.entries()) transport.write(Buffer.from(`#${String(i).padStart(2, "0")}`));
    for (const [i, [, client]] of pairs.entries()) {
      await client.until(3);
      assert.equal(client.received.toString(), `#${String(i).padStart(2, "0")}`);
    }
    assert.equal(accepted, count);
    for (const [transport] of pairs) transport.close();
    for (const [, client] of pairs) await client.done;
    server.close();
    await server.waitClosed();
  });
});

test("a raw socket.Socket as sock: bound by the caller, listening from startServing() on (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const { socket } = asyncio;
    const sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM);
    sock.bind(["127.0.0.1", 0]);
    const port = (sock.getsockname() as [string, number])[1];
    const server = yield* loop.createServer(() => new EchoProtocol(), { sock, startServing: false });
    assert.equal(sock.fileno(), -1, "the server took the descriptor");
    const refused = yield* thrownBy(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port }));
    assert.ok(refused instanceof asyncio.ConnectionRefusedError, "not listening before startServing()");
    yield* server.startServing();
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
    transport.write(Buffer.from("listening now"));
    yield* client.until(13);
    transport.close();
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const udp = asyncio.socket.socket(asyncio.socket.AF_INET, asyncio.socket.SOCK_DGRAM);
    try {
      await assert.rejects(
        Promise.resolve(loop.createServer(() => new EchoProtocol(), { sock: udp })),
        (e: unknown) => e instanceof asyncio.ValueError && /A Stream Socket was expected/.test(e.message),
      );
    } finally {
      udp.close();
    }
  });
});

test("a native Unix server removes its file on close, unless replaced or cleanupSocket: false (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const file = tempSocketPath("cleanup");
    const server = yield* loop.createUnixServer(() => new EchoProtocol(), { path: file });
    assert.equal(fs.statSync(file).isSocket(), true);
    const [transport, client] = yield* loop.createUnixConnection(() => new Collector(), { path: file });
    assert.equal(transport.getExtraInfo("peername"), file);
    transport.write(Buffer.from("unix"));
    yield* client.until(4);
    transport.close();
    server.close();
    yield* server.waitClosed();
    assert.equal(fs.existsSync(file), false, "closing removed the socket file");
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const kept = tempSocketPath("kept");
    const server = await loop.createUnixServer(() => new EchoProtocol(), { path: kept, cleanupSocket: false });
    server.close();
    await server.waitClosed();
    assert.equal(fs.statSync(kept).isSocket(), true, "cleanupSocket: false leaves the file");
    fs.unlinkSync(kept);

    const replaced = tempSocketPath("replaced");
    const first = await loop.createUnixServer(() => new EchoProtocol(), { path: replaced });
    const second = await loop.createUnixServer(() => new EchoProtocol(), { path: replaced }); // removes the stale file, binds anew
    first.close();
    await first.waitClosed();
    assert.equal(fs.statSync(replaced).isSocket(), true, "the first server leaves the second one's file alone");
    second.close();
    await second.waitClosed();
    assert.equal(fs.existsSync(replaced), false);
  });
});

test("a connection attempt cancelled while connecting leaves no socket; a refused one names the address (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    // A listener whose accept queue is full drops new SYNs: a connection to it stays in progress.
    const { socket } = asyncio;
    const full = socket.socket();
    full.bind(["127.0.0.1", 0]);
    full.listen(0);
    const port = (full.getsockname() as [string, number])[1];
    const fillers = Array.from({ length: 3 }, () => {
      const s = socket.socket();
      s.setblocking(false);
      s.connectEx(["127.0.0.1", port]);
      return s;
    });
    yield* asyncio.sleep(0.02);
    const attempt = loop.createTask(function* () {
      return yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
    });
    yield* asyncio.sleep(0.05);
    assert.equal(attempt.done(), false, "still connecting");
    attempt.cancel();
    assert.ok((yield* thrownBy(attempt)) instanceof asyncio.CancelledError);
    for (const s of fillers) s.close();
    full.close();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const port = portOf(server);
    server.close();
    await server.waitClosed();
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port })),
      (e: unknown) =>
        e instanceof asyncio.ConnectionRefusedError && e.message === `[Errno 111] Connect call failed ('127.0.0.1', ${port})`,
    );
    await assert.rejects(
      Promise.resolve(loop.createUnixConnection(() => new Collector(), { path: tempSocketPath("nobody") })),
      (e: unknown) => e instanceof asyncio.FileNotFoundError && /Connect call failed/.test(String(e)),
    );
  });
});

const EXHAUST_SCRIPT = fileURLToPath(new URL("../../test/fixtures/accept_emfile.mjs", import.meta.url));

test("out of descriptors: accept is reported and paused, then resumes (a child with ulimit -n, both styles)", () => {
  for (const style of ["generator", "async"]) {
    const run = spawnSync("sh", ["-c", `ulimit -n 64 && exec "${process.execPath}" "${EXHAUST_SCRIPT}" ${style}`], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(run.status, 0, `${style}: ${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /reported: socket\.accept\(\) out of system resource \(OSError EMFILE\)/);
    assert.match(run.stdout, /served after the pause: yes/);
  }
});
