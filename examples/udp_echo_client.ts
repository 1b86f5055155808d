/**
 * UDP echo client with a datagram protocol (the seeds' "UDP echo client
 * protocol"): sends a datagram, prints the answer, closes.
 *
 *     node build/examples/udp_echo_client.js [--port 9999]
 */
import * as asyncio from "asyncio-ts";
import { options } from "./_serve.js";

class EchoClientProtocol extends asyncio.DatagramProtocol {
  private transport: asyncio.DatagramTransport | null = null;

  constructor(
    private readonly message: string,
    private readonly loop: asyncio.AbstractEventLoop,
  ) {
    super();
  }

  override connectionMade(transport: asyncio.DatagramTransport): void {
    this.transport = transport;
    console.log(`Send: ${this.message}`);
    transport.sendto(Buffer.from(this.message));
  }

  override datagramReceived(data: Buffer, _addr: asyncio.Address): void {
    console.log(`Received: ${data.toString()}`);
    console.log("Close the socket");
    this.transport?.close();
  }

  override errorReceived(exc: Error): void {
    console.log(`Error received: ${exc}`);
  }

  override connectionLost(_exc: Error | null): void {
    console.log("Socket closed, stop the event loop");
    this.loop.stop();
  }
}

export async function main(host: string, port: number, message = "Hello World!"): Promise<void> {
  const loop = asyncio.newEventLoop();
  const [transport] = await loop.runUntilComplete(
    loop.createDatagramEndpoint(() => new EchoClientProtocol(message, loop), { remoteAddr: [host, port] }),
  );
  await loop.runForever();
  transport.close();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { host, port } = options(9999);
  await main(host, port);
}
