/**
 * `asyncio-ts bench` (`npm run bench`): runs the micro-benchmarks of
 * `bench_workloads.ts`, each variant in a fresh process, beside plain-Node
 * baselines measured in the same run and, when a `python3` is found, beside
 * CPython's asyncio and uvloop running the twin workloads of
 * `bench/python/core_bench.py`; prints one table with the ratios and the
 * targets of the project, or the raw numbers with `--json`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { type EchoBenchOptions, type EchoClientKind, echoTargets, runEchoBench } from "./bench_echo.js";
import { runExecutorBench } from "./bench_executor.js";
import type { WorkerReport } from "./bench_worker.js";
import type { Target, Variant, Workload } from "./bench_workloads.js";
import { scaled, WORKLOADS } from "./bench_workloads.js";
import { packageFile, packageVersion } from "./package_info.js";

/** Options of `runBench` (the command line's). */
export interface BenchOptions {
  /** Multiplies every N. */
  scale: number;
  /** Workload names to run; empty: all. */
  only: string[];
  /** Print the raw numbers as JSON instead of the table. */
  json: boolean;
  /** Timed runs per variant; the median is reported. */
  repeat: number;
  /** The Python interpreter to use; `undefined`: look for one; `null`: none. */
  python: string | null | undefined;
  /** The command line, for the report. */
  argv: string[];
  /** Keys of the echo servers to run; empty or absent: all of the registry. */
  echoServers?: string[];
  /** The echo load's client (`c` by default, where a `cc` works). */
  echoClient?: EchoClientKind;
}

/** One variant's outcome. */
interface VariantResult {
  n: number;
  /** The median of the samples (ms or bytes per task). */
  value: number;
  samples: number[];
}

type LoopName = "asyncio" | "uvloop";

/** What core_bench.py printed for one loop, and which interpreter ran it. */
interface CPythonRun {
  interpreter: string;
  python: string;
  /** uvloop's version, for the uvloop run. */
  uvloop?: string;
  results: Record<string, { n: number; ms?: number; bytes_per_task?: number }>;
}

interface CPythonResults {
  asyncio: CPythonRun | null;
  uvloop: CPythonRun | null;
  /** Why a loop was not measured. */
  notes: string[];
}

/** The machine's 1-minute load average when the run started and ended. */
interface Load {
  start: number;
  end: number;
}

/** A target of the issue, checked for one variant. */
interface TargetCheck {
  workload: string;
  variant: string;
  target: string;
  /** The ratio to uvloop (or to asyncio, for asyncio targets), or bytes per task; `null` when it could not be measured. */
  measured: number | null;
  met: boolean | null;
}

const WORKER = fileURLToPath(new URL("./bench_worker.js", import.meta.url));
const CORE_BENCH = packageFile("bench/python/core_bench.py");
const EXIT_NO_UVLOOP = 3;
/** The name of the echo benchmark's section for `--only`. */
const ECHO = "echo";

/** Runs the benchmarks; resolves with the exit status. */
export async function runBench(options: BenchOptions): Promise<number> {
  // The echo benchmark (bench_echo.ts) is a section of its own: real sockets, server and client processes.
  const echo = options.only.length === 0 || options.only.includes(ECHO);
  if (options.only.length > 0 && options.only.every((name) => name === ECHO)) {
    await runEchoBench(echoOptions(options));
    return 0;
  }
  const unknown = options.only.filter((name) => name !== ECHO && !WORKLOADS.some((w) => w.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `asyncio-ts bench: unknown workload(s): ${unknown.join(", ")} (known: ${[...WORKLOADS.map((w) => w.name), ECHO].join(", ")})\n`,
    );
    return 2;
  }
  const workloads = options.only.length === 0 ? WORKLOADS : WORKLOADS.filter((w) => options.only.includes(w.name));
  if (workloads.length === 0 && echo) {
    await runEchoBench(echoOptions(options));
    return 0;
  }
  const loadAtStart = loadavg()[0] as number;
  const results: Record<string, Record<string, VariantResult>> = {};
  for (const workload of workloads) {
    const n = scaled(workload.base, options.scale);
    results[workload.name] = {};
    for (const variant of workload.variants) {
      progress(`${workload.name}: ${variant.label} (N=${n})`);
      (results[workload.name] as Record<string, VariantResult>)[variant.key] = runVariant(workload, variant, n, options.repeat);
    }
  }
  const cpython = runCPython(options, workloads);
  const targets = checkTargets(workloads, results, cpython);
  // The executor section (bench_executor.ts) runs with the full set of workloads only.
  const executors = options.only.length === 0 ? await runExecutorBench(options.scale) : null;
  const load = { start: loadAtStart, end: loadavg()[0] as number };
  if (options.json) {
    const report = { ...(jsonReport(options, results, cpython, targets, load) as object), executors: executors?.results };
    const echoResults = echo ? await runEchoBench({ ...echoOptions(options), print: false }) : undefined;
    process.stdout.write(
      `${JSON.stringify(echoResults === undefined ? report : Object.assign({}, report, { echo: echoResults, echoTargets: echoTargets(echoResults) }), null, 2)}\n`,
    );
  } else {
    process.stdout.write(renderReport(options, workloads, results, cpython, targets, load) + (executors?.text ?? ""));
    if (echo) await runEchoBench(echoOptions(options));
  }
  return 0;
}

