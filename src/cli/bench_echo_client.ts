/**
 * The load of the echo benchmark, in a process of its own so that every
 * server gets exactly the same client:
 *
 *   node bench_echo_client.js PORT SIZE CONNECTIONS SECONDS [WARMUP]
 *
 * opens CONNECTIONS connections to 127.0.0.1:PORT, each doing request /
 * response round trips of SIZE bytes (the next request leaves once the
 * whole echo came back), for a warm-up of WARMUP seconds (default: a
 * quarter of SECONDS) and then SECONDS measured. Written on plain Node
 * `net` (no loop) to cost as little as possible. Prints `START` and `STOP`
 * around the measured window, then `{ "requests": n, "seconds": s, "bytes": b }`.
 */
import net from "node:net";

interface ClientReport {
  requests: number;
  seconds: number;
  bytes: number;
}

function runConnection(
  port: number,
  payload: Buffer,
  state: { counting: boolean; stop: boolean; requests: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: "127.0.0.1", noDelay: true });
    let pending = 0;
    const send = (): void => {
      pending = payload.length;
      sock.write(payload);
    };
    sock.on("connect", send);
    sock.on("data", (data) => {
      pending -= data.length;
      if (pending > 0) return;
      if (pending < 0) {
        reject(new Error(`the server echoed ${-pending} bytes too many`));
        sock.destroy();
        return;
      }
      if (state.counting) state.requests++;
      if (state.stop) sock.end();
      else send();
    });
    sock.on("error", reject);
    sock.on("close", () => resolve());
  });
}

async function main(args: string[]): Promise<void> {
  const [port, size, connections, seconds, warmup = seconds / 4] = args.map(Number) as [number, number, number, number, number?];
  const payload = Buffer.alloc(size, 0x61);
  const state = { counting: false, stop: false, requests: 0 };
  const all = Array.from({ length: connections }, () => runConnection(port, payload, state));
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
  // The runner reads the server's CPU time at these two marks.
  process.stdout.write("START\n");
  state.counting = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const requests = state.requests;
  const elapsed = (performance.now() - start) / 1000;
  process.stdout.write("STOP\n");
  state.counting = false;
  state.stop = true;
  await Promise.all(all);
  const report: ClientReport = { requests, seconds: elapsed, bytes: requests * size };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
