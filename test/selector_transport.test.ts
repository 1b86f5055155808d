/**
 * What is particular to the native transports on raw descriptors
 * (selector_transport.ts), beyond the shared suite (transports_tcp.test.ts
 * and server.test.ts, run on both backends): choosing the backend
 * (`transportBackend`, `ASYNCIO_TS_TRANSPORTS`), the write buffer holding
 * only what the kernel refused and draining in order (writev), writeEof
 * after buffered data, abort dropping the buffer, and a BufferedProtocol
 * whose own buffer receives the bytes, chunks received in the poll phase and
 * held (pause, setProtocol, close, startTls); each in both coroutine styles.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Duplex } from "node:stream";
import { test } from "node:test";
import tls from "node:tls";
import * as asyncio from "asyncio-ts";
import { Collector, EchoProtocol, runNet } from "./net_helpers.js";
import { makeTestCerts } from "./tls_certs.js";

function portOf(server: asyncio.AbstractServer): number {
  return ((server as asyncio.Server).sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number;
}

/** A receiver that starts paused, so that the sender's kernel buffers fill up. */
class PausedReceiver extends Collector {
  override connectionMade(transport: asyncio.Transport): void {
    super.connectionMade(transport);
    transport.pauseReading();
  }
}

function pattern(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

test("the backend: native by default, transportBackend: 'net' and bad values (both styles)", async () => {
  const native = new asyncio.EventLoop();
  const viaNet = new asyncio.EventLoop({ transportBackend: "net" });
  try {
    assert.equal(native.transportBackend, "native");
    assert.equal(viaNet.transportBackend, "net");
    assert.throws(() => new asyncio.EventLoop({ transportBackend: "uv" as "net" }), TypeError);
    process.env.ASYNCIO_TS_TRANSPORTS = "net";
    const fromEnv = new asyncio.EventLoop();
    assert.equal(fromEnv.transportBackend, "net");
    const fromOption = new asyncio.EventLoop({ transportBackend: "native" });
    assert.equal(fromOption.transportBackend, "native", "the option wins");
    fromEnv.close();
    fromOption.close();
    process.env.ASYNCIO_TS_TRANSPORTS = "nett";
    assert.throws(
      () => new asyncio.EventLoop(),
      (e: unknown) => e instanceof asyncio.RuntimeError && /"nett"/.test(String(e)),
    );
  } finally {
    delete process.env.ASYNCIO_TS_TRANSPORTS;
    native.close();
    viaNet.close();
  }
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    assert.equal(transport.constructor.name, "SelectorSocketTransport");
    transport.close();
    yield* client.done;
    server.close();
    yield* server.waitClosed();
  });
  // A loop of the other backend in the same process.
  const loop = new asyncio.EventLoop({ transportBackend: "net" });
  try {
    await loop.runUntilComplete(
      loop.createTask(async () => {
        const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
        const [transport, client] = await loop.createConnection(() => new Collector(), {
          host: "127.0.0.1",
          port: portOf(server),
        });
        assert.equal(transport.constructor.name, "SocketTransport");
        transport.close();
        await client.done;
        server.close();
        await server.waitClosed();
      }),
    );
  } finally {
    loop.close();
  }
});

test("only what the kernel refused is buffered; it drains in order once the peer reads (generator coroutine)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    let receiver: PausedReceiver | null = null;
    const server = yield* loop.createServer(() => (receiver = new PausedReceiver()), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.setWriteBufferLimits({ high: 64 * 1024 * 1024 });
    const first = pattern(1000, 1);
    transport.write(first);
    assert.equal(transport.getWriteBufferSize(), 0, "an idle socket takes a small write at once");
    const chunks: Buffer[] = [first];
    for (let i = 0; transport.getWriteBufferSize() === 0 || i < 64; i++) {
      const chunk = pattern(64 * 1024, i);
      chunks.push(chunk);
      transport.write(chunk);
    }
    transport.writelines([pattern(10, 2), pattern(20, 3)]);
    chunks.push(pattern(10, 2), pattern(20, 3));
    assert.match(String(transport), /write=<polling, bufsize=\d+>/);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    yield* asyncio.sleep(0);
    const r = receiver as PausedReceiver | null;
    assert.ok(r !== null);
    r.transport?.resumeReading();
    yield* r.until(total);
    assert.ok(r.received.equals(Buffer.concat(chunks)), "byte-exact, in order");
    assert.equal(transport.getWriteBufferSize(), 0);
    transport.close();
    yield* client.done;
    server.close();
    server.closeClients();
    yield* server.waitClosed();
  }, 20);
});

