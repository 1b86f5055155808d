/**
 * The echo benchmark of `asyncio-ts bench` (the `echo` section, alone with
 * `--only echo`): every server of `ECHO_SERVER_REGISTRY` runs in a process
 * of its own and gets the same load from a separate client process
 * (`bench_echo_client.ts`): many concurrent connections doing request /
 * response round trips of 1 KiB and of 64 KiB, for a fixed time. Prints
 * requests per second and the ratio of each server to Node's plain `net`.
 *
 * The registry is the one place to add a server: a streams server, a
 * sock* server, CPython's asyncio and uvloop (bench/python/echo_server.py,
 * when a python3 is found), the C epoll floor (bench/c/echo_epoll.c, built
 * with the machine's cc) each are one entry.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { PythonRandom } from "./bench_random.js";
import { packageFile } from "./package_info.js";

/** One server of the benchmark. */
export interface EchoServerEntry {
  /** Short name (`--only echo` runs them all). */
  key: string;
  /** What the table shows. */
  label: string;
  /** The command that starts it: it must print `PORT <n>` once listening; or why it is not available here. */
  command(options: EchoBenchOptions): { file: string; args: string[]; env?: Record<string, string> } | { unavailable: string };
}

const SERVER = fileURLToPath(new URL("./bench_echo_server.js", import.meta.url));
const CLIENT = fileURLToPath(new URL("./bench_echo_client.js", import.meta.url));
const PY_SERVER = packageFile("bench/python/echo_server.py");

function nodeServer(
  kind: string,
  env: Record<string, string> = {},
): () => { file: string; args: string[]; env?: Record<string, string> } {
  return () => ({ file: process.execPath, args: [SERVER, kind], env });
}

/** Interpreters tried when no `--python` is given: the first that can import the loop's module runs it. */
const PYTHON_CANDIDATES = ["python3", "/usr/bin/python3", "/usr/local/bin/python3"];

function pythonServer(loop: "asyncio" | "uvloop", api: "protocol" | "streams" = "protocol"): EchoServerEntry["command"] {
  return (options) => {
    if (options.python === null) return { unavailable: "--no-python" };
    if (!existsSync(PY_SERVER)) return { unavailable: `${PY_SERVER} is missing` };
    const candidates = options.python === undefined ? PYTHON_CANDIDATES : [options.python];
    const module = loop === "uvloop" ? "uvloop" : "asyncio";
    const python = candidates.find((c) => spawnSync(c, ["-c", `import ${module}`], { timeout: 30_000 }).status === 0);
    if (python === undefined) return { unavailable: `${module} is not importable in ${candidates.join(", ")}` };
    return { file: python, args: [PY_SERVER, loop, api] };
  };
}

const C_SERVER = packageFile("bench/c/echo_epoll.c");
const C_CLIENT = packageFile("bench/c/echo_client.c");

/**
 * Compiles one of bench/c's programs into build/bench with the machine's
 * `cc`, on first use and again whenever the source is newer than the
 * binary (a binary left by an older checkout may not take today's
 * arguments): its path, or why not.
 */
function cProgram(source: string, name: string): { file: string } | { unavailable: string } {
  const binary = packageFile(`build/bench/${name}`);
  if (!existsSync(source)) return { unavailable: `${source} is missing` };
  if (!existsSync(binary) || statSync(source).mtimeMs > statSync(binary).mtimeMs) {
    mkdirSync(dirname(binary), { recursive: true });
    const cc = spawnSync("cc", ["-O2", "-o", binary, source], { timeout: 60_000, encoding: "utf8" });
    if (cc.error !== undefined) return { unavailable: "no C compiler (cc) found" };
    if (cc.status !== 0) return { unavailable: `cc failed: ${cc.stderr.trim().split("\n")[0]}` };
  }
  return { file: binary };
}

/** The C epoll echo server (the floor). */
function cServer(): EchoServerEntry["command"] {
  return () => {
    const program = cProgram(C_SERVER, "echo_epoll");
    return "unavailable" in program ? program : { file: program.file, args: [] };
  };
}