function echoOptions(options: BenchOptions): EchoBenchOptions {
  return {
    scale: options.scale,
    json: options.json,
    repeat: options.repeat,
    python: options.python,
    servers: options.echoServers ?? [],
    client: options.echoClient,
  };
}

function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K  running ${message}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Runs one variant in a fresh `node --expose-gc` process. */
function runVariant(workload: Workload, variant: Variant, n: number, repeat: number): VariantResult {
  const child = spawnSync(process.execPath, ["--expose-gc", WORKER, workload.name, variant.key, String(n), String(repeat)], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) {
    throw new Error(`${workload.name} (${variant.label}) failed with status ${child.status}:\n${child.stderr}`);
  }
  const report = JSON.parse(child.stdout) as WorkerReport;
  return { n: report.n, value: median(report.samples), samples: report.samples };
}

// ---- CPython ----------------------------------------------------------------

interface Interpreter {
  command: string;
  executable: string;
  version: string;
  uvloop: string | null;
}

const PROBE = [
  "import sys, importlib.util",
  "print(sys.executable)",
  "print(sys.version.split()[0])",
  "print(__import__('uvloop').__version__ if importlib.util.find_spec('uvloop') else '')",
].join("\n");

/** The Python interpreters found, each once. */
function findInterpreters(option: string | undefined): Interpreter[] {
  const candidates = option !== undefined ? [option] : ["python3", "/usr/bin/python3", "/usr/local/bin/python3", "python"];
  const found: Interpreter[] = [];
  for (const command of candidates) {
    const probe = spawnSync(command, ["-c", PROBE], { encoding: "utf8", timeout: 30_000 });
    if (probe.status !== 0) continue;
    const [executable = command, version = "?", uvloop = ""] = probe.stdout.split("\n").map((line) => line.trim());
    if (!version.startsWith("3.") || found.some((i) => i.executable === executable)) continue;
    found.push({ command, executable, version, uvloop: uvloop === "" ? null : uvloop });
  }
  return found;
}

/** Runs core_bench.py for asyncio and uvloop, each on an interpreter that has it. */
function runCPython(options: BenchOptions, workloads: Workload[]): CPythonResults {
  const none: CPythonResults = { asyncio: null, uvloop: null, notes: [] };
  if (options.python === null) return { ...none, notes: ["CPython: not run (--no-python)"] };
  if (!existsSync(CORE_BENCH)) return { ...none, notes: [`CPython: not run (${CORE_BENCH} is missing)`] };
  const interpreters = findInterpreters(options.python);
  if (interpreters.length === 0) {
    const which = options.python ?? "python3";
    return { ...none, notes: [`CPython: not run (no Python 3 interpreter found as ${which})`] };
  }
  const withUvloop = interpreters.find((i) => i.uvloop !== null) ?? null;
  // Both loops on the same interpreter when one has uvloop, so that they compare like with like.
  const forAsyncio = withUvloop ?? (interpreters[0] as Interpreter);
  const names = workloads.map((w) => w.name);
  const notes: string[] = [];
  const asyncioRun = runCoreBench(forAsyncio, "asyncio", options.scale, names, notes);
  let uvloopRun: CPythonRun | null = null;
  if (withUvloop === null) {
    notes.push(`uvloop: not measured (not importable in ${interpreters.map((i) => `${i.executable} ${i.version}`).join(", ")})`);
  } else {
    uvloopRun = runCoreBench(withUvloop, "uvloop", options.scale, names, notes);
  }
  return { asyncio: asyncioRun, uvloop: uvloopRun, notes };
}

