/**
 * A subprocess with a transport and a protocol (the seeds' "Subprocess
 * using transport and protocol"): subprocessExec() runs a child printing
 * the date; the protocol collects its output and a future tells when it
 * exited.
 *
 *     node build/examples/subprocess_protocol.js
 */
import * as asyncio from "asyncio-ts";

class DateProtocol extends asyncio.SubprocessProtocol {
  readonly output: Buffer[] = [];

  constructor(private readonly exitFuture: asyncio.Future<boolean>) {
    super();
  }

  override pipeDataReceived(_fd: number, data: Buffer): void {
    this.output.push(data);
  }

  override processExited(): void {
    this.exitFuture.setResult(true);
  }
}

export async function getDate(): Promise<string> {
  const loop = asyncio.getRunningLoop();
  const code = "console.log(new Date().toISOString())";
  const exitFuture = loop.createFuture<boolean>();
  // Create the subprocess controlled by DateProtocol, redirect its standard output into a pipe
  const [transport, protocol] = await loop.subprocessExec(() => new DateProtocol(exitFuture), process.execPath, "-e", code, {
    stdin: null,
    stderr: null,
  });
  // Wait for the subprocess exit using the processExited() method of the protocol
  await exitFuture;
  // Close the stdout pipe
  transport.close();
  // Read the output which was collected by the pipeDataReceived() method of the protocol
  return Buffer.concat(protocol.output).toString("ascii").trimEnd();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const date = await asyncio.run(getDate);
  console.log(`Current date: ${date}`);
}