/** The clients of the load: `c` (bench/c/echo_client.c, the default where `cc` works) and `node` (bench_echo_client.ts). */
export const ECHO_CLIENTS = ["c", "node"] as const;
export type EchoClientKind = (typeof ECHO_CLIENTS)[number];

/** The client's command line prefix; with `c` asked for and no compiler, the Node client and why. */
function clientCommand(kind: EchoClientKind | undefined): { kind: EchoClientKind; file: string; args: string[]; note?: string } {
  const node = { kind: "node" as const, file: process.execPath, args: [CLIENT] };
  if (kind === "node") return node;
  const program = cProgram(C_CLIENT, "echo_client");
  if ("unavailable" in program) return { ...node, note: `the C client is not available (${program.unavailable})` };
  return { kind: "c", file: program.file, args: [] };
}

/** The servers measured, in table order; the first is the baseline of the ratios. */
export const ECHO_SERVER_REGISTRY: EchoServerEntry[] = [
  { key: "net", label: "Node net (no loop)", command: nodeServer("net") },
  {
    key: "protocol",
    label: "asyncio-ts Protocol (native)",
    command: nodeServer("protocol", { ASYNCIO_TS_TRANSPORTS: "native" }),
  },
  {
    key: "buffered",
    label: "asyncio-ts BufferedProtocol (native)",
    command: nodeServer("buffered", { ASYNCIO_TS_TRANSPORTS: "native" }),
  },
  {
    key: "protocol-net",
    label: "asyncio-ts Protocol (net)",
    command: nodeServer("protocol-net", { ASYNCIO_TS_TRANSPORTS: "net" }),
  },
  { key: "sock", label: "asyncio-ts sock* (raw sockets)", command: nodeServer("sock") },
  { key: "cpython-asyncio", label: "CPython asyncio Protocol", command: pythonServer("asyncio") },
  { key: "cpython-uvloop", label: "CPython uvloop Protocol", command: pythonServer("uvloop") },
  { key: "streams", label: "asyncio-ts streams (async function)", command: nodeServer("streams") },
  { key: "streams-generator", label: "asyncio-ts streams (generator)", command: nodeServer("streams-generator") },
  { key: "cpython-asyncio-streams", label: "CPython asyncio streams", command: pythonServer("asyncio", "streams") },
  { key: "cpython-uvloop-streams", label: "CPython uvloop streams", command: pythonServer("uvloop", "streams") },
  { key: "c-epoll", label: "C epoll (floor)", command: cServer() },
];

/** One load of the benchmark. */
interface EchoLoad {
  size: number;
  connections: number;
  /** The measured window. */
  seconds: number;
  /** How long the client runs the load before the measured window. */
  warmup: number;
}

/**
 * The warm-up before each measured window, from the README's scale (0.5) up.
 * Every server starts afresh for each measurement, and a Node server is not
 * yet at its steady state in its first second under load: V8 is still
 * compiling the hot paths (on the server's own CPU) and sizing its heap,
 * with early mark-compacts and fresh pages. Measured with a quarter of a
 * second of warm-up (the earlier rule), the streams servers at 64 KiB took
 * 0.5 page faults per request and came out 0.93x uvloop's on Node 24; after
 * 1.5 s, 0.06 and 1.09x to 1.20x (two runs), while the Python servers,
 * which have nothing to warm up, were unchanged.
 */
const WARMUP_SECONDS = 1.5;

/** The loads: small messages (per-request overhead) and large ones (throughput), scaled in time. */
export function echoLoads(scale: number): EchoLoad[] {
  const seconds = Math.max(0.5, 2 * scale);
  const warmup = Math.min(WARMUP_SECONDS, 3 * scale);
  return [
    { size: 1024, connections: 64, seconds, warmup },
    { size: 64 * 1024, connections: 16, seconds, warmup },
  ];
}