test("writeEof after buffered data: the data comes first, then end of file; abort drops the buffer (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const receivers: PausedReceiver[] = [];
    const server = await loop.createServer(() => receivers[receivers.push(new PausedReceiver()) - 1] as PausedReceiver, {
      host: "127.0.0.1",
      port: 0,
    });
    const [transport, first] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    const data = pattern(8 * 1024 * 1024, 5);
    transport.write(data);
    assert.ok(transport.getWriteBufferSize() > 0, "8 MiB do not fit in the kernel's buffers");
    transport.writeEof();
    await asyncio.sleep(0);
    const r = receivers[0] as PausedReceiver;
    r.keepOpen = true;
    r.transport?.resumeReading();
    await r.gotEof;
    assert.ok(r.received.equals(data));
    // The peer is done with its side: closing ours ends the connection, the client sees end of file.
    r.transport?.close();
    await r.done;
    assert.equal(await first.done, null);
    // abort with data buffered: connectionLost(null) at once, the rest is dropped.
    const [second, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    second.write(data);
    assert.ok(second.getWriteBufferSize() > 0);
    second.abort();
    assert.equal(second.getWriteBufferSize(), 0);
    assert.equal(await client.done, null);
    assert.match(String(second), /^<TCPTransport closed fd=\d+>$/);
    server.close();
    server.abortClients();
    await server.waitClosed();
  }, 20);
});

/** Receives into its own buffer; records which object each part landed in. */
class OwnBuffer extends asyncio.BufferedProtocol {
  readonly buffer = Buffer.alloc(100);
  readonly parts: Buffer[] = [];
  transport: asyncio.Transport | null = null;
  readonly done = asyncio.getRunningLoop().createFuture<void>();
  override connectionMade(transport: asyncio.Transport): void {
    this.transport = transport;
  }
  override getBuffer(sizeHint: number): Uint8Array {
    assert.equal(sizeHint, -1, "the native transport asks for any size, as CPython's selector transport");
    return this.buffer;
  }
  override bufferUpdated(nbytes: number): void {
    this.parts.push(Buffer.from(this.buffer.subarray(0, nbytes)));
  }
  override eofReceived(): boolean {
    return false;
  }
  override connectionLost(): void {
    this.done.setResult(undefined);
  }
}

test("BufferedProtocol: the kernel writes into the protocol's own buffer, in parts of at most its size (both styles)", async () => {
  const body = pattern(1000, 9);
  const check = (proto: OwnBuffer): void => {
    assert.ok(proto.parts.every((p) => p.length <= 100));
    assert.ok(Buffer.concat(proto.parts).equals(body));
  };
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    let proto: OwnBuffer | null = null;
    const server = yield* loop.createServer(() => (proto = new OwnBuffer()), { host: "127.0.0.1", port: 0 });
    const [transport] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.write(body);
    transport.close();
    yield* asyncio.sleep(0.01);
    yield* (proto as OwnBuffer | null)?.done ?? asyncio.sleep(0);
    check(proto as unknown as OwnBuffer);
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, proto] = await loop.createConnection(() => new OwnBuffer(), { host: "127.0.0.1", port: portOf(server) });
    transport.write(body);
    transport.writeEof();
    await proto.done;
    check(proto);
    server.close();
    await server.waitClosed();
  });
});

/** The client half-closes; the server's protocol keeps its side open, then pauses and resumes reading. */
function* eofOnceGen(): asyncio.Coroutine<void> {
  const loop = asyncio.getRunningLoop();
  let receiver: Collector | null = null;
  const server = yield* loop.createServer(
    () => {
      receiver = new Collector();
      receiver.keepOpen = true;
      return receiver;
    },
    { host: "127.0.0.1", port: 0 },
  );
  const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
  transport.writeEof();
  yield* asyncio.sleep(0.01);
  const r = receiver as Collector | null;
  assert.ok(r !== null);
  yield* r.gotEof;
  r.transport?.pauseReading();
  r.transport?.resumeReading();
  yield* asyncio.sleep(0.01);
  assert.deepEqual(r.events, ["made", "eof"], "end of file is delivered once");
  r.transport?.close();
  yield* r.done;
  yield* client.done;
  server.close();
  yield* server.waitClosed();
}

