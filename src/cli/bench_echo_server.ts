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

function announce(port: number): void {
  process.stdout.write(`PORT ${port}\n`);
}

/** The servers this file can run, by KIND. */
export const ECHO_SERVERS: Record<string, () => Promise<void>> = {
  /** asyncio-ts: loop.createServer with a Protocol. */
  protocol: () =>
    asyncio.run(async () => {
      const loop = asyncio.getRunningLoop();
      const server = (await loop.createServer(() => new EchoProtocol(), { host: "127.0.0.1", port: 0 })) as asyncio.Server;
      announce((server.sockets[0] as asyncio.TransportSocket).getsockname().at(1) as number);
      await server.serveForever();
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