/** One server's outcome under one load. */
export interface EchoResult {
  server: string;
  label: string;
  size: number;
  connections: number;
  requestsPerSecond: number | null;
  /** Each round's req/s, in the order the rounds ran (the median is `requestsPerSecond`). */
  rounds?: (number | null)[];
  /** The server's CPU time per request (µs): unlike req/s, it does not depend on what else the machine runs. */
  serverCpuMicros?: number | null;
  /**
   * The server's minor page faults per request. A server that allocates per
   * receive pays one for each page its allocator gave back to the system and
   * takes again; at 64 KiB that moves req/s by a quarter from run to run.
   */
  serverFaultsPerRequest?: number | null;
  /** The CPUs the server and the client ran on (`null`: not pinned). */
  pinning: CpuPinning | null;
  /** How long the server ran under the load before the measured window. */
  warmupSeconds?: number;
  /** The client that made the load (`c` or `node`). */
  client: EchoClientKind;
  note?: string;
}

function startServer(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    let err = "";
    child.stdout?.on("data", (data: Buffer) => {
      out += data.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match !== null) resolve({ child, port: Number(match[1]) });
    });
    child.stderr?.on("data", (data: Buffer) => {
      err += data.toString();
    });
    child.on("exit", (code) => reject(new Error(`${file} ${args.join(" ")} exited with ${code} before listening:\n${err}`)));
    child.on("error", reject);
  });
}

/** What /proc says a process has used so far. */
interface ProcessUsage {
  /** CPU time, user + system, in seconds. */
  cpuSeconds: number;
  /** Minor page faults: pages the process touched for the first time, or again after the allocator returned them. */
  minorFaults: number;
}

/** A process's usage from /proc (Linux); `null` where it cannot be read. */
function processUsage(pid: number | undefined): ProcessUsage | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name, from the state on: minflt is the 8th, utime and stime the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, minorFaults: Number(fields[7]) };
  } catch {
    return null;
  }
}

/** The CPUs (as `taskset -c` takes them) of the server and of the client. */
export interface CpuPinning {
  server: string;
  client: string;
}

/**
 * The CPUs the server and the client are pinned to (Linux, `taskset`, at
 * least two CPUs allowed): the first two this process may run on. Pinned,
 * the two never share a core and the scheduler does not move them between
 * rounds, which made one server's req/s vary by a third from run to run.
 * `null` where pinning is not possible; the processes then run unpinned.
 */
function cpuPinning(): CpuPinning | null {
  if (process.platform !== "linux") return null;
  let allowed: number[];
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    allowed = parseCpuList(/^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? "");
  } catch {
    return null;
  }
  if (allowed.length < 2 || spawnSync("taskset", ["-c", String(allowed[0]), "true"]).status !== 0) return null;
  return { server: String(allowed[0]), client: String(allowed[1]) };
}

/** `0-3,6` → [0, 1, 2, 3, 6]. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.split(",")) {
    if (part.trim() === "") continue;
    const [low, high] = part.split("-").map(Number);
    if (low === undefined || !Number.isInteger(low)) continue;
    const last = high === undefined ? low : high;
    for (let cpu = low; Number.isInteger(last) && cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** `command` run on `cpu` through taskset, or as it is when `cpu` is undefined. */
function pinned(command: { file: string; args: string[] }, cpu: string | undefined): { file: string; args: string[] } {
  return cpu === undefined ? command : { file: "taskset", args: ["-c", cpu, command.file, ...command.args] };
}

/** Linux's USER_HZ. */
const CLOCK_TICKS = 100;

interface ClientOutcome {
  requests: number;
  seconds: number;
  /** What the server used during the measured window. */
  serverUsage: ProcessUsage | null;
}

