/**
 * TCP echo client with streams (the seeds' "TCP echo client using
 * streams"), in both styles: `tcpEchoClient` (an async function) or, with
 * `--generator`, `tcpEchoClientGenerator`.
 *
 *     node build/examples/tcp_echo_client_streams.js [--port 8888] [--generator]
 */
import * as asyncio from "asyncio-ts";
import { options } from "./_serve.js";

export async function tcpEchoClient(message: string, host: string, port: number): Promise<string> {
  const [reader, writer] = await asyncio.openConnection(host, port);
  console.log(`Send: ${JSON.stringify(message)}`);
  writer.write(Buffer.from(message));
  const data = await reader.read(100);
  console.log(`Received: ${JSON.stringify(data.toString())}`);
  console.log("Close the socket");
  writer.close();
  await writer.waitClosed();
  return data.toString();
}

export function* tcpEchoClientGenerator(message: string, host: string, port: number): asyncio.Coroutine<string> {
  const [reader, writer] = yield* asyncio.openConnection(host, port);
  console.log(`Send: ${JSON.stringify(message)}`);
  writer.write(Buffer.from(message));
  const data = yield* reader.read(100);
  console.log(`Received: ${JSON.stringify(data.toString())}`);
  console.log("Close the socket");
  writer.close();
  yield* writer.waitClosed();
  return data.toString();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { host, port, generator } = options(8888);
  const message = "Hello World!";
  await asyncio.run(generator ? tcpEchoClientGenerator(message, host, port) : () => tcpEchoClient(message, host, port));
}
