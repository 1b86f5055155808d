/**
 * Register an open socket to wait for data using a protocol (the seeds'
 * example): `createConnection({ sock })` wraps one end of a socket pair in
 * a transport; the protocol prints what arrives, closes, and its
 * connectionLost stops the loop.
 *
 *     node build/examples/register_socket_protocol.js
 */
import * as asyncio from "asyncio-ts";

export async function main(): Promise<void> {
  // Create a pair of connected sockets
  const [rsock, wsock] = asyncio.socket.socketpair();
  const loop = asyncio.newEventLoop();

  class MyProtocol extends asyncio.Protocol {
    transport: asyncio.Transport | null = null;

    override connectionMade(transport: asyncio.Transport): void {
      this.transport = transport;
    }

    override dataReceived(data: Buffer): void {
      console.log("Received:", data.toString());
      // We are done: close the transport (it will call connectionLost())
      this.transport?.close();
    }

    override connectionLost(_exc: Error | null): void {
      // The socket has been closed, stop the event loop
      loop.stop();
    }
  }

  // Register the socket to wait for data (the transport now owns rsock)
  await loop.runUntilComplete(loop.createConnection(() => new MyProtocol(), { sock: rsock }));
  // Simulate the reception of data from the network
  loop.callSoon(() => wsock.send(Buffer.from("abc")));
  // Run the event loop
  await loop.runForever();
  // We are done, close sockets and the event loop (rsock was closed with its transport)
  rsock.close();
  wsock.close();
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