function runClient(
  client: { file: string; args: string[] },
  port: number,
  load: EchoLoad,
  serverPid: number | undefined,
): Promise<ClientOutcome> {
  return new Promise((resolve, reject) => {
    const args = [
      ...client.args,
      String(port),
      String(load.size),
      String(load.connections),
      String(load.seconds),
      String(load.warmup),
    ];
    const child = spawn(client.file, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let usageStart: ProcessUsage | null = null;
    let usageStop: ProcessUsage | null = null;
    child.stdout.on("data", (data: Buffer) => {
      out += data.toString();
      if (usageStart === null && out.includes("START\n")) usageStart = processUsage(serverPid);
      if (usageStop === null && out.includes("STOP\n")) usageStop = processUsage(serverPid);
    });
    child.stderr.on("data", (data: Buffer) => {
      err += data.toString();
    });
    child.on("exit", (code) => {
      if (code !== 0) {
        reject(new Error(`the echo client failed (${code}):\n${err}`));
        return;
      }
      const report = JSON.parse(out.slice(out.indexOf("{"))) as { requests: number; seconds: number };
      resolve({ ...report, serverUsage: usageBetween(usageStart, usageStop) });
    });
  });
}

function usageBetween(start: ProcessUsage | null, stop: ProcessUsage | null): ProcessUsage | null {
  if (start === null || stop === null) return null;
  return { cpuSeconds: stop.cpuSeconds - start.cpuSeconds, minorFaults: stop.minorFaults - start.minorFaults };
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

async function measure(
  entry: EchoServerEntry,
  load: EchoLoad,
  options: EchoBenchOptions,
  client: { kind: EchoClientKind; file: string; args: string[] },
  pinning: CpuPinning | null,
): Promise<EchoResult> {
  const base = {
    server: entry.key,
    label: entry.label,
    size: load.size,
    connections: load.connections,
    client: client.kind,
    pinning,
    warmupSeconds: load.warmup,
  };
  const command = entry.command(options);
  if ("unavailable" in command) return { ...base, requestsPerSecond: null, note: command.unavailable };
  const server = pinned(command, pinning?.server);
  const { child, port } = await startServer(server.file, server.args, command.env);
  try {
    const { requests, seconds, serverUsage } = await runClient(pinned(client, pinning?.client), port, load, child.pid);
    const known = serverUsage !== null && requests > 0;
    return {
      ...base,
      requestsPerSecond: requests / seconds,
      serverCpuMicros: known ? (serverUsage.cpuSeconds / requests) * 1e6 : null,
      serverFaultsPerRequest: known ? serverUsage.minorFaults / requests : null,
    };
  } finally {
    await stopServer(child);
  }
}

/** Options of the echo benchmark (the `bench` command's). */
export interface EchoBenchOptions {
  scale: number;
  json: boolean;
  /** Rounds over all servers, interleaved (so that a change in the machine's load hits every server alike) and each in its own order (`roundOrder`); medians are shown. */
  repeat?: number;
  /** Server keys to run; empty: all of the registry. */
  servers?: string[];
  /** The Python interpreter for the CPython servers; `undefined`: python3; `null`: none. */
  python?: string | null | undefined;
  /** The load's client: `c` (the default; the Node client where no `cc` works) or `node`. */
  client?: EchoClientKind;
  /** Print the table or JSON (default `true`); `false` only returns the results. */
  print?: boolean;
}

/** Runs every server against each load and prints the table (or JSON). */
export async function runEchoBench(options: EchoBenchOptions): Promise<EchoResult[]> {
  const entries = ECHO_SERVER_REGISTRY.filter((e) => (options.servers ?? []).length === 0 || options.servers?.includes(e.key));
  const results: EchoResult[] = [];
  const rounds = Math.max(1, options.repeat ?? 1);
  const client = clientCommand(options.client);
  const pinning = cpuPinning();
  for (const load of echoLoads(options.scale)) {
    const samples = new Map<string, EchoResult[]>(entries.map((e) => [e.key, []]));
    for (let round = 0; round < rounds; round++) {
      for (const entry of roundOrder(entries, round)) {
        if (process.stderr.isTTY)
          process.stderr.write(`\r\x1b[K  running echo: ${entry.label} (${load.size} B, round ${round + 1})`);
        samples.get(entry.key)?.push(await measure(entry, load, options, client, pinning));
      }
    }
    for (const entry of entries) results.push(medianResult(samples.get(entry.key) ?? []));
  }
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
  if (options.print !== false)
    process.stdout.write(
      options.json
        ? `${JSON.stringify({ echo: results, echoTargets: echoTargets(results) }, null, 2)}\n`
        : renderEcho(results, client.note),
    );
  return results;
}

/**
 * The servers in the order of round `round`: the first round in the order
 * given, every later one shuffled (the same way in every run), so that no
 * server follows the same one in all its rounds. In the fixed order,
 * uvloop's `Protocol` server always came right after CPython asyncio's,
 * and measured after it, it served 123k req/s at 1 KiB against 103k right
 * after the Node `net` server (three pairs each, all three the same way).
 * The cause is not known; shuffling keeps it from favouring one server in
 * every round. (Rotating would not: each server would still follow the
 * same one in all but one round.)
 */
export function roundOrder<T>(entries: readonly T[], round: number): T[] {
  const order = [...entries];
  if (round === 0) return order;
  const random = new PythonRandom(round);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random.random() * (i + 1));
    [order[i], order[j]] = [order[j] as T, order[i] as T];
  }
  return order;
}

