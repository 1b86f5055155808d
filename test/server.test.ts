/**
 * `Server` (server.ts) and the server side of tcp.ts: closing with live
 * clients (3.13's waitClosed), closeClients/abortClients, serveForever and
 * its cancellation, startServing: false, several hosts and every
 * interface, reusePort/reuseAddress, `await using`, and sockets handed to
 * the loop (`sock`, connectAcceptedSocket); each in both coroutine styles.
 */
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import * as asyncio from "asyncio-ts";
import { Collector, EchoProtocol, runNet } from "./net_helpers.js";

function portOf(server: asyncio.AbstractServer): number {
  return ((server as asyncio.Server).sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number;
}

/** An echo protocol that records its transports, so a test can reach the server side. */
function trackingFactory(): { made: Collector[]; factory: () => Collector } {
  const made: Collector[] = [];
  return {
    made,
    factory: () => {
      const proto = new Collector();
      made.push(proto);
      return proto;
    },
  };
}

function* untilAccepted(made: Collector[], n: number): asyncio.Coroutine<void> {
  while (made.length < n || made.some((p) => p.transport === null)) yield* asyncio.sleep(0.001);
}

test("close() stops listening but keeps clients; waitClosed() waits for them (generator coroutine)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = (yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 })) as asyncio.Server;
    const port = portOf(server);
    assert.equal(server.isServing(), true);
    assert.equal(server.getLoop(), loop);
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
    server.close();
    assert.equal(server.isServing(), false);
    assert.deepEqual(server.sockets, []);
    const closed = loop.createTask(server.waitClosed());
    transport.write(Buffer.from("still here"));
    yield* client.until(10);
    assert.equal(client.received.toString(), "still here", "an accepted connection outlives close()");
    yield* asyncio.sleep(0.01);
    assert.equal(closed.done(), false, "waitClosed() waits while a client is connected");
    const refused = yield* thrownBy(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port }));
    assert.ok(refused instanceof asyncio.ConnectionRefusedError, "nothing listens any more");
    transport.close();
    yield* closed;
    yield* server.waitClosed(); // at once, now
  });
});

test("close() with live clients, closeClients() ends them (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = (await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 })) as asyncio.Server;
    const [, a] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    const [, b] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    await asyncio.sleep(0.01);
    server.close();
    const closed = loop.createTask(server.waitClosed());
    await asyncio.sleep(0.01);
    assert.equal(closed.done(), false);
    server.closeClients();
    assert.equal(await a.done, null);
    assert.equal(await b.done, null);
    await closed;
  });
});

test("abortClients() aborts every accepted connection (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const { made, factory } = trackingFactory();
    const server = yield* loop.createServer(factory, { host: "127.0.0.1", port: 0 });
    const [, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    yield* untilAccepted(made, 1);
    server.abortClients();
    assert.equal(yield* (made[0] as Collector).done, null);
    yield* client.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const { made, factory } = trackingFactory();
    const server = await loop.createServer(factory, { host: "127.0.0.1", port: 0 });
    const [, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    await asyncio.ensureFuture(untilAccepted(made, 1));
    server.close();
    server.abortClients();
    await client.done;
    await server.waitClosed();
  });
});

test("serveForever() serves until cancelled; the cancellation closes the server (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = (yield* loop.createServer(() => new EchoProtocol(), {
      host: "127.0.0.1",
      port: 0,
      startServing: false,
    })) as asyncio.Server;
    assert.equal(server.isServing(), false);
    const forever = loop.createTask(server.serveForever());
    yield* asyncio.sleep(0);
    assert.equal(server.isServing(), true);
    assert.ok((yield* thrownBy(server.serveForever())) instanceof asyncio.RuntimeError, "only one serveForever() at a time");
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.write(Buffer.from("served"));
    yield* client.until(6);
    transport.close();
    forever.cancel();
    assert.ok((yield* thrownBy(forever)) instanceof asyncio.CancelledError);
    assert.deepEqual(server.sockets, [], "the cancellation closed the server");
    assert.ok((yield* thrownBy(server.serveForever())) instanceof asyncio.RuntimeError, "a closed server cannot serve");
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const forever = loop.createTask(async () => server.serveForever());
    await asyncio.sleep(0.01);
    forever.cancel();
    await assert.rejects(Promise.resolve(forever), asyncio.CancelledError);
    assert.equal(server.isServing(), false);
  });
});