test("after end of file, pauseReading/resumeReading do not deliver it again (generator coroutine)", async () => {
  await runNet(eofOnceGen());
});

test("after end of file, pauseReading/resumeReading do not deliver it again (async function)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const receivers: Collector[] = [];
    const server = await loop.createServer(
      () => {
        const receiver = receivers[receivers.push(new Collector()) - 1] as Collector;
        receiver.keepOpen = true;
        return receiver;
      },
      { host: "127.0.0.1", port: 0 },
    );
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    transport.writeEof();
    await asyncio.sleep(0.01);
    const r = receivers[0] as Collector;
    await r.gotEof;
    r.transport?.pauseReading();
    r.transport?.resumeReading();
    await asyncio.sleep(0.01);
    assert.deepEqual(r.events, ["made", "eof"], "end of file is delivered once");
    r.transport?.close();
    await r.done;
    await client.done;
    server.close();
    await server.waitClosed();
  });
});

test("a socket.Socket handed to createConnection/connectAcceptedSocket: a native transport on it, no Node socket (both styles)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const sock = asyncio.socket.socket(asyncio.socket.AF_INET, asyncio.socket.SOCK_STREAM);
    sock.setblocking(false);
    yield* loop.sockConnect(sock, ["127.0.0.1", portOf(server)]);
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { sock });
    assert.equal(transport.constructor.name, "SelectorSocketTransport");
    assert.equal(sock.fileno(), -1, "the descriptor was taken from the given object");
    transport.write(Buffer.from("raw"));
    yield* client.until(3);
    assert.equal(client.received.toString(), "raw");
    transport.close();
    yield* client.done;
    server.close();
    yield* server.waitClosed();
  });
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const { socket } = asyncio;
    const listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM);
    listener.bind(["127.0.0.1", 0]);
    listener.listen(1);
    listener.setblocking(false);
    const port = (listener.getsockname() as [string, number])[1];
    const connecting = asyncio.ensureFuture(loop.createConnection(() => new Collector(), { host: "127.0.0.1", port }));
    const [conn] = (await loop.sockAccept(listener)) as [asyncio.socket.Socket, asyncio.Address];
    const [client, clientProto] = await connecting;
    const [transport, proto] = await loop.connectAcceptedSocket(() => new Collector(), conn);
    assert.equal(transport.constructor.name, "SelectorSocketTransport");
    client.write(Buffer.from("accepted"));
    await proto.until(8);
    assert.equal(proto.received.toString(), "accepted");
    transport.close();
    await proto.done;
    await clientProto.done;
    listener.close();
  });
});

/** Messages of every receive path: small ones (copied into the shared pool) and large ones (handed out as received). */
const CHUNK_SIZES = [1, 100, 1000, 4000, 16 * 1024 - 1, 16 * 1024, 20_000, 64 * 1024, 7, 3000];

function checkKeptChunks(client: Collector, sent: Buffer[]): void {
  for (const chunk of client.chunks) {
    assert.ok(Buffer.isBuffer(chunk), "a received chunk is a Buffer");
    assert.equal(chunk.constructor, Buffer);
    assert.ok(Buffer.isBuffer(chunk.subarray(0, 1)));
    // The chunks' prototype shadows `then` with undefined (a shorter lookup when a Promise is resolved with one).
    assert.equal((chunk as Buffer & { then?: unknown }).then, undefined, "a chunk is not thenable");
    assert.ok(!Object.keys(chunk).includes("then"));
    if (chunk.length <= 100) for (const key in chunk) assert.notEqual(key, "then", "then is not enumerable");
  }
  // A small chunk's pool cannot be transferred away from the receives still to come (Node 20 copies it, 22+ refuses).
  const small = client.chunks.find((c) => c.length < 16 * 1024 && c.buffer.byteLength > c.length) as Buffer;
  const length = small.buffer.byteLength;
  try {
    structuredClone(small, { transfer: [small.buffer as ArrayBuffer] });
  } catch (error) {
    assert.equal((error as Error).name, "DataCloneError");
  }
  assert.equal(small.buffer.byteLength, length, "the pool was not detached");
  // Every chunk kept since the first receive still holds its own bytes: later receives wrote elsewhere.
  assert.ok(client.received.equals(Buffer.concat(sent)), "the kept chunks hold what was sent, in order");
  assert.equal(client.chunks[0]?.toString("latin1", 0, 1), sent[0]?.toString("latin1", 0, 1));
}

