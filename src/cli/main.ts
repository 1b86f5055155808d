#!/usr/bin/env node
/**
 * The `asyncio-ts` command (API.md section 16):
 *
 *   asyncio-ts                               the asyncio REPL (`python -m asyncio`)
 *   asyncio-ts run FILE [--debug] [ARGS...]  runs FILE's exported `main` under `asyncio.run()`
 *   asyncio-ts bench [--scale S] [--only NAMES] [--json] ...   the micro-benchmarks
 *
 * This module only parses the command line and dispatches; each command
 * lives in its own module, loaded when used.
 */
import { parseArgs } from "node:util";
import type { EchoClientKind } from "./bench_echo.js";
import { packageVersion } from "./package_info.js";

const USAGE = `usage: asyncio-ts [run FILE [--debug] [ARGS...] | bench [options]]

  asyncio-ts                    start the asyncio REPL: top-level await runs in a running event loop
  asyncio-ts run FILE [--debug] [ARGS...]
                                run the exported main() of FILE (.js/.mjs; .ts where Node.js
                                strips types) under asyncio.run(); ARGS go to process.argv
  asyncio-ts bench [--scale S] [--only NAMES] [--json] [--repeat N] [--python PATH | --no-python]
                   [--echo-servers KEYS] [--echo-client c|node]
                                run the micro-benchmarks beside their Node and CPython baselines;
                                --echo-servers picks the echo section's servers (comma-separated keys);
                                --echo-client its load's client (c, the default where cc works, or node)
  asyncio-ts --help | --version
`;

/** Exit status for a bad command line. */
const EXIT_USAGE = 2;

function usageError(message: string): number {
  process.stderr.write(`asyncio-ts: ${message}\n${USAGE}`);
  return EXIT_USAGE;
}

/** `run`'s arguments: `--debug` may come before or after FILE; everything else after FILE goes to the module. */
function parseRunArgs(args: string[]): { file: string; debug: boolean | undefined; argv: string[] } | string {
  let debug: boolean | undefined;
  let file: string | undefined;
  const argv: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (file === undefined) {
      if (arg === "--debug") debug = true;
      else if (arg === "--") {
        file = args[i + 1];
        i++;
      } else if (arg.startsWith("-")) return `run: unknown option ${arg}`;
      else file = arg;
    } else if (arg === "--debug" && argv.length === 0) {
      debug = true;
    } else {
      argv.push(arg);
    }
  }
  if (file === undefined) return "run: missing FILE";
  return { file, debug, argv };
}

async function runCommand(args: string[]): Promise<number> {
  const parsed = parseRunArgs(args);
  if (typeof parsed === "string") return usageError(parsed);
  const { runFile } = await import("./run_file.js");
  return runFile(parsed.file, { debug: parsed.debug, argv: parsed.argv });
}

async function benchCommand(args: string[]): Promise<number> {
  let values: ReturnType<typeof parseBenchArgs>["values"];
  try {
    values = parseBenchArgs(args).values;
  } catch (error) {
    return usageError(`bench: ${(error as Error).message}`);
  }
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  if (!(scale > 0) || !Number.isFinite(scale)) return usageError(`bench: --scale must be a positive number, got ${values.scale}`);
  const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1)
    return usageError(`bench: --repeat must be a positive integer, got ${values.repeat}`);
  const only = (values.only ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const echoServers = (values["echo-servers"] ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const { ECHO_SERVER_REGISTRY, ECHO_CLIENTS } = await import("./bench_echo.js");
  const unknown = echoServers.filter((key) => !ECHO_SERVER_REGISTRY.some((entry) => entry.key === key));
  if (unknown.length > 0) {
    const known = ECHO_SERVER_REGISTRY.map((entry) => entry.key).join(", ");
    return usageError(`bench: unknown echo server ${unknown.join(", ")} (known: ${known})`);
  }
  const echoClient = values["echo-client"];
  if (echoClient !== undefined && !(ECHO_CLIENTS as readonly string[]).includes(echoClient))
    return usageError(`bench: --echo-client must be one of ${ECHO_CLIENTS.join(", ")}, got ${echoClient}`);
  const { runBench } = await import("./bench.js");
  return runBench({
    echoServers,
    echoClient: echoClient as EchoClientKind | undefined,
    scale,
    only,
    json: values.json ?? false,
    repeat,
    python: values["no-python"] === true ? null : (values.python ?? undefined),
    argv: ["asyncio-ts", "bench", ...args],
  });
}

function parseBenchArgs(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      scale: { type: "string" },
      only: { type: "string" },
      json: { type: "boolean" },
      repeat: { type: "string" },
      python: { type: "string" },
      "no-python": { type: "boolean" },
      "echo-servers": { type: "string" },
      "echo-client": { type: "string" },
    },
  });
}

async function replCommand(): Promise<number> {
  const { runRepl } = await import("./repl.js");
  const status = await runRepl();
  // The REPL's streams would keep the process alive; Python's REPL exits here too.
  process.exit(status);
}

/** Runs the command line `args` (without `node` and the script); resolves with the exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
      return replCommand();
    case "run":
      return runCommand(rest);
    case "bench":
      return benchCommand(rest);
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(USAGE);
      return 0;
    case "-V":
    case "--version":
      process.stdout.write(`asyncio-ts ${packageVersion()} (Node.js ${process.version})\n`);
      return 0;
    default:
      return usageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`asyncio-ts: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