function runCoreBench(
  interpreter: Interpreter,
  loop: LoopName,
  scale: number,
  names: string[],
  notes: string[],
): CPythonRun | null {
  progress(`CPython ${loop} (${interpreter.executable})`);
  const child = spawnSync(
    interpreter.command,
    [CORE_BENCH, "--loop", loop, "--scale", String(scale), "--only", names.join(",")],
    { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
  );
  if (child.status === EXIT_NO_UVLOOP && loop === "uvloop") {
    notes.push(`uvloop: not measured (${child.stderr.trim()})`);
    return null;
  }
  if (child.status !== 0) {
    notes.push(`CPython ${loop}: core_bench.py failed with status ${child.status}: ${child.stderr.trim().split("\n").at(-1)}`);
    return null;
  }
  const parsed = JSON.parse(child.stdout) as { python: string; results: CPythonRun["results"] };
  return {
    interpreter: interpreter.executable,
    python: parsed.python,
    ...(loop === "uvloop" && interpreter.uvloop !== null ? { uvloop: interpreter.uvloop } : {}),
    results: parsed.results,
  };
}

function cpythonValue(run: CPythonRun | null, workload: Workload): number | null {
  const entry = run?.results[workload.name];
  if (entry === undefined) return null;
  return (workload.unit === "ms" ? entry.ms : entry.bytes_per_task) ?? null;
}

// ---- ratios and targets -------------------------------------------------------

/** How many times better ours is than theirs: their time / ours, or their bytes / ours (> 1: asyncio-ts better). */
function advantage(ours: number, theirs: number | null): number | null {
  if (theirs === null || !(ours > 0) || !(theirs > 0)) return null;
  return theirs / ours;
}

function checkTarget(
  target: Target,
  ours: number,
  uvloop: number | null,
  asyncio: number | null,
): Pick<TargetCheck, "measured" | "met"> {
  if (target.kind === "max-bytes-per-task") return { measured: ours, met: ours <= target.bytes };
  const ratio = advantage(ours, target.kind === "speedup-vs-asyncio" ? asyncio : uvloop);
  return { measured: ratio, met: ratio === null ? null : ratio >= target.factor };
}

function checkTargets(
  workloads: Workload[],
  results: Record<string, Record<string, VariantResult>>,
  cpython: CPythonResults,
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const workload of workloads) {
    if (workload.target === undefined) continue;
    const uvloop = cpythonValue(cpython.uvloop, workload);
    const asyncio = cpythonValue(cpython.asyncio, workload);
    for (const key of workload.target.variants) {
      const result = results[workload.name]?.[key];
      if (result === undefined) continue;
      const check = checkTarget(workload.target.target, result.value, uvloop, asyncio);
      checks.push({ workload: workload.name, variant: key, target: workload.target.target.text, ...check });
    }
  }
  return checks;
}

// ---- output -------------------------------------------------------------------

function jsonReport(
  options: BenchOptions,
  results: Record<string, Record<string, VariantResult>>,
  cpython: CPythonResults,
  targets: TargetCheck[],
  load: Load,
): unknown {
  const raw: Record<string, Record<string, { n: number; ms?: number; bytes_per_task?: number; samples: number[] }>> = {};
  for (const workload of WORKLOADS) {
    const byVariant = results[workload.name];
    if (byVariant === undefined) continue;
    raw[workload.name] = {};
    for (const [key, result] of Object.entries(byVariant)) {
      (raw[workload.name] as Record<string, unknown>)[key] = {
        n: result.n,
        [workload.unit]: result.value,
        samples: result.samples,
      };
    }
  }
  return {
    command: options.argv.join(" "),
    asyncio_ts: packageVersion(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpuDescription(),
    load_average: load,
    scale: options.scale,
    repeat: options.repeat,
    results: raw,
    cpython: { asyncio: cpython.asyncio, uvloop: cpython.uvloop, notes: cpython.notes },
    targets,
  };
}

function cpuDescription(): string {
  const all = cpus();
  return `${all.length} x ${all[0]?.model ?? "unknown CPU"}`;
}

const ratioText = (ratio: number | null): string => (ratio === null ? "" : `${ratio.toFixed(2)}×`);

function valueText(workload: Workload, value: number): string {
  return workload.unit === "ms" ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} B/task`;
}

function opsText(workload: Workload, n: number, value: number): string {
  if (workload.unit !== "ms" || !(value > 0)) return "";
  const perSecond = n / (value / 1000);
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(0)} /s`;
}

function targetText(check: TargetCheck | undefined): string {
  if (check === undefined) return "";
  if (check.met === null) return `${check.target}: unmeasured (no ${check.target.includes("uvloop") ? "uvloop" : "CPython"})`;
  return `${check.target}: ${check.met ? "met" : "NOT met"}`;
}

type Row = string[];