test("received chunks keep their own bytes: small ones share a pool, large ones are handed out (generator)", async () => {
  await runNet(function* () {
    const loop = asyncio.getRunningLoop();
    const server = yield* loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    const sent: Buffer[] = [];
    let total = 0;
    for (let round = 0; round < 30; round++) {
      for (const size of CHUNK_SIZES) {
        const message = pattern(size, round * 31 + size);
        sent.push(message);
        total += size;
        transport.write(message);
        yield* client.until(total); // one round trip per message: many receives, kept across pools
      }
    }
    checkKeptChunks(client, sent);
    transport.close();
    yield* client.done;
    server.close();
    yield* server.waitClosed();
  });
});

test("received chunks keep their own bytes: small ones share a pool, large ones are handed out (async)", async () => {
  await runNet(async () => {
    const loop = asyncio.getRunningLoop();
    const server = await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 });
    const [transport, client] = await loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
    const sent: Buffer[] = [];
    let total = 0;
    for (let round = 0; round < 30; round++) {
      for (const size of CHUNK_SIZES) {
        const message = pattern(size, round * 17 + size);
        sent.push(message);
        total += size;
        transport.write(message);
        await client.until(total);
      }
    }
    checkKeptChunks(client, sent);
    for (const chunk of client.chunks.slice(0, 20))
      assert.equal(await Promise.resolve(chunk), chunk, "a Promise resolved with a chunk fulfils with it");
    transport.close();
    await client.done;
    server.close();
    await server.waitClosed();
  });
});

// ---- receives made in the poll phase, delivered in the iteration ----------------

/** Blocks the thread: what the peers send meanwhile is in the kernel when the loop polls next. */
function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

interface SiblingGroup {
  members: Sibling[];
  onFirst: ((other: Sibling) => void) | null;
}

/** A server protocol; the first of its group to receive data calls `onFirst` with the other one. */
class Sibling extends Collector {
  constructor(private readonly group: SiblingGroup) {
    super();
    group.members.push(this);
  }
  override dataReceived(data: Buffer): void {
    const onFirst = this.group.onFirst;
    this.group.onFirst = null;
    super.dataReceived(data);
    onFirst?.(this.group.members.find((member) => member !== this) as Sibling);
  }
}

/** Whether the transport holds a chunk received ahead and not delivered yet (the scenario's precondition). */
function holdsReceived(transport: asyncio.Transport | null): boolean {
  return (transport as unknown as { _received: unknown })._received !== null;
}

interface OnePoll {
  server: asyncio.AbstractServer;
  clients: asyncio.Transport[];
  /** The server protocol that received second, and the client it talks to. */
  other: Sibling;
  otherPeer: asyncio.Transport;
}

interface OnePollOptions {
  /** The protocol of client `i` (a Collector by default). */
  clientProtocol?: (i: number) => asyncio.Protocol;
  /** Waited for, with the connections, before sending. */
  ready?: () => boolean;
  /** Sends on both clients, in their order (by default "first" on each). */
  send?: (clients: asyncio.Transport[]) => void;
}

/**
 * Two connections whose server sockets both become readable before one
 * poll: both chunks are received in the poll phase, and the first
 * protocol to get its chunk calls `onFirst` on the other one, whose chunk
 * is received but not delivered yet.
 */
