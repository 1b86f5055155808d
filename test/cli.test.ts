/**
 * The `asyncio-ts` command line (API.md section 16), run as a child process
 * the way a user runs it: the REPL driven through a pipe, `run FILE` on the
 * fixtures in `test/fixtures/cli`, and a tiny `bench`.
 */
import assert from "node:assert/strict";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { echoLoads, echoTargets, parseCpuList, renderEcho, roundOrder } from "../src/cli/bench_echo.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../../test/fixtures/cli/", import.meta.url));
const TIMEOUT = 30_000;
/** A child still running after this long is killed (ms). */
const CHILD_TIMEOUT = 20_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `asyncio-ts` child; `outcome` settles when it exits. */
interface Cli {
  child: ChildProcessWithoutNullStreams;
  outcome: Promise<Outcome>;
  /** Resolves once stdout contains `text`. */
  waitFor(text: string): Promise<void>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ASYNCIO_DEBUG: "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters.filter((w) => stdout.includes(w.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  // A child that hangs must not keep the test run alive: kill it, and let the assertions fail.
  const killer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT);
  const outcome = new Promise<Outcome>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  const waitFor = (text: string): Promise<void> =>
    stdout.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve }));
  return { child, outcome, waitFor };
}

/** Runs `asyncio-ts ARGS` with `input` on stdin (then closed) and returns how it ended. */
function runCli(args: string[], input = ""): Promise<Outcome> {
  const cli = startCli(args);
  cli.child.stdin.end(input);
  return cli.outcome;
}

/** The values the REPL printed, one per input (after each `>>> ` prompt and the continuation prompts of Node 20 and 24). */
function replOutputs(stdout: string): string[] {
  return stdout
    .split(">>> ")
    .map((chunk) => chunk.replace(/^((\.\.\.|\|) )+/, "").trim())
    .filter((chunk) => chunk !== "");
}

describe("asyncio-ts (the REPL)", { timeout: TIMEOUT }, () => {
  test("top-level await runs in a task of the running loop, and tasks run between inputs", async () => {
    const input = [
      "await asyncio.sleep(0.01)",
      "const t = asyncio.createTask(async () => { await asyncio.sleep(0.05); return 7 })",
      "asyncio.currentTask() !== null",
      "asyncio.currentTask() instanceof asyncio.Task",
      "asyncio.getRunningLoop().isRunning()",
      "t.done()",
      "await t",
      "let x = await asyncio.sleep(0.01, 'kept')",
      "x",
      "function* gen() { yield* asyncio.sleep(0.01); return 'generator style' }",
      "await asyncio.createTask(gen)",
      "async function named() {",
      "  await asyncio.sleep(0.01)",
      "  return asyncio.currentTask().getName().startsWith('Task-')",
      "}",
      "await named()",
      "",
    ].join("\n");
    const { code, stdout, stderr } = await runCli([], input);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /asyncio REPL/);
    assert.match(stderr, /Use "await" directly instead of "asyncio.run\(\)"/);
    assert.deepEqual(replOutputs(stdout), [
      "undefined",
      "undefined",
      "true",
      "true",
      "true",
      "false",
      "7",
      "undefined",
      "'kept'",
      "undefined",
      "'generator style'",
      "undefined",
      "true",
    ]);
  });

  test("an input that throws prints the error and the session goes on", async () => {
    const input = "await asyncio.sleep(0.01); throw new RangeError('bad input')\n'still here'\n";
    const { code, stdout } = await runCli([], input);
    assert.equal(code, 0);
    assert.match(stdout, /Uncaught RangeError: bad input/);
    assert.match(stdout, /'still here'/);
  });

  test("a context variable set at the prompt keeps its value in later inputs", async () => {
    const input = "const cv = new asyncio.ContextVar('cv')\ncv.set(5); undefined\nawait asyncio.sleep(0); cv.get()\n";
    const { code, stdout } = await runCli([], input);
    assert.equal(code, 0);
    assert.deepEqual(replOutputs(stdout), ["undefined", "undefined", "5"]);
  });

  test("Ctrl-C (SIGINT) cancels the running input's task; its finally block runs", async () => {
    const cli = startCli([]);
    cli.child.stdin.write("console.log('sleeping'); try { await asyncio.sleep(60) } finally { console.log('finally ran') }\n");
    await cli.waitFor("sleeping");
    cli.child.kill("SIGINT");
    await cli.waitFor("KeyboardInterrupt");
    cli.child.stdin.end("'after'\n");
    const { code, stdout } = await cli.outcome;
    assert.equal(code, 0);
    assert.match(stdout, /finally ran\nKeyboardInterrupt\n/);
    assert.match(stdout, /'after'/);
  });

  test(".exit stops and closes the loop, cancelling the tasks left behind", async () => {
    const input = [
      "const forever = asyncio.createTask(async () => { try { await asyncio.sleep(3600) } finally { console.log('cancelled at exit') } })",
      "await asyncio.sleep(0)",
      ".exit",
      "'never evaluated'",
      "",
    ].join("\n");
    const { code, stdout } = await runCli([], input);
    assert.equal(code, 0);
    assert.match(stdout, /cancelled at exit/);
    assert.doesNotMatch(stdout, /never evaluated/);
  });
});