function workloadRows(
  workload: Workload,
  results: Record<string, VariantResult>,
  cpython: CPythonResults,
  targets: TargetCheck[],
): Row[] {
  const asyncioValue = cpythonValue(cpython.asyncio, workload);
  const uvloopValue = cpythonValue(cpython.uvloop, workload);
  const baselines = workload.variants.filter((v) => v.kind === "baseline" && results[v.key] !== undefined);
  const rows: Row[] = [];
  for (const variant of workload.variants) {
    const result = results[variant.key];
    if (result === undefined) continue;
    const row = [
      variant.label,
      result.n.toLocaleString("en-US"),
      valueText(workload, result.value),
      opsText(workload, result.n, result.value),
    ];
    if (variant.kind === "asyncio-ts") {
      const versus = baselines.map((b) => `${ratioText(advantage(result.value, results[b.key]?.value ?? null))} ${b.key}`);
      const comparable = variant.comparableToCPython;
      row.push(
        versus.join(", "),
        comparable ? ratioText(advantage(result.value, asyncioValue)) : "",
        comparable ? ratioText(advantage(result.value, uvloopValue)) : "",
        targetText(targets.find((t) => t.workload === workload.name && t.variant === variant.key)),
      );
    }
    rows.push(row);
  }
  for (const [name, run, value] of [
    ["CPython asyncio", cpython.asyncio, asyncioValue],
    ["CPython uvloop", cpython.uvloop, uvloopValue],
  ] as const) {
    const entry = run?.results[workload.name];
    if (entry === undefined || value === null) continue;
    rows.push([name, entry.n.toLocaleString("en-US"), valueText(workload, value), opsText(workload, entry.n, value)]);
  }
  return rows;
}

function renderTable(header: Row, sections: { name: string; rows: Row[] }[]): string {
  const rows = sections.map((section) => section.rows.map((row, i) => [i === 0 ? section.name : "", ...row]));
  const all = [header, ...rows.flat()];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  const numeric = new Set([2, 3, 4, 6, 7]);
  const line = (row: Row): string =>
    row
      .map((cell, column) =>
        numeric.has(column) ? cell.padStart(widths[column] as number) : cell.padEnd(widths[column] as number),
      )
      .join("  ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  ")];
  rows.forEach((section, index) => {
    if (index > 0) out.push("");
    out.push(...section.map(line));
  });
  return `${out.join("\n")}\n`;
}

function renderReport(
  options: BenchOptions,
  workloads: Workload[],
  results: Record<string, Record<string, VariantResult>>,
  cpython: CPythonResults,
  targets: TargetCheck[],
  load: Load,
): string {
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
  const header = ["workload", "variant", "N", "time / memory", "ops/s", "vs Node baselines", "vs asyncio", "vs uvloop", "target"];
  const sections = workloads.map((w) => ({ name: w.name, rows: workloadRows(w, results[w.name] ?? {}, cpython, targets) }));
  const lines = [renderTable(header, sections)];
  lines.push(
    "Ratios say how many times better asyncio-ts is (> 1: better): the other's time / ours, or the other's bytes per task / ours.",
    "A ratio to CPython is printed where CPython runs the same workload (core_bench.py; its memory workload blocks on an Event).",
  );
  const measuredTargets = targets.filter((t) => t.met !== null);
  if (targets.length > 0) {
    lines.push(
      `Targets met: ${measuredTargets.filter((t) => t.met).length} of ${targets.length}${measuredTargets.length < targets.length ? ` (${targets.length - measuredTargets.length} unmeasured: no uvloop)` : ""}.`,
    );
  }
  lines.push("");
  const cp = [cpython.asyncio && `asyncio on Python ${cpython.asyncio.python} (${cpython.asyncio.interpreter})`];
  if (cpython.uvloop)
    cp.push(`uvloop ${cpython.uvloop.uvloop ?? ""} on Python ${cpython.uvloop.python} (${cpython.uvloop.interpreter})`);
  const measuredCPython = cp.filter((text): text is string => typeof text === "string" && text !== "");
  if (measuredCPython.length > 0) lines.push(`CPython: ${measuredCPython.join("; ")}`);
  lines.push(...cpython.notes);
  lines.push(
    `Each asyncio-ts and Node variant ran in its own process (node --expose-gc), in a fresh event loop; timed variants after one warm-up run at N/10; ${options.repeat === 1 ? "one timed run" : `median of ${options.repeat} timed runs`}.`,
    `Command: ${options.argv.join(" ")}`,
    `asyncio-ts ${packageVersion()}, Node.js ${process.version} (${process.platform} ${process.arch}), ${cpuDescription()}, ` +
      `load average ${load.start.toFixed(2)} at start, ${load.end.toFixed(2)} at end (other processes skew the ratios)`,
  );
  return `${lines.join("\n")}\n`;
}