/** One target of the echo benchmark: a server's req/s over another's, in the same run. */
export interface EchoTarget {
  what: string;
  size: number;
  /** Ours over theirs (their medians); `null` when one of the two was not run. */
  ratio: number | null;
  goal: number;
  /**
   * Round by round (each round runs every server back to back, so a slow
   * spell of the machine hits both): the median of ours over theirs, and in
   * how many rounds ours was ahead. Absent with fewer than two rounds.
   */
  perRound?: { medianRatio: number; ahead: number; rounds: number };
}

/** The comparisons the native transports are built to win (see the README), as `[ours, theirs, goal]`. */
const TARGETS: [ours: string, theirs: string, goal: number, sizes: number[]][] = [
  ["protocol", "cpython-uvloop", 1.0, [1024]],
  ["protocol", "cpython-asyncio", 1.0, [65536]],
  ["streams", "cpython-uvloop-streams", 1.0, [1024, 65536]],
  ["streams-generator", "cpython-uvloop-streams", 1.0, [1024, 65536]],
  ["protocol", "c-epoll", 0.85, [1024, 65536]],
  ["buffered", "c-epoll", 0.85, [1024, 65536]],
];

export function echoTargets(results: EchoResult[]): EchoTarget[] {
  const find = (server: string, size: number): EchoResult | undefined =>
    results.find((r) => r.server === server && r.size === size);
  const rps = (server: string, size: number): number | null => find(server, size)?.requestsPerSecond ?? null;
  const label = (server: string): string => ECHO_SERVER_REGISTRY.find((e) => e.key === server)?.label ?? server;
  const targets: EchoTarget[] = [];
  for (const [ours, theirs, goal, sizes] of TARGETS) {
    for (const size of sizes) {
      const mine = rps(ours, size);
      const other = rps(theirs, size);
      if (mine === null && other === null) continue;
      const ratio = mine === null || other === null ? null : mine / other;
      const target: EchoTarget = { what: `${label(ours)} vs ${label(theirs)}`, size, ratio, goal };
      const perRound = roundByRound(find(ours, size), find(theirs, size));
      if (perRound !== null) target.perRound = perRound;
      targets.push(target);
    }
  }
  return targets;
}

/** Ours over theirs round by round, for rounds where both ran; null with fewer than two such rounds. */
function roundByRound(ours: EchoResult | undefined, theirs: EchoResult | undefined): EchoTarget["perRound"] | null {
  const mine = ours?.rounds ?? [];
  const other = theirs?.rounds ?? [];
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(mine.length, other.length); i++) {
    const a = mine[i];
    const b = other[i];
    if (typeof a === "number" && typeof b === "number" && b > 0) ratios.push(a / b);
  }
  if (ratios.length < 2) return null;
  return { medianRatio: medianOf(ratios) as number, ahead: ratios.filter((r) => r > 1).length, rounds: ratios.length };
}

