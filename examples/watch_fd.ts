/**
 * Watch a file descriptor for read events with addReader() (the seeds'
 * "Watch a file descriptor for read events"): a callback runs when one end
 * of a socket pair becomes readable, reads, unregisters itself and stops
 * the loop. Uses the real addReader (the native addon's uv_poll watcher)
 * and the `socket` namespace.
 *
 *     node build/examples/watch_fd.js
 */
import * as asyncio from "asyncio-ts";

export async function main(): Promise<string> {
  // Create a pair of connected file descriptors
  const [rsock, wsock] = asyncio.socket.socketpair();
  const loop = asyncio.newEventLoop();
  let received = "";

  function reader(): void {
    const data = rsock.recv(100);
    received = data.toString();
    console.log("Received:", received);
    // We are done: unregister the file descriptor
    loop.removeReader(rsock);
    // Stop the event loop
    loop.stop();
  }

  // Register the file descriptor for read event
  loop.addReader(rsock, reader);
  // Simulate the reception of data from the network
  loop.callSoon(() => wsock.send(Buffer.from("abc")));
  // Run the event loop
  await loop.runForever();
  // We are done, close sockets and the event loop
  rsock.close();
  wsock.close();
  loop.close();
  return received;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
