/**
 * TCP echo server with streams (the seeds' "TCP echo server using
 * streams"), in both styles: `handleEcho` (an async function) or, with
 * `--generator`, `handleEchoGenerator` (a generator coroutine). Serves
 * until SIGINT (Ctrl+C) or SIGTERM.
 *
 *     node build/examples/tcp_echo_server_streams.js [--port 8888] [--generator]
 */
import * as asyncio from "asyncio-ts";
import { options, runUntilInterrupted } from "./_serve.js";

export async function handleEcho(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): Promise<void> {
  const data = await reader.read(100);
  const message = data.toString();
  const addr = writer.getExtraInfo("peername");
  console.log(`Received ${JSON.stringify(message)} from ${JSON.stringify(addr)}`);
  console.log(`Send: ${JSON.stringify(message)}`);
  writer.write(data);
  await writer.drain();
  console.log("Close the client socket");
  writer.close();
  await writer.waitClosed();
}

export function* handleEchoGenerator(reader: asyncio.StreamReader, writer: asyncio.StreamWriter): asyncio.Coroutine<void> {
  const data = yield* reader.read(100);
  const message = data.toString();
  const addr = writer.getExtraInfo("peername");
  console.log(`Received ${JSON.stringify(message)} from ${JSON.stringify(addr)}`);
  console.log(`Send: ${JSON.stringify(message)}`);
  writer.write(data);
  yield* writer.drain();
  console.log("Close the client socket");
  writer.close();
  yield* writer.waitClosed();
}

export async function main(host: string, port: number, generator = false): Promise<void> {
  const loop = asyncio.newEventLoop();
  const server = await loop.runUntilComplete(asyncio.startServer(generator ? handleEchoGenerator : handleEcho, host, port));
  const [address] = server.sockets as { getsockname(): [string, number] }[];
  console.log(`Serving on ${JSON.stringify(address?.getsockname())}`);
  await runUntilInterrupted(loop);
  server.close();
  await loop.runUntilComplete(server.waitClosed());
  loop.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { host, port, generator } = options(8888);
  await main(host, port, generator);
}
