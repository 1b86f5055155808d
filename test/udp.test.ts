/**
 * UDP endpoints (`loop.createDatagramEndpoint`, the datagram transport):
 * echo over IPv4 and IPv6, `remoteAddr` with `sendto` without an address,
 * ICMP errors reaching `errorReceived`, `allowBroadcast`, flow control,
 * `reusePort`, the errors of bad options, and the protocol's state
 * machine. Every test runs in both coroutine styles on a real loop.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import os from "node:os";
import { test } from "node:test";
import { inspect } from "node:util";
import * as asyncio from "asyncio-ts";
import type { Script } from "./io_helpers.js";
import { future, runIo, STYLES } from "./io_helpers.js";

const AF_INET = 2;
const AF_INET6 = 10;
const AF_UNIX = 1;

type Addr = asyncio.Address;

/** Records every protocol event, in order; `received` resolves at the first datagram. */
class Recorder extends asyncio.DatagramProtocol {
  events: string[] = [];
  datagrams: [string, Addr][] = [];
  errors: Error[] = [];
  transport: asyncio.DatagramTransport | null = null;
  inLoop: boolean[] = [];
  received = future<[string, Addr]>();
  errored = future<Error>();
  lost = future<Error | null>();

  override connectionMade(transport: asyncio.DatagramTransport): void {
    this.events.push("made");
    this.transport = transport;
  }
  override datagramReceived(data: Buffer, addr: Addr): void {
    this.events.push("datagram");
    this.inLoop.push(asyncio.getRunningLoop() !== null);
    this.datagrams.push([data.toString(), addr]);
    if (!this.received.done()) this.received.setResult([data.toString(), addr]);
  }
  override errorReceived(exc: Error): void {
    this.events.push("error");
    this.errors.push(exc);
    if (!this.errored.done()) this.errored.setResult(exc);
  }
  override connectionLost(exc: Error | null): void {
    this.events.push("lost");
    this.lost.setResult(exc);
  }
}

/** Echoes every datagram back to its sender. */
class Echo extends Recorder {
  override datagramReceived(data: Buffer, addr: Addr): void {
    super.datagramReceived(data, addr);
    this.transport?.sendto(data, addr);
  }
}

function endpoint<P extends asyncio.DatagramProtocol>(
  factory: () => P,
  options: asyncio.CreateDatagramEndpointOptions,
): asyncio.Awaitable<[asyncio.DatagramTransport, P]> {
  return asyncio.getRunningLoop().createDatagramEndpoint(factory, options);
}

function socketOf(transport: asyncio.DatagramTransport): dgram.Socket {
  return transport.getExtraInfo<dgram.Socket>("socket") as dgram.Socket;
}

function assertReleased(transport: asyncio.DatagramTransport): void {
  assert.throws(() => socketOf(transport).address(), { code: "ERR_SOCKET_DGRAM_NOT_RUNNING" });
}

function* closeAndWait(transport: asyncio.DatagramTransport, protocol: Recorder): Generator<asyncio.Awaitable<unknown>, void> {
  transport.close();
  assert.equal(transport.isClosing(), true);
  const exc = yield protocol.lost;
  assert.equal(exc, null);
  assertReleased(transport);
}

function echoScript(host: string): Script<void> {
  return function* () {
    const [server, serverProto] = (yield endpoint(() => new Echo(), { localAddr: [host, 0] })) as [
      asyncio.DatagramTransport,
      Echo,
    ];
    const sockname = server.getExtraInfo<Addr>("sockname") as [string, number];
    assert.equal(sockname[0], host);
    assert.ok(sockname[1] > 0);
    assert.equal(server.getExtraInfo("peername"), null);
    assert.ok(server.getExtraInfo("socket") instanceof dgram.Socket);

    const [client, clientProto] = (yield endpoint(() => new Recorder(), { remoteAddr: [host, sockname[1]] })) as [
      asyncio.DatagramTransport,
      Recorder,
    ];
    assert.deepEqual(clientProto.events, ["made"], "connectionMade ran before the endpoint was returned");
    const peer = client.getExtraInfo<Addr>("peername") as [string, number];
    assert.deepEqual(peer.slice(0, 2), [host, sockname[1]]);
    client.sendto(Buffer.from("ping"));
    const [reply, from] = (yield clientProto.received) as [string, Addr];
    assert.equal(reply, "ping");
    assert.deepEqual((from as [string, number]).slice(0, 2), [host, sockname[1]]);
    const clientName = client.getExtraInfo<[string, number]>("sockname") as [string, number];
    assert.deepEqual(((serverProto.datagrams[0] as [string, Addr])[1] as [string, number]).slice(0, 2), [host, clientName[1]]);
    if (host.includes(":")) assert.equal((from as unknown[]).length, 4, "IPv6 addresses are 4-element arrays");
    assert.deepEqual(clientProto.inLoop, [true], "datagramReceived runs inside the loop");

    yield* closeAndWait(client, clientProto);
    yield* closeAndWait(server, serverProto);
    assert.deepEqual(clientProto.events, ["made", "datagram", "lost"]);
    assert.deepEqual(serverProto.events, ["made", "datagram", "lost"]);
    client.close();
    assert.deepEqual(clientProto.events, ["made", "datagram", "lost"], "a second close() changes nothing");
  };
}

