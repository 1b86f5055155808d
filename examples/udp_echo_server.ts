/**
 * UDP echo server with a datagram protocol (the seeds' "UDP echo server
 * protocol"): sends each datagram back to its sender. Serves until SIGINT
 * (Ctrl+C) or SIGTERM.
 *
 *     node build/examples/udp_echo_server.js [--port 9999]
 */
import * as asyncio from "asyncio-ts";
import { options, runUntilInterrupted } from "./_serve.js";

class EchoServerProtocol extends asyncio.DatagramProtocol {
  private transport: asyncio.DatagramTransport | null = null;

  override connectionMade(transport: asyncio.DatagramTransport): void {
    this.transport = transport;
  }

  override datagramReceived(data: Buffer, addr: asyncio.Address): void {
    const message = data.toString();
    console.log(`Received ${JSON.stringify(message)} from ${JSON.stringify(addr)}`);
    console.log(`Send ${JSON.stringify(message)} to ${JSON.stringify(addr)}`);
    this.transport?.sendto(data, addr);
  }
}

export async function main(host: string, port: number): Promise<void> {
  const loop = asyncio.newEventLoop();
  console.log("Starting UDP server");
  // One protocol instance will be created to serve all client requests
  const [transport] = await loop.runUntilComplete(
    loop.createDatagramEndpoint(() => new EchoServerProtocol(), { localAddr: [host, port] }),
  );
  console.log(`Listening on ${JSON.stringify(transport.getExtraInfo("sockname"))}`);
  await runUntilInterrupted(loop);
  transport.close();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { host, port } = options(9999);
  await main(host, port);
}
