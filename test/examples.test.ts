/**
 * Every example of examples/ runs here and its output is checked: the
 * README's quick starts in-process on a virtual clock, the seeds' examples
 * as their own command (`node build/examples/NAME.js ...`, as
 * examples/README.md tells), with a local peer where one is needed (an
 * echo server example for its client, a local HTTP server for the headers,
 * a signal for the signal handlers).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFile, spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { describe, test as nodeTest } from "node:test";
import { fileURLToPath } from "node:url";
import { runVirtual } from "asyncio-ts/testing";
import * as quickAsync from "../examples/quickstart_async.js";
import * as quickGenerator from "../examples/quickstart_generator.js";

const EXAMPLES = path.dirname(fileURLToPath(import.meta.url)).replace(/test$/, "examples");
const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Runs an example to its end and returns its standard output, failing on a non-zero exit. */
function run(name: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(EXAMPLES, `${name}.js`), ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${name} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const lines = (out: string): string[] => out.trimEnd().split("\n");

/** A long-running example (a server): started, its first line awaited, stopped by a signal. */
class Running {
  private readonly child: ChildProcess;
  private output = "";
  private readonly exited: Promise<number | null>;

  constructor(name: string, ...args: string[]) {
    this.child = spawn(process.execPath, [path.join(EXAMPLES, `${name}.js`), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (chunk: string) => {
      this.output += chunk;
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  /** Waits until the output has a line matching `pattern`, and returns its match. */
  async line(pattern: RegExp): Promise<RegExpMatchArray> {
    for (let i = 0; i < 1500; i++) {
      const match = this.output.match(pattern);
      if (match !== null) return match;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.child.kill("SIGKILL");
    throw new Error(`no line matching ${pattern} in ${JSON.stringify(this.output)}`);
  }

  /** Sends `signal`, waits for the exit, returns the whole output. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<string> {
    this.child.kill(signal);
    assert.equal(await this.exited, 0, `exit status after ${signal}`);
    return this.output;
  }
}

/** The examples are separate processes: run several at a time. */
const tests: [string, () => Promise<void>][] = [];
const test = (name: string, body: () => Promise<void>): void => {
  tests.push([name, body]);
};

nodeTest("the README's async-function quick start returns 'done'", async () => {
  assert.equal(await runVirtual(quickAsync.main), "done");
});

nodeTest("the README's generator quick start returns 42", async () => {
  assert.equal(await runVirtual(quickGenerator.main()), 42);
});

test("hello world with callSoon", async () => {
  assert.equal(await run("hello_world_callsoon"), "Hello World\n");
});

test("hello world with a coroutine, in both styles", async () => {
  assert.equal(await run("hello_world_coroutine"), "Hello World!\n");
  assert.equal(await run("hello_world_coroutine", "--generator"), "Hello World!\n");
});

test("the date every interval with callLater: 3 ticks", async () => {
  const out = lines(await run("display_date_calllater", "--ticks", "3", "--interval", "0.05"));
  assert.equal(out.length, 3);
  for (const line of out) assert.match(line, ISO_DATE);
});

test("the date every interval with a coroutine: 3 ticks, in both styles", async () => {
  for (const extra of [[], ["--generator"]]) {
    const out = lines(await run("display_date_coroutine", "--ticks", "3", "--interval", "0.05", ...extra));
    assert.equal(out.length, 3);
    for (const line of out) assert.match(line, ISO_DATE);
    assert.ok(out[0] !== undefined && out[2] !== undefined && out[0] < out[2], "the dates advance");
  }
});

test("tasks computing factorials in parallel interleave as the seeds show", async () => {
  assert.deepEqual(lines(await run("factorial_tasks", "--delay", "0.01")), [
    "Task A: Compute factorial(2)...",
    "Task B: Compute factorial(2)...",
    "Task C: Compute factorial(2)...",
    "Task A: factorial(2) = 2",
    "Task B: Compute factorial(3)...",
    "Task C: Compute factorial(3)...",
    "Task B: factorial(3) = 6",
    "Task C: Compute factorial(4)...",
    "Task C: factorial(4) = 24",
  ]);
});

test("a future set by another coroutine, with runUntilComplete and with runForever", async () => {
  assert.equal(await run("future_set_by_coroutine", "--delay", "0.01"), "Future is done!\n");
  assert.equal(await run("future_set_by_coroutine", "--run-forever", "--delay", "0.01"), "Future is done!\n");
});

test("chained coroutines", async () => {
  assert.deepEqual(lines(await run("chained_coroutines", "--delay", "0.01")), ["Compute 1 + 2 ...", "1 + 2 = 3"]);
});

test("a queue with worker tasks: every item done by one of three workers", async () => {
  const out = lines(await run("queue_workers", "--items", "9", "--scale", "0.05"));
  const done = out.filter((line) => /^worker-[012] has slept for \d\.\d\d seconds$/.test(line));
  assert.equal(done.length, 9);
  assert.equal(out[9], "====");
  assert.match(out[10] ?? "", /^3 workers slept in parallel for \d\.\d\d seconds$/);
  assert.match(out[11] ?? "", /^total expected sleep time: 0\.26 seconds$/);
});

test("watching a file descriptor with addReader", async () => {
  assert.equal(await run("watch_fd"), "Received: abc\n");
});

test("SIGINT and SIGTERM handlers stop the loop", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const example = new Running("signal_handlers");
    const [, pid] = await example.line(/pid (\d+): send SIGINT or SIGTERM to exit\./);
    assert.ok(Number(pid) > 0);
    const out = await example.stop(signal);
    assert.ok(out.startsWith("Event loop running forever, press Ctrl+C to interrupt.\n"));
    assert.ok(out.endsWith(`got signal ${signal}: exit\n`), out);
  }
});

test("TCP echo server and client with protocols", async () => {
  const server = new Running("tcp_echo_server_protocol", "--port", "0");
  const [, port] = await server.line(/Serving on \["127\.0\.0\.1",(\d+)\]/);
  assert.deepEqual(lines(await run("tcp_echo_client_protocol", "--port", String(port))), [
    'Data sent: "Hello World!"',
    'Data received: "Hello World!"',
    "The server closed the connection",
    "Stop the event loop",
  ]);
  const out = lines(await server.stop());
  assert.match(out[1] ?? "", /^Connection from \["127\.0\.0\.1",\d+\]$/);
  assert.deepEqual(out.slice(2), ['Data received: "Hello World!"', 'Send: "Hello World!"', "Close the client socket"]);
});

test("TCP echo server and client with streams, each in both styles", async () => {
  for (const serverStyle of [[], ["--generator"]]) {
    const server = new Running("tcp_echo_server_streams", "--port", "0", ...serverStyle);
    const [, port] = await server.line(/Serving on \["127\.0\.0\.1",(\d+)\]/);
    for (const clientStyle of [[], ["--generator"]]) {
      assert.deepEqual(lines(await run("tcp_echo_client_streams", "--port", String(port), ...clientStyle)), [
        'Send: "Hello World!"',
        'Received: "Hello World!"',
        "Close the socket",
      ]);
    }
    const out = lines(await server.stop("SIGTERM"));
    assert.equal(out.length, 1 + 2 * 3);
    assert.match(out[1] ?? "", /^Received "Hello World!" from \["127\.0\.0\.1",\d+\]$/);
    assert.deepEqual(out.slice(2, 4), ['Send: "Hello World!"', "Close the client socket"]);
  }
});

test("UDP echo server and client", async () => {
  const server = new Running("udp_echo_server", "--port", "0");
  const [, port] = await server.line(/Listening on \["127\.0\.0\.1",(\d+)\]/);
  assert.deepEqual(lines(await run("udp_echo_client", "--port", String(port))), [
    "Send: Hello World!",
    "Received: Hello World!",
    "Close the socket",
    "Socket closed, stop the event loop",
  ]);
  const out = lines(await server.stop());
  assert.equal(out[0], "Starting UDP server");
  assert.match(out[2] ?? "", /^Received "Hello World!" from \["127\.0\.0\.1",\d+\]$/);
  assert.match(out[3] ?? "", /^Send "Hello World!" to \["127\.0\.0\.1",\d+\]$/);
});

test("registering an open socket to wait for data, with a protocol and with streams (both styles)", async () => {
  assert.equal(await run("register_socket_protocol"), "Received: abc\n");
  assert.equal(await run("register_socket_streams"), "Received: abc\n");
  assert.equal(await run("register_socket_streams", "--generator"), "Received: abc\n");
});

test("fetching the HTTP headers of a URL from a local server", async () => {
  const server = http.createServer((request, response) => {
    response.setHeader("X-Asked-For", `${request.method} ${request.url}`);
    response.end("the body is not printed");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as { port: number };
    const out = lines(await run("http_headers", `http://127.0.0.1:${port}/path/page.html`));
    assert.equal(out[0], "HTTP header> HTTP/1.1 200 OK");
    assert.ok(out.includes("HTTP header> X-Asked-For: HEAD /path/page.html"), out.join("\n"));
    assert.ok(out.every((line) => line.startsWith("HTTP header> ")));
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test("a subprocess with a protocol, and with streams in both styles", async () => {
  for (const [name, ...args] of [
    ["subprocess_protocol"],
    ["subprocess_streams"],
    ["subprocess_streams", "--generator"],
  ] as const) {
    const out = lines(await run(name, ...args));
    assert.equal(out.length, 1);
    assert.match(out[0] ?? "", /^Current date: \d{4}-\d\d-\d\dT/);
  }
});

describe("examples", { concurrency: 4 }, () => {
  for (const [name, body] of tests) nodeTest(name, body);
});
