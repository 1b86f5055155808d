/**
 * Register an open socket to wait for data using streams (the seeds'
 * example): `openConnection(null, null, { sock })` on one end of a socket
 * pair, then `reader.read()`. Both styles: an async function, or with
 * `--generator` a generator coroutine.
 *
 *     node build/examples/register_socket_streams.js [--generator]
 */
import { parseArgs } from "node:util";
import * as asyncio from "asyncio-ts";

export async function waitForData(): Promise<string> {
  const loop = asyncio.getRunningLoop();
  // Create a pair of connected sockets
  const [rsock, wsock] = asyncio.socket.socketpair();
  // Register the open socket to wait for data
  const [reader, writer] = await asyncio.openConnection(null, null, { sock: rsock });
  // Simulate the reception of data from the network
  loop.callSoon(() => wsock.send(Buffer.from("abc")));
  // Wait for data
  const data = await reader.read(100);
  // Got data, we are done: close the socket
  console.log("Received:", data.toString());
  writer.close();
  await writer.waitClosed();
  // Close the second socket
  wsock.close();
  return data.toString();
}

export function* waitForDataGenerator(): asyncio.Coroutine<string> {
  const loop = asyncio.getRunningLoop();
  const [rsock, wsock] = asyncio.socket.socketpair();
  const [reader, writer] = yield* asyncio.openConnection(null, null, { sock: rsock });
  loop.callSoon(() => wsock.send(Buffer.from("abc")));
  const data = yield* reader.read(100);
  console.log("Received:", data.toString());
  writer.close();
  yield* writer.waitClosed();
  wsock.close();
  return data.toString();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { generator: { type: "boolean" } } });
  await asyncio.run(values.generator ? waitForDataGenerator() : waitForData);
}