function* sendInOnePoll(onFirst: (other: Sibling) => void, options: OnePollOptions = {}): asyncio.Coroutine<OnePoll> {
  const loop = asyncio.getRunningLoop();
  const group: SiblingGroup = { members: [], onFirst: null };
  const server = yield* loop.createServer(() => new Sibling(group), { host: "127.0.0.1", port: 0 });
  const clients: asyncio.Transport[] = [];
  for (let i = 0; i < 2; i++) {
    const factory = () => options.clientProtocol?.(i) ?? new Collector();
    const [client] = yield* loop.createConnection(factory, { host: "127.0.0.1", port: portOf(server) });
    clients.push(client);
  }
  const ready = options.ready ?? (() => true);
  while (group.members.length < 2 || group.members.some((member) => member.transport === null) || !ready()) {
    yield* asyncio.sleep(0.001);
  }
  let other: Sibling | null = null;
  group.onFirst = (sibling) => {
    assert.ok(holdsReceived(sibling.transport), "the other chunk was received in the same poll phase");
    other = sibling;
    onFirst(sibling);
  };
  if (options.send !== undefined) options.send(clients);
  else for (const client of clients) client.write(Buffer.from("first"));
  blockThread(50);
  while (other === null) yield* asyncio.sleep(0.001);
  const found = other as Sibling;
  const port = ((found.transport as asyncio.Transport).getExtraInfo("peername") as [string, number])[1];
  const otherPeer = clients.find((client) => (client.getExtraInfo("sockname") as [string, number])[1] === port);
  return { server, clients, other: found, otherPeer: otherPeer as asyncio.Transport };
}

function* closeOnePoll(poll: OnePoll): asyncio.Coroutine<void> {
  for (const client of poll.clients) client.close();
  poll.server.close();
  yield* poll.server.waitClosed();
}

test("a chunk received ahead and held by pauseReading comes first at resumeReading (generator coroutine)", async () => {
  await runNet(function* () {
    const poll = yield* sendInOnePoll((other) => other.transport?.pauseReading());
    const { other, otherPeer } = poll;
    otherPeer.write(Buffer.from("second"));
    yield* asyncio.sleep(0.05);
    assert.equal(other.size, 0, "nothing is delivered while paused");
    assert.equal(other.transport?.isReading(), false);
    other.transport?.resumeReading();
    yield* other.until(11);
    assert.equal(other.received.toString(), "firstsecond");
    yield* closeOnePoll(poll);
  });
});

test("a chunk received ahead and held by pauseReading comes first at resumeReading (async function)", async () => {
  await runNet(async () => {
    const poll = await asyncio.coroutine(sendInOnePoll)((other) => other.transport?.pauseReading());
    const { other, otherPeer } = poll;
    await asyncio.sleep(0.05);
    assert.equal(other.size, 0, "nothing is delivered while paused");
    other.transport?.resumeReading();
    other.transport?.pauseReading(); // paused again before the held chunk's callback ran: it waits on
    await asyncio.sleep(0.02);
    assert.equal(other.size, 0);
    other.transport?.resumeReading();
    await other.until(5);
    otherPeer.write(Buffer.from("second"));
    await other.until(11);
    assert.equal(other.received.toString(), "firstsecond");
    await asyncio.coroutine(closeOnePoll)(poll);
  });
});

/** Takes bytes `size` at a time; pauses reading after its first part when asked to. */
class SmallBuffer extends asyncio.BufferedProtocol {
  readonly parts: Buffer[] = [];
  private readonly _buffer: Buffer;
  constructor(
    size: number,
    private readonly _transport: asyncio.Transport,
    private _pauseAfterFirst: boolean,
  ) {
    super();
    this._buffer = Buffer.alloc(size);
  }
  get received(): string {
    return Buffer.concat(this.parts).toString();
  }
  override getBuffer(): Uint8Array {
    return this._buffer;
  }
  override bufferUpdated(nbytes: number): void {
    this.parts.push(Buffer.from(this._buffer.subarray(0, nbytes)));
    if (this._pauseAfterFirst) this._transport.pauseReading();
    this._pauseAfterFirst = false;
  }
}

