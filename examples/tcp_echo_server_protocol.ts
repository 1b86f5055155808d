/**
 * TCP echo server with a protocol (the seeds' "TCP echo server protocol"):
 * each connection gets a protocol that sends the data back and closes.
 * Serves until SIGINT (Ctrl+C) or SIGTERM.
 *
 *     node build/examples/tcp_echo_server_protocol.js [--port 8888]
 */
import * as asyncio from "asyncio-ts";
import { options, runUntilInterrupted } from "./_serve.js";

class EchoServerClientProtocol extends asyncio.Protocol {
  private transport: asyncio.Transport | null = null;

  override connectionMade(transport: asyncio.Transport): void {
    console.log(`Connection from ${JSON.stringify(transport.getExtraInfo("peername"))}`);
    this.transport = transport;
  }

  override dataReceived(data: Buffer): void {
    const message = data.toString();
    console.log(`Data received: ${JSON.stringify(message)}`);
    console.log(`Send: ${JSON.stringify(message)}`);
    this.transport?.write(data);
    console.log("Close the client socket");
    this.transport?.close();
  }
}

export async function main(host: string, port: number): Promise<void> {
  const loop = asyncio.newEventLoop();
  // Each client connection will create a new protocol instance
  const server = await loop.runUntilComplete(loop.createServer(() => new EchoServerClientProtocol(), { host, port }));
  const [address] = server.sockets as { getsockname(): [string, number] }[];
  console.log(`Serving on ${JSON.stringify(address?.getsockname())}`);
  await runUntilInterrupted(loop);
  server.close();
  await loop.runUntilComplete(server.waitClosed());
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { host, port } = options(8888);
  await main(host, port);
}
