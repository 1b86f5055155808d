/**
 * The echo servers of `asyncio-ts bench --only echo`, one per process:
 *
 *   node bench_echo_server.js KIND
 *
 * listens on 127.0.0.1, port 0, prints `PORT <n>` on its stdout and echoes
 * until killed. Each KIND is a server of the registry in `bench_echo.ts`;
 * this file holds the ones written in TypeScript (a Protocol on the
 * asyncio-ts loop, and Node's `net` without the loop as the baseline).
 * Another part adds a kind with one entry in `ECHO_SERVERS` below and one
 * in the registry.
 */
import net from "node:net";
import * as asyncio from "../index.js";

/** Echoes every chunk back: the protocol under test. */
class EchoProtocol extends asyncio.Protocol {
  private _transport: asyncio.Transport | null = null;
  override connectionMade(transport: asyncio.Transport): void {
    this._transport = transport;
  }
  override dataReceived(data: Buffer): void {
    (this._transport as asyncio.Transport).write(data);
  }
}

/** The streams echo: read up to 64 KiB, write it back, drain; until end of file. */
async function streamsEcho(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  for (;;) {
    const data = await reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}

/** The same, as a generator coroutine. */
function* streamsEchoGenerator(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): asyncio.Coroutine<void> {
  for (;;) {
    const data = yield* reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    yield* writer.drain();
  }
  writer.close();
}

/** A startServer echo server with `handler`. */
function streamsServer(handler: asyncio.ClientConnectedCallback): () => Promise<void> {
  return () =>
    asyncio.run(async () => {
      const server = (await asyncio.startServer(handler, "127.0.0.1", 0)) as asyncio.Server;
      announce((server.sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number);
      await server.serveForever();
    });
}

/**
 * Echoes through its own receive buffer (BufferedProtocol): the kernel
 * writes into it and the same bytes are written back, no copy. The
 * transport keeps what it was given until sent, so the buffer is reused
 * only when the write went out at once, else a new one is made.
 */
class BufferedEchoProtocol extends asyncio.BufferedProtocol {
  private _transport: asyncio.Transport | null = null;
  private _buffer = Buffer.allocUnsafe(64 * 1024);
  override connectionMade(transport: asyncio.Transport): void {
    this._transport = transport;
  }
  override getBuffer(): Uint8Array {
    return this._buffer;
  }
  override bufferUpdated(nbytes: number): void {
    const transport = this._transport as asyncio.Transport;
    transport.write(this._buffer.subarray(0, nbytes));
    if (transport.getWriteBufferSize() > 0) this._buffer = Buffer.allocUnsafe(64 * 1024);
  }
}

/** A Protocol echo server on the loop, the transports of `backend`. */
function protocolServer(backend: "native" | "net", factory: () => asyncio.BaseProtocol): () => Promise<void> {
  return () =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      if ((loop as asyncio.EventLoop).transportBackend !== backend) {
        throw new Error(`the loop uses the ${(loop as asyncio.EventLoop).transportBackend} transports, not ${backend}`);
      }
      const server = (await loop.createServer(factory, { host: "127.0.0.1", port: 0 })) as asyncio.Server;
      announce((server.sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number);
      await server.serveForever();
    });
}

/** Echoes on one accepted raw socket with the loop's sock* methods until the peer closes. */
async function sockEcho(loop: asyncio.AbstractEventLoop, conn: asyncio.socket.Socket): Promise<void> {
  try {
    for (;;) {
      const data = await loop.sockRecv(conn, 256 * 1024);
      if (data.length === 0) break;
      await loop.sockSendall(conn, data);
    }
  } catch {
    // A reset by the client ends this connection only.
  } finally {
    conn.close();
  }
}

function announce(port: number): void {
  process.stdout.write(`PORT ${port}\n`);
}

/** The servers this file can run, by KIND. */
export const ECHO_SERVERS: Record<string, () => Promise<void>> = {
  /** asyncio-ts: loop.createServer with a Protocol, the loop's default (native) transports. */
  protocol: protocolServer("native", () => new EchoProtocol()),
  /** asyncio-ts: the same on the `net` backend (ASYNCIO_TS_TRANSPORTS=net, set by the registry). */
  "protocol-net": protocolServer("net", () => new EchoProtocol()),
  /** asyncio-ts: a BufferedProtocol on the native transports (receives into the protocol's buffer). */
  buffered: protocolServer("native", () => new BufferedEchoProtocol()),
  /** asyncio-ts streams: startServer, read(64 KiB) / write / drain in an async function. */
  streams: streamsServer(streamsEcho),
  /** The same with a generator coroutine. */
  "streams-generator": streamsServer(streamsEchoGenerator),
  /** asyncio-ts: sockAccept / sockRecv / sockSendall on raw non-blocking sockets (the native addon), one task per connection. */
  sock: () =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const { socket } = asyncio;
      const listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM);
      listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);
      listener.bind(["127.0.0.1", 0]);
      listener.listen(128);
      listener.setblocking(false);
      announce((listener.getsockname() as [string, number])[1]);
      for (;;) {
        const [conn] = (await loop.sockAccept(listener)) as [asyncio.socket.Socket, asyncio.Address];
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1);
        asyncio.createTask(() => sockEcho(loop, conn));
      }
    }),
  /** Plain Node: net.createServer, 'data' -> write, no loop. */
  net: () =>
    new Promise<void>(() => {
      const server = net.createServer({ noDelay: true } as net.ServerOpts, (sock) => {
        sock.setNoDelay(true);
        sock.on("data", (data) => sock.write(data));
        sock.on("error", () => sock.destroy());
      });
      server.listen(0, "127.0.0.1", () => announce((server.address() as net.AddressInfo).port));
    }),
};

const kind = process.argv[2] ?? "";
const start = ECHO_SERVERS[kind];
if (start === undefined) {
  process.stderr.write(`bench_echo_server: unknown server ${kind} (known: ${Object.keys(ECHO_SERVERS).join(", ")})\n`);
  process.exit(2);
}
start().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