test("setProtocol to a BufferedProtocol: a chunk received ahead is copied into its buffers, in order (both styles)", async () => {
  const retarget = (pauseAfterFirst: boolean) => (other: Sibling) => {
    const transport = other.transport as asyncio.Transport;
    transport.setProtocol(new SmallBuffer(2, transport, pauseAfterFirst));
  };
  await runNet(function* () {
    const poll = yield* sendInOnePoll(retarget(false));
    const transport = poll.other.transport as asyncio.Transport;
    poll.otherPeer.write(Buffer.from("second"));
    const proto = transport.getProtocol() as SmallBuffer;
    while (proto.received.length < 11) yield* asyncio.sleep(0.001);
    assert.equal(proto.received, "firstsecond");
    assert.ok(proto.parts.every((part) => part.length <= 2));
    yield* closeOnePoll(poll);
  });
  await runNet(async () => {
    const poll = await asyncio.coroutine(sendInOnePoll)(retarget(true));
    const transport = poll.other.transport as asyncio.Transport;
    const proto = transport.getProtocol() as SmallBuffer;
    await asyncio.sleep(0.02);
    assert.equal(proto.received, "fi", "paused after the first part: the rest of the chunk waits");
    transport.resumeReading();
    while (proto.received.length < 5) await asyncio.sleep(0.001);
    poll.otherPeer.write(Buffer.from("second"));
    while (proto.received.length < 11) await asyncio.sleep(0.001);
    assert.equal(proto.received, "firstsecond");
    await asyncio.coroutine(closeOnePoll)(poll);
  });
});

test("close() drops a chunk received ahead: connectionLost(null), no data (both styles)", async () => {
  const body = function* (): asyncio.Coroutine<void> {
    const poll = yield* sendInOnePoll((other) => other.transport?.close());
    const error = yield* poll.other.done;
    assert.equal(error, null);
    assert.deepEqual(poll.other.events, ["made", "lost"]);
    yield* closeOnePoll(poll);
  };
  await runNet(body);
  await runNet(async () => {
    await asyncio.coroutine(body)();
  });
});

/**
 * The client side of a Node TLS client over an asyncio transport: what the
 * TLS client writes is kept until `forward()`, then sent; what arrives is
 * pushed to it.
 */
class TlsRelay extends asyncio.Protocol {
  readonly stream: Duplex;
  readonly written: Buffer[] = [];
  private _transport: asyncio.Transport | null = null;
  private _forward = false;
  constructor() {
    super();
    this.stream = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        if (this._forward) this._transport?.write(chunk);
        else this.written.push(chunk);
        callback();
      },
    });
  }
  override connectionMade(transport: asyncio.Transport): void {
    this._transport = transport;
  }
  /** Sends what was kept, and from now on what the TLS client writes. */
  forward(): void {
    this._forward = true;
    this._transport?.write(Buffer.concat(this.written.splice(0)));
  }
  override dataReceived(data: Buffer): void {
    this.stream.push(data);
  }
  override eofReceived(): boolean {
    this.stream.push(null);
    return false;
  }
}

test("startTls on a transport holding a chunk received ahead: the TLS layer reads it first (both styles)", async () => {
  const certs = makeTestCerts();
  const body = function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const relay = new TlsRelay();
    const client = tls.connect({ socket: relay.stream, servername: "localhost", ca: readFileSync(certs.caCert) });
    client.on("error", () => {});
    const poll = yield* sendInOnePoll((other) => other.transport?.pauseReading(), {
      clientProtocol: (i) => (i === 1 ? relay : new Collector()),
      ready: () => relay.written.length > 0, // the ClientHello
      send: (clients) => {
        clients[0]?.write(Buffer.from("first"));
        relay.forward();
      },
    });
    const { other } = poll;
    assert.equal(poll.otherPeer, poll.clients[1], "the ClientHello is the chunk received ahead");
    const context = new asyncio.ssl.SSLContext(asyncio.ssl.PROTOCOL_TLS_SERVER);
    context.loadCertChain(certs.serverCert, certs.serverKey);
    const secure = yield* loop.startTls(other.transport as asyncio.Transport, other, context, { serverSide: true });
    client.write("hello");
    yield* other.until(5);
    assert.equal(other.received.toString(), "hello", "only what came through TLS reached the protocol");
    client.destroy();
    secure.close();
    yield* other.done;
    yield* closeOnePoll(poll);
  };
  try {
    await runNet(body);
    await runNet(async () => {
      await asyncio.coroutine(body)();
    });
  } finally {
    certs.remove();
  }
});