describe("asyncio-ts run FILE", { timeout: TIMEOUT }, () => {
  test("runs a native main under asyncio.run(), in a task, with the arguments after FILE", async () => {
    const { code, stdout, stderr } = await runCli(["run", `${FIXTURES}native_main.mjs`, "a", "b"]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'native main ran in Task-1 debug=false argv=["a","b"]\n');
  });

  test("runs a generator main", async () => {
    const { code, stdout, stderr } = await runCli(["run", `${FIXTURES}generator_main.mjs`]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "generator main ran: child debug=false\n");
  });

  test("--debug turns the loop's debug mode on inside main, in both styles", async () => {
    const native = await runCli(["run", `${FIXTURES}native_main.mjs`, "--debug"]);
    assert.equal(native.code, 0, native.stderr);
    assert.match(native.stdout, /debug=true argv=\[\]/);
    const generator = await runCli(["run", "--debug", `${FIXTURES}generator_main.mjs`]);
    assert.equal(generator.code, 0, generator.stderr);
    assert.match(generator.stdout, /debug=true/);
  });

  test("a path is resolved against the current directory", async () => {
    const cli = spawn(process.execPath, [CLI, "run", "native_main.mjs"], {
      cwd: FIXTURES,
      env: { ...process.env, ASYNCIO_DEBUG: "" },
    });
    const code = await new Promise((resolve) => cli.on("close", resolve));
    assert.equal(code, 0);
  });

  test("a module without a main export exits with status 2 and says why", async () => {
    const { code, stderr } = await runCli(["run", `${FIXTURES}no_main.mjs`]);
    assert.equal(code, 2);
    assert.match(stderr, /has no exported function `main`/);
  });

  test("a missing file exits with status 2", async () => {
    const { code, stderr } = await runCli(["run", `${FIXTURES}does_not_exist.mjs`]);
    assert.equal(code, 2);
    assert.match(stderr, /cannot find/);
  });

  test("a main that throws prints the error with its stack and exits with status 1", async () => {
    const { code, stderr } = await runCli(["run", `${FIXTURES}failing_main.mjs`]);
    assert.equal(code, 1);
    assert.match(stderr, /RangeError: main failed on purpose\n\s+at main \(.*failing_main\.mjs/);
  });

  test("Ctrl-C cancels the main task (its finally block runs) and exits with status 130", async () => {
    const cli = startCli(["run", `${FIXTURES}sleeping_main.mjs`]);
    await cli.waitFor("sleeping");
    cli.child.kill("SIGINT");
    const { code, stdout, stderr } = await cli.outcome;
    assert.equal(code, 130);
    assert.match(stdout, /cleanup ran/);
    assert.match(stderr, /KeyboardInterrupt/);
  });

  test("bad command lines exit with status 2", async () => {
    assert.equal((await runCli(["run"])).code, 2);
    assert.equal((await runCli(["frobnicate"])).code, 2);
    assert.equal((await runCli(["bench", "--scale", "-1"])).code, 2);
    const unknown = await runCli(["bench", "--only", "echo", "--echo-servers", "protocol,nginx"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown echo server nginx \(known: net, protocol/);
  });
});

describe("asyncio-ts bench", { timeout: 120_000 }, () => {
  test("--scale 0.01 --only call_soon_chain prints the table", async () => {
    const { code, stdout, stderr } = await runCli(["bench", "--scale", "0.01", "--only", "call_soon_chain"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /call_soon_chain/);
    assert.match(stdout, /setImmediate/);
    assert.match(stdout, /queueMicrotask/);
    assert.match(stdout, /Node\.js v\d+/);
  });

  test("--json prints the raw numbers", async () => {
    const { code, stdout, stderr } = await runCli([
      "bench",
      "--scale",
      "0.01",
      "--only",
      "call_soon_chain",
      "--json",
      "--no-python",
    ]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { results: Record<string, Record<string, { n: number; ms: number }>> };
    const chain = report.results.call_soon_chain;
    assert.ok(chain !== undefined);
    for (const measurement of Object.values(chain)) {
      assert.equal(measurement.n, 10_000);
      assert.ok(measurement.ms > 0);
    }
  });

  test("--only echo runs the echo servers under one client load and prints req/s", async () => {
    const { code, stdout, stderr } = await runCli(["bench", "--scale", "0.01", "--only", "echo", "--json", "--no-python"]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      echo: {
        server: string;
        size: number;
        requestsPerSecond: number | null;
        serverCpuMicros?: number | null;
        serverFaultsPerRequest?: number | null;
        note?: string;
      }[];
    };
    for (const server of ["net", "protocol"]) {
      for (const size of [1024, 65536]) {
        const result = report.echo.find((r) => r.server === server && r.size === size);
        assert.ok(
          result !== undefined && result.requestsPerSecond !== null && result.requestsPerSecond > 0,
          JSON.stringify(result),
        );
        if (process.platform === "linux") {
          // Read from the server's /proc entry around the measured window.
          assert.ok((result.serverCpuMicros ?? -1) > 0, JSON.stringify(result));
          assert.ok((result.serverFaultsPerRequest ?? -1) >= 0, JSON.stringify(result));
        }
      }
    }
    assert.equal(report.echo.find((r) => r.server === "cpython-asyncio")?.note, "--no-python");
  });

  for (const client of ["c", "node"] as const) {
    test(`--echo-client ${client} makes the load with that client`, async () => {
      const args = ["bench", "--scale", "0.01", "--only", "echo", "--json", "--echo-servers", "protocol"];
      const { code, stdout, stderr } = await runCli([...args, "--echo-client", client]);
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout) as { echo: { client: string; requestsPerSecond: number | null }[] };
      assert.equal(report.echo.length, 2);
      for (const result of report.echo) {
        // Where no cc works, `c` falls back to the Node client, and the results say so.
        assert.equal(result.client, client === "c" && !hasCc() ? "node" : client);
        assert.ok(result.requestsPerSecond !== null && result.requestsPerSecond > 0, JSON.stringify(result));
      }
    });
  }

  test("--echo-client with an unknown client is a usage error naming the known ones", async () => {
    const { code, stderr } = await runCli(["bench", "--only", "echo", "--echo-client", "wrk"]);
    assert.equal(code, 2);
    assert.match(stderr, /--echo-client must be one of c, node, got wrk/);
  });

  test("echoTargets compares the servers of one run and says which were not run", () => {
    const result = (server: string, size: number, requestsPerSecond: number) => ({
      server,
      label: server,
      size,
      connections: 1,
      requestsPerSecond,
      client: "c" as const,
      pinning: null,
    });
    const targets = echoTargets([
      result("protocol", 1024, 120),
      result("cpython-uvloop", 1024, 100),
      result("c-epoll", 1024, 160),
      result("protocol", 65536, 50),
    ]);
    const uvloop = targets.find((t) => t.size === 1024 && /uvloop Protocol/.test(t.what));
    assert.equal(uvloop?.ratio, 1.2);
    assert.equal(uvloop?.goal, 1);
    assert.equal(targets.find((t) => t.size === 1024 && /Protocol \(native\) vs C epoll/.test(t.what))?.ratio, 0.75);
    assert.equal(uvloop?.perRound, undefined, "one round: no round-by-round figures");
    const notRun = targets.find((t) => t.size === 65536 && /CPython asyncio Protocol/.test(t.what));
    assert.equal(notRun?.ratio, null, "protocol ran, CPython asyncio did not: listed, with no ratio");
    assert.equal(
      targets.some((t) => /streams/.test(t.what)),
      false,
      "a comparison where neither server ran is left out",
    );
  });

  test("the echo table shows each server's CPU and page faults per request", () => {
    const result = (server: string, serverCpuMicros: number, serverFaultsPerRequest: number | null) => ({
      server,
      label: server,
      size: 65536,
      connections: 16,
      requestsPerSecond: 1000,
      serverCpuMicros,
      serverFaultsPerRequest,
      client: "c" as const,
      pinning: null,
    });
    const table = renderEcho([result("net", 40, 0.016), result("protocol", 20, null)]);
    const header = table.split("\n").find((line) => /^server\s+load\s/.test(line));
    assert.match(header ?? "", /server CPU\/req\s+vs Node net\s+faults\/req$/);
    assert.match(table, /\nnet\s.*40\.0 µs\s+1\.00x\s+0\.02\n/);
    assert.match(table, /\nprotocol\s.*20\.0 µs\s+2\.00x\n/, "no figure where /proc could not be read");
  });

  test("each echo measurement follows a warm-up under the same load, 1.5 s from the default scale on", () => {
    assert.deepEqual(
      echoLoads(1).map((load) => [load.size, load.seconds, load.warmup]),
      [
        [1024, 2, 1.5],
        [65536, 2, 1.5],
      ],
    );
    assert.equal(echoLoads(0.5)[0]?.warmup, 1.5, "the README's scale warms up as long as the default");
    assert.equal(echoLoads(0.01)[0]?.warmup, 0.03, "the tests' tiny scale barely warms up");
    const table = renderEcho([
      {
        server: "net",
        label: "net",
        size: 1024,
        connections: 1,
        requestsPerSecond: 1,
        client: "c",
        pinning: null,
        warmupSeconds: 1.5,
      },
    ]);
    assert.match(table, /ran 1\.5 s under the load before the measured window/);
  });

  test("echoTargets compares round by round when there were several rounds", () => {
    const result = (server: string, rounds: (number | null)[], requestsPerSecond: number) => ({
      server,
      label: server,
      size: 1024,
      connections: 1,
      requestsPerSecond,
      rounds,
      client: "c" as const,
      pinning: null,
    });
    const [uvloop] = echoTargets([
      result("protocol", [110, 90, 130, null], 110),
      result("cpython-uvloop", [100, 100, 100, 100], 100),
    ]);
    // Rounds 1-3 (the fourth did not run ours): 1.1, 0.9, 1.3.
    assert.equal(uvloop?.perRound?.rounds, 3);
    assert.equal(uvloop?.perRound?.ahead, 2);
    assert.ok(Math.abs((uvloop?.perRound?.medianRatio ?? 0) - 1.1) < 1e-9);
  });

  test("the echo servers run in the order given first, then shuffled, so that none always follows the same one", () => {
    const servers = ["net", "protocol", "buffered", "cpython-asyncio", "cpython-uvloop", "streams", "c-epoll"];
    assert.deepEqual(roundOrder(servers, 0), servers);
    const rounds = [1, 2, 3, 4, 5, 6].map((round) => roundOrder(servers, round));
    for (const order of rounds) assert.deepEqual([...order].sort(), [...servers].sort(), "each round runs every server once");
    assert.deepEqual(roundOrder(servers, 3), rounds[2], "the same round is shuffled the same way in every run");
    const before = (order: string[], server: string) => order[order.indexOf(server) - 1] ?? "(first)";
    const predecessors = new Set([servers, ...rounds].map((order) => before(order, "cpython-uvloop")));
    assert.ok(predecessors.size >= 3, `uvloop's server followed only ${[...predecessors].join(", ")}`);
    assert.equal(servers[0], "net", "the list itself is left as it was");
    assert.deepEqual(roundOrder([], 3), []);
  });

  test("parseCpuList reads Linux's CPU list syntax", () => {
    assert.deepEqual(parseCpuList("0-3,6"), [0, 1, 2, 3, 6]);
    assert.deepEqual(parseCpuList("1"), [1]);
    assert.deepEqual(parseCpuList(""), []);
  });

  test("--echo-servers runs only the servers named", async () => {
    const { code, stdout, stderr } = await runCli([
      "bench",
      "--scale",
      "0.01",
      "--only",
      "echo",
      "--json",
      "--echo-servers",
      "net,protocol",
    ]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as { echo: { server: string }[] };
    assert.deepEqual([...new Set(report.echo.map((r) => r.server))], ["net", "protocol"]);
  });
});

function hasCc(): boolean {
  return spawnSync("cc", ["--version"]).status === 0;
}