function ipv6Available(): boolean {
  return Object.values(os.networkInterfaces()).some((list) =>
    (list ?? []).some((i) => i.address === "::1" && i.family === "IPv6"),
  );
}

for (const style of STYLES) {
  test(`${style}: UDP echo over IPv4; remoteAddr endpoint sends without an address`, async () => {
    await runIo(style, echoScript("127.0.0.1"));
  });

  test(`${style}: UDP echo over IPv6 (::1), or a clear OSError where the host has no IPv6 loopback`, async () => {
    if (ipv6Available()) {
      await runIo(style, echoScript("::1"));
      return;
    }
    await runIo(style, function* () {
      let error: unknown = null;
      try {
        yield endpoint(() => new Recorder(), { localAddr: ["::1", 0] });
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof asyncio.OSError);
    });
  });

  test(`${style}: sendto() on a connected endpoint refuses another address (ValueError) and accepts its own`, async () => {
    await runIo(style, function* () {
      const [server, serverProto] = (yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      const port = (server.getExtraInfo("sockname") as [string, number])[1];
      const [client, clientProto] = (yield endpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      assert.throws(() => client.sendto(Buffer.from("x"), ["127.0.0.1", port + 1]), asyncio.ValueError);
      assert.throws(() => client.sendto("text" as unknown as Uint8Array), TypeError);
      client.sendto(Buffer.from("own"), ["127.0.0.1", port]);
      const [data] = (yield serverProto.received) as [string, Addr];
      assert.equal(data, "own");
      yield* closeAndWait(client, clientProto);
      yield* closeAndWait(server, serverProto);
    });
  });

  test(`${style}: a connected endpoint to a closed port gets ConnectionRefusedError in errorReceived and stays open`, async () => {
    await runIo(style, function* () {
      const [probe, probeProto] = (yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      const port = (probe.getExtraInfo("sockname") as [string, number])[1];
      yield* closeAndWait(probe, probeProto);
      const [client, proto] = (yield endpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      client.sendto(Buffer.from("anyone?"));
      const exc = (yield proto.errored) as Error;
      assert.ok(exc instanceof asyncio.ConnectionRefusedError, String(exc));
      assert.equal(client.isClosing(), false);
      yield* closeAndWait(client, proto);
      assert.deepEqual(proto.events.slice(0, 2), ["made", "error"]);
    });
  });

  test(`${style}: allowBroadcast: a broadcast send is not refused; without it EACCES reaches errorReceived`, async () => {
    await runIo(style, function* () {
      const [plain, plainProto] = (yield endpoint(() => new Recorder(), { localAddr: ["0.0.0.0", 0] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      plain.sendto(Buffer.from("all"), ["255.255.255.255", 9]);
      const refused = (yield plainProto.errored) as Error;
      assert.ok(refused instanceof asyncio.PermissionError, String(refused));
      yield* closeAndWait(plain, plainProto);

      const [bcast, bcastProto] = (yield endpoint(() => new Recorder(), {
        localAddr: ["0.0.0.0", 0],
        remoteAddr: ["255.255.255.255", 9],
        allowBroadcast: true,
      })) as [asyncio.DatagramTransport, Recorder];
      assert.equal(bcast.getExtraInfo("peername"), null, "with allowBroadcast the socket is not connected");
      bcast.sendto(Buffer.from("all"));
      yield asyncio.sleep(0.05);
      assert.ok(!bcastProto.errors.some((e) => e instanceof asyncio.PermissionError), String(bcastProto.errors));
      yield* closeAndWait(bcast, bcastProto);
    });
  });

  test(`${style}: flow control: pauseWriting above the high-water mark, resumeWriting once sent`, async () => {
    await runIo(style, function* () {
      const flow: string[] = [];
      const resumed = future();
      class Flow extends Recorder {
        override pauseWriting(): void {
          flow.push("pause");
        }
        override resumeWriting(): void {
          flow.push("resume");
          resumed.setResult();
        }
      }
      const [server, serverProto] = (yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      const port = (server.getExtraInfo("sockname") as [string, number])[1];
      const [client, proto] = (yield endpoint(() => new Flow(), { remoteAddr: ["127.0.0.1", port] })) as [
        asyncio.DatagramTransport & { setWriteBufferLimits(l: asyncio.WriteBufferLimits): void },
        Flow,
      ];
      client.setWriteBufferLimits({ high: 10 });
      client.sendto(Buffer.alloc(100));
      assert.ok(client.getWriteBufferSize() >= 100);
      assert.deepEqual(flow, ["pause"]);
      yield resumed;
      assert.deepEqual(flow, ["pause", "resume"]);
      assert.equal(client.getWriteBufferSize(), 0);
      yield serverProto.received;
      assert.match(inspect(client), /^<UDPTransport sockname=.* peer=.* bufsize=0>$/);
      yield* closeAndWait(client, proto);
      yield* closeAndWait(server, serverProto);
    });
  });

  test(`${style}: close() waits for queued datagrams; abort() closes at once; both call connectionLost once`, async () => {
    await runIo(style, function* () {
      const [server, serverProto] = (yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      const port = (server.getExtraInfo("sockname") as [string, number])[1];
      const [client, proto] = (yield endpoint(() => new Recorder(), { remoteAddr: ["127.0.0.1", port] })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      client.sendto(Buffer.from("last words"));
      client.close();
      yield proto.lost;
      const [data] = (yield serverProto.received) as [string, Addr];
      assert.equal(data, "last words", "a datagram sent before close() is not lost");
      client.sendto(Buffer.from("dropped"));
      server.abort();
      server.abort();
      assert.equal((yield serverProto.lost) as Error | null, null);
      assert.deepEqual(serverProto.events, ["made", "datagram", "lost"]);
      assertReleased(server);
      assertReleased(client);
    });
  });

  test(`${style}: bad options: ValueError, TypeError, and a clear error for Unix datagram sockets`, async () => {
    await runIo(style, function* () {
      const attempts: [asyncio.CreateDatagramEndpointOptions, new (...a: never[]) => Error][] = [
        [{}, asyncio.ValueError],
        [{ family: AF_UNIX, localAddr: "/tmp/x.sock" }, asyncio.NotImplementedError],
        [{ localAddr: "/tmp/x.sock" }, asyncio.NotImplementedError],
        [{ localAddr: ["127.0.0.1", 70000] }, asyncio.ValueError],
        [{ localAddr: ["127.0.0.1"] as unknown as [string, number] }, TypeError],
        [{ localAddr: ["127.0.0.1", 0], family: AF_INET6 }, asyncio.OSError],
        [{ localAddr: ["127.0.0.1", 0], proto: 6 }, asyncio.ValueError],
        [{ sock: dgram.createSocket("udp4"), localAddr: ["127.0.0.1", 0] }, asyncio.ValueError],
        [{ sock: {} }, asyncio.ValueError],
      ];
      for (const [options, kind] of attempts) {
        let error: unknown = null;
        try {
          yield endpoint(() => new Recorder(), options);
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof kind, `${inspect(options)} -> ${String(error)}`);
        (options.sock as dgram.Socket | undefined)?.close?.();
      }
      // A family alone is enough: an unbound endpoint of that family.
      const [t, p] = (yield endpoint(() => new Recorder(), { family: AF_INET })) as [asyncio.DatagramTransport, Recorder];
      yield* closeAndWait(t, p);
    });
  });

  test(`${style}: a host name is resolved (localhost), and an existing dgram socket can be adopted`, async () => {
    await runIo(style, function* () {
      const [server, serverProto] = (yield endpoint(() => new Recorder(), { localAddr: ["localhost", 0], family: AF_INET })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      const [host, port] = server.getExtraInfo("sockname") as [string, number];
      assert.equal(host, "127.0.0.1");
      const sock = dgram.createSocket("udp4");
      const bound = future();
      sock.bind(0, "127.0.0.1", () => bound.setResult());
      yield bound;
      const [client, proto] = (yield endpoint(() => new Recorder(), { sock })) as [asyncio.DatagramTransport, Recorder];
      assert.equal(client.getExtraInfo("socket"), sock);
      client.sendto(Buffer.from("adopted"), ["127.0.0.1", port]);
      assert.equal(((yield serverProto.received) as [string, Addr])[0], "adopted");
      yield* closeAndWait(client, proto);
      yield* closeAndWait(server, serverProto);
    });
  });

  test(`${style}: reusePort lets two endpoints share a port where Node supports it, else a clear ValueError`, async () => {
    const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
    const supported = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
    await runIo(style, function* () {
      if (!supported) {
        let error: unknown = null;
        try {
          yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0], reusePort: true });
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof asyncio.ValueError && /reusePort/.test(error.message), String(error));
        return;
      }
      const [a, pa] = (yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", 0], reusePort: true })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      const port = (a.getExtraInfo("sockname") as [string, number])[1];
      const [b, pb] = (yield endpoint(() => new Recorder(), { localAddr: ["127.0.0.1", port], reusePort: true })) as [
        asyncio.DatagramTransport,
        Recorder,
      ];
      assert.equal((b.getExtraInfo("sockname") as [string, number])[1], port);
      yield* closeAndWait(a, pa);
      yield* closeAndWait(b, pb);
    });
  });
}

test("a bare BaseEventLoop has no UDP backend: NotImplementedError", () => {
  const loop = new asyncio.BaseEventLoop({
    started() {},
    stopped() {},
    yieldToHost() {},
    afterMicrotasks() {},
    sleep() {},
    cancelSleep() {},
    time: () => 0,
    clockResolution: 0.001,
  });
  assert.throws(() => loop.createDatagramEndpoint(() => new asyncio.DatagramProtocol(), {}), asyncio.NotImplementedError);
  loop.close();
});