/** The addon's batch receive (internal, not part of the public API). */
const { addon } = (await import(new URL("../../dist/node/addon.js", import.meta.url).href)) as {
  addon(): {
    recvBatch(fds: Int32Array, count: number, pool: Uint8Array, offset: number, results: Int32Array): number;
    RECV_COPY_LIMIT: number;
    EAGAIN: number;
  };
};

test("recvBatch: one receive per descriptor into the pool at 8-byte boundaries; it stops when the pool is nearly full", () => {
  const native = addon();
  const pairs = Array.from({ length: 3 }, () => asyncio.socket.socketpair());
  try {
    for (const [a] of pairs) a.setblocking(false);
    (pairs[0] as asyncio.socket.Socket[])[1]?.send(Buffer.alloc(10, 1));
    (pairs[1] as asyncio.socket.Socket[])[1]?.send(Buffer.alloc(3, 2));
    const fds = Int32Array.from(pairs, ([a]) => a.fileno());
    const pool = new Uint8Array(native.RECV_COPY_LIMIT + 40);
    const results = new Int32Array(6);
    assert.equal(native.recvBatch(fds, 3, pool, 0, results), 3);
    // 10 bytes at 0; 3 bytes at 16 (the boundary after 10); nothing ready on the third (it does not move the offset).
    assert.deepEqual(Array.from(results), [10, 0, 3, 16, -native.EAGAIN, 24]);
    assert.ok(pool.subarray(0, 10).every((b) => b === 1));
    assert.ok(pool.subarray(16, 19).every((b) => b === 2));
    (pairs[0] as asyncio.socket.Socket[])[1]?.send(Buffer.from("later"));
    assert.equal(native.recvBatch(fds, 1, pool, 41, results), 0, "less than RECV_COPY_LIMIT left at 41: nothing received");
    assert.equal(native.recvBatch(fds, 1, pool, 40, results), 1);
    assert.deepEqual(Array.from(results.subarray(0, 2)), [5, 40]);
    assert.throws(() => native.recvBatch(fds, 4, pool, 0, results), RangeError);
    assert.throws(() => native.recvBatch(fds, 1, pool, pool.length + 1, results), RangeError);
    assert.throws(() => native.recvBatch(new Float64Array(3) as unknown as Int32Array, 1, pool, 0, results), TypeError);
  } finally {
    for (const [a, b] of pairs) {
      a.close();
      b.close();
    }
  }
});

test("one poll phase with more receives ahead than one pool holds: every chunk keeps its own bytes (both styles)", async () => {
  const CONNECTIONS = 60;
  const body = function* (): asyncio.Coroutine<void> {
    const loop = asyncio.getRunningLoop();
    const accepted: Collector[] = [];
    const server = yield* loop.createServer(() => accepted[accepted.push(new Collector()) - 1] as Collector, {
      host: "127.0.0.1",
      port: 0,
    });
    const clients: asyncio.Transport[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const [client] = yield* loop.createConnection(() => new Collector(), { host: "127.0.0.1", port: portOf(server) });
      clients.push(client);
    }
    while (accepted.length < CONNECTIONS || accepted.some((c) => c.transport === null)) yield* asyncio.sleep(0.001);
    const sent = new Map<number, Buffer>();
    clients.forEach((client, i) => {
      const message = pattern(1200, i);
      sent.set((client.getExtraInfo("sockname") as [string, number])[1], message);
      client.write(message);
    });
    blockThread(50); // all 60 are in the kernel for one poll: 72,000 bytes ahead, more than one 64 KiB pool
    for (const collector of accepted) yield* collector.until(1200);
    for (const collector of accepted) {
      const port = ((collector.transport as asyncio.Transport).getExtraInfo("peername") as [string, number])[1];
      assert.ok(collector.received.equals(sent.get(port) as Buffer), `the bytes of the client on port ${port}`);
    }
    for (const client of clients) client.close();
    server.close();
    yield* server.waitClosed();
  };
  await runNet(body);
  await runNet(async () => {
    await asyncio.coroutine(body)();
  });
});