/** Whether the running loop's plain servers are raw sockets (native transports) rather than Node net.Servers. */
function nativeServers(): boolean {
  return (asyncio.getRunningLoop() as asyncio.EventLoop).transportBackend === "native";
}

test("startServing: false serves nothing until startServing() (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const { made, factory } = trackingFactory();
    const server = yield* loop.createServer(factory, { host: "127.0.0.1", port: 0, startServing: false });
    const port = portOf(server);
    if (nativeServers()) {
      // As in CPython: the socket is bound at once and listens from startServing() on.
      const refused = yield* thrownBy(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port }));
      assert.ok(refused instanceof asyncio.ConnectionRefusedError, String(refused));
      yield* server.startServing();
      const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
      transport.write(Buffer.from("served"));
      yield* untilAccepted(made, 1);
      yield* (made[0] as Collector).until(6);
      transport.close();
      yield* client.done;
    } else {
      // Node's net.Server cannot bind without listening: it holds what the kernel completes until startServing().
      const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port });
      transport.write(Buffer.from("early"));
      yield* asyncio.sleep(0.02);
      assert.equal(made.length, 0, "no protocol is made before serving");
      yield* server.startServing();
      yield* untilAccepted(made, 1);
      yield* (made[0] as Collector).until(5);
      assert.equal((made[0] as Collector).received.toString(), "early", "what was sent early is not lost");
      transport.close();
      yield* client.done;
    }
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, startServing: false });
    if (nativeServers()) {
      server.close(); // never served, never listened
      await server.waitClosed();
      return;
    }
    const [, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    server.close(); // never served: held connections are closed
    await client.done;
    await server.waitClosed();
  });
});

test("several hosts, every interface (null and empty host), port 0 (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = (yield* loop.createServer(() => new EchoProtocol(), {
      host: ["127.0.0.1", "127.0.0.2"],
      port: 0,
    })) as asyncio.Server;
    const names = server.sockets.map((s) => (s.getsockname() as [string, number])[0]);
    assert.deepEqual(names, ["127.0.0.1", "127.0.0.2"]);
    for (const sock of server.sockets) {
      const [host, port] = sock.getsockname() as [string, number];
      const [transport, client] = yield* loop.createConnection(() => new Collector(), { host, port });
      transport.write(Buffer.from(host));
      yield* client.until(host.length);
      transport.close();
    }
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    for (const host of [null, ""]) {
      const server = (await loop.createServer(() => new EchoProtocol(), { host, port: 0, backlog: 10 })) as asyncio.Server;
      const names = server.sockets.map((s) => (s.getsockname() as [string, number])[0]);
      assert.ok(names.includes("0.0.0.0"), String(names));
      const [transport] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
      transport.close();
      server.close();
      await server.waitClosed();
    }
  });
});

test("reusePort and reuseAddress: raw sockets take both; Node's net.Server refuses what it cannot do (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const options = { host: "127.0.0.1", port: 0, reuseAddress: false };
    if (nativeServers()) {
      const server = yield* loop.createServer(() => new EchoProtocol(), options);
      const [transport, client] = yield* loop.createConnection(() => new Collector(), {
        host: "127.0.0.1",
        port: portOf(server),
      });
      transport.write(Buffer.from("no SO_REUSEADDR"));
      yield* client.until(15);
      transport.close();
      server.close();
      yield* server.waitClosed();
    } else {
      const error = yield* thrownBy(loop.createServer(() => new EchoProtocol(), options));
      assert.ok(error instanceof asyncio.ValueError && /SO_REUSEADDR/.test(error.message));
    }
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    const nodeHasReusePort = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
    if (nativeServers() || nodeHasReusePort) {
      const a = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, reusePort: true });
      const b = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: portOf(a), reusePort: true });
      assert.equal(portOf(b), portOf(a));
      a.close();
      b.close();
      await a.waitClosed();
      await b.waitClosed();
    } else {
      await assert.rejects(
        Promise.resolve(loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0, reusePort: true })),
        (e: unknown) => e instanceof asyncio.ValueError && /reusePort needs Node >= 22\.12/.test(e.message),
      );
    }
  });
});

