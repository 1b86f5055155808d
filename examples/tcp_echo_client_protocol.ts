/**
 * TCP echo client with a protocol (the seeds' "TCP echo client
 * protocol"): sends a message, prints the answer, and stops the loop when
 * the server closes the connection.
 *
 *     node build/examples/tcp_echo_client_protocol.js [--port 8888]
 */
import * as asyncio from "asyncio-ts";
import { options } from "./_serve.js";

class EchoClientProtocol extends asyncio.Protocol {
  constructor(
    private readonly message: string,
    private readonly loop: asyncio.AbstractEventLoop,
  ) {
    super();
  }

  override connectionMade(transport: asyncio.Transport): void {
    transport.write(Buffer.from(this.message));
    console.log(`Data sent: ${JSON.stringify(this.message)}`);
  }

  override dataReceived(data: Buffer): void {
    console.log(`Data received: ${JSON.stringify(data.toString())}`);
  }

  override connectionLost(_exc: Error | null): void {
    console.log("The server closed the connection");
    console.log("Stop the event loop");
    this.loop.stop();
  }
}

export async function main(host: string, port: number, message = "Hello World!"): Promise<void> {
  const loop = asyncio.newEventLoop();
  // The loop runs twice: runUntilComplete() raises if the server is not listening.
  await loop.runUntilComplete(loop.createConnection(() => new EchoClientProtocol(message, loop), { host, port }));
  await loop.runForever();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { host, port } = options(8888);
  await main(host, port);
}