function renderTargets(targets: EchoTarget[]): string[] {
  if (targets.length === 0) return [];
  const lines = ["targets (req/s ratios in this run):"];
  for (const t of targets) {
    const verdict =
      t.ratio === null
        ? "not run"
        : `${t.ratio.toFixed(2)}x (goal >= ${t.goal.toFixed(2)}x): ${t.ratio >= t.goal ? "met" : "not met"}`;
    const rounds =
      t.perRound === undefined
        ? ""
        : `; round by round ${t.perRound.medianRatio.toFixed(2)}x, ahead in ${t.perRound.ahead} of ${t.perRound.rounds}`;
    lines.push(`  ${sizeText(t.size)}: ${t.what}: ${verdict}${rounds}`);
  }
  return [...lines, ""];
}

function medianOf(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The median of a server's rounds (req/s and CPU per request separately). */
function medianResult(rounds: EchoResult[]): EchoResult {
  const first = rounds[0] as EchoResult;
  const rps = rounds.map((r) => r.requestsPerSecond).filter((v): v is number => v !== null);
  const cpu = rounds.map((r) => r.serverCpuMicros).filter((v): v is number => typeof v === "number");
  const faults = rounds.map((r) => r.serverFaultsPerRequest).filter((v): v is number => typeof v === "number");
  return {
    ...first,
    requestsPerSecond: medianOf(rps),
    serverCpuMicros: medianOf(cpu),
    serverFaultsPerRequest: medianOf(faults),
    rounds: rounds.map((r) => r.requestsPerSecond),
  };
}

function sizeText(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function pinningNote(pinning: CpuPinning | null | undefined): string {
  return pinning === null || pinning === undefined
    ? "server and client not pinned to CPUs (needs Linux, taskset and two CPUs)"
    : `server pinned to CPU ${pinning.server}, client to CPU ${pinning.client}`;
}

function warmupNote(seconds: number | undefined): string[] {
  return seconds === undefined
    ? []
    : [`each server started afresh and ran ${seconds} s under the load before the measured window (its steady state)`];
}

/** The table: requests/s per server and load, and the ratio to Node's plain net. */
export function renderEcho(results: EchoResult[], clientNote?: string): string {
  const client = results[0]?.client === "node" ? "Node net (bench_echo_client.ts)" : "C epoll (bench/c/echo_client.c)";
  const lines = [
    "",
    `echo (request/response round trips; a separate client process, ${client}, the same load for every server;`,
    "server CPU/req is the server process's user+system time per request, which other load on the machine does not change;",
    "faults/req its minor page faults per request: memory its allocator gave back to the system and took again)",
    pinningNote(results[0]?.pinning),
    ...warmupNote(results[0]?.warmupSeconds),
    ...(clientNote === undefined ? [] : [clientNote]),
    "",
  ];
  const header = ["server", "load", "req/s", "vs Node net", "server CPU/req", "vs Node net", "faults/req"];
  const rows: string[][] = [];
  for (const result of results) {
    const baseline = results.find((r) => r.server === "net" && r.size === result.size);
    const rps = result.requestsPerSecond;
    const cpu = result.serverCpuMicros ?? null;
    const faults = result.serverFaultsPerRequest ?? null;
    const baseRps = baseline?.requestsPerSecond ?? null;
    const baseCpu = baseline?.serverCpuMicros ?? null;
    rows.push([
      result.label,
      `${sizeText(result.size)} x ${result.connections} conns`,
      rps === null ? `n/a (${result.note})` : Math.round(rps).toLocaleString("en-US"),
      rps === null || baseRps === null ? "" : `${(rps / baseRps).toFixed(2)}x`,
      cpu === null ? "" : `${cpu.toFixed(1)} µs`,
      // Higher is better, as for req/s: the baseline's CPU per request over this server's.
      cpu === null || baseCpu === null ? "" : `${(baseCpu / cpu).toFixed(2)}x`,
      faults === null ? "" : faults.toFixed(2),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const format = (row: string[]): string =>
    row
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  lines.push(format(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(format), "");
  lines.push(...renderTargets(echoTargets(results)));
  return `${lines.join("\n")}\n`;
}