test("a port in use is an OSError naming the address; bad arguments are ValueErrors (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const port = portOf(server);
    const error = (yield* thrownBy(loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port }))) as asyncio.OSError;
    assert.ok(error instanceof asyncio.OSError);
    assert.equal(
      error.message,
      `[Errno 98] error while attempting to bind on address ('127.0.0.1', ${port}): address already in use`,
    );
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    await assert.rejects(Promise.resolve(loop.createServer(() => new EchoProtocol())), asyncio.ValueError);
    await assert.rejects(Promise.resolve(loop.createConnection(() => new Collector())), asyncio.ValueError);
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: 1, sock: new net.Socket() })),
      /host\/port and sock can not be specified at the same time/,
    );
    await assert.rejects(
      Promise.resolve(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: 1, serverHostname: "x" })),
      /serverHostname is only meaningful with ssl/,
    );
  });
});

test("await using closes the server and waits for it; the repr lists the sockets", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    let kept: asyncio.Server | null = null;
    {
      await using server = (await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 })) as asyncio.Server;
      kept = server;
      assert.match(
        String(server),
        /^<Server sockets=\[<asyncio\.TransportSocket fd=\d+, family=AF_INET, type=SOCK_STREAM, proto=6, laddr=/,
      );
    }
    assert.equal((kept as asyncio.Server).isServing(), false);
    assert.equal(String(kept), "<Server sockets=[]>");
  });
});

test("sockets handed to the loop: sock of createConnection/createServer, connectAcceptedSocket (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    // A listening net.Server as the server's sock, a connecting net.Socket as the client's.
    const listener = net.createServer();
    yield* asyncio.ensureFuture(new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve)));
    const server = yield* loop.createServer(() => new EchoProtocol(), { sock: listener });
    const sock = net.connect(portOf(server), "127.0.0.1");
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { sock });
    transport.write(Buffer.from("adopted"));
    yield* client.until(7);
    assert.equal(client.received.toString(), "adopted");
    transport.close();
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const accepted = loop.createFuture<net.Socket>();
    const raw = net.createServer((s) => accepted.setResult(s));
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    const peer = net.connect((raw.address() as net.AddressInfo).port, "127.0.0.1");
    peer.on("data", (d) => peer.end(d));
    const [transport, proto] = await loop.connectAcceptedSocket(() => new Collector(), await accepted);
    proto.keepOpen = true;
    transport.write(Buffer.from("to peer"));
    await proto.until(7);
    assert.equal(proto.received.toString(), "to peer");
    await proto.gotEof;
    transport.close();
    await proto.done;
    await new Promise((resolve) => raw.close(resolve));
  });
});

test("a listening Unix net.Server as sock: its connections are UnixTransports (both styles)", async () => {
  const socketPath = path.join(os.tmpdir(), `asyncio-ts-${process.pid}-sock-option.sock`);
  for (const style of ["generator", "async"] as const) {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
    const body = function* (): asyncio.Coroutine<void> {
      const loop = asyncio.getRunningLoop();
      const { made, factory } = trackingFactory();
      const server = yield* loop.createUnixServer(factory, { sock: listener });
      assert.equal((server as asyncio.Server).sockets[0]?.getsockname(), socketPath);
      const [transport, client] = yield* loop.createUnixConnection(() => new Collector(), { path: socketPath });
      yield* untilAccepted(made, 1);
      assert.match(String((made[0] as Collector).transport), /^<UnixTransport /);
      transport.close();
      yield* client.done;
      server.close();
      yield* server.waitClosed();
    };
    const asyncBody = async (): Promise<void> => {
      const loop = asyncio.getRunningLoop();
      const server = await loop.createUnixServer(() => new EchoProtocol(), { sock: listener });
      const [transport, client] = await loop.createUnixConnection(() => new Collector(), { path: socketPath });
      transport.write(Buffer.from("via sock"));
      await client.until(8);
      transport.close();
      await client.done;
      server.close();
      await server.waitClosed();
    };
    await runNet(style === "generator" ? body : asyncBody);
  }
});

function* thrownBy(aw: asyncio.Awaitable<unknown>): asyncio.Coroutine<unknown> {
  try {
    yield* aw;
  } catch (error) {
    return error;
  }
  assert.fail("expected an error");
}
