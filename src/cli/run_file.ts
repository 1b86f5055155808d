/**
 * `npx asyncio-ts run FILE [--debug] [ARGS...]`: imports the module FILE
 * (resolved against the current directory) and runs its exported `main`
 * (an async function or a generator function) under `asyncio.run()`, as
 * `python script.py` would run `asyncio.run(main())`.
 *
 * Exit status: 0 when `main` returns (its result is not printed), 1 when it
 * (or the module's own top level) throws, 2 when the file cannot be run at
 * all (not found, no `main`, a TypeScript file this Node cannot load), 130
 * after Ctrl-C. Ctrl-C cancels the main task, as `asyncio.run()` does in
 * Python; a second Ctrl-C exits at once. ARGS become `process.argv.slice(2)`
 * for the module.
 *
 * The module's `main` must run on the copy of asyncio-ts that the module
 * imports (a second copy would have its own running-loop registry): when
 * FILE resolves `asyncio-ts` to another installation than this command's
 * (a global install running a project's file), that copy runs it.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";
import * as ownAsyncio from "../index.js";

type Asyncio = typeof ownAsyncio;

/** Options of `runFile`. */
export interface RunFileOptions {
  /** Debug mode for the loop; `undefined` leaves the default (`ASYNCIO_DEBUG`). */
  debug?: boolean;
  /** Arguments given to the module as `process.argv.slice(2)`. */
  argv?: string[];
}

const TYPESCRIPT_EXTENSIONS = new Set([".ts", ".mts", ".cts"]);

/** Exit status for a file that cannot be run (as Python's for a bad command line). */
export const EXIT_USAGE = 2;
/** Exit status after Ctrl-C (128 + SIGINT, what a shell reports for Python's KeyboardInterrupt). */
export const EXIT_INTERRUPTED = 130;

function fail(message: string): number {
  process.stderr.write(`asyncio-ts run: ${message}\n`);
  return EXIT_USAGE;
}

function typeScriptSupported(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

function printError(error: unknown): void {
  process.stderr.write(`${inspect(error, { colors: process.stderr.isTTY === true })}\n`);
}

/** What the module exports as its entry point: `main`, or `main` of a CommonJS default export. */
function findMain(module: Record<string, unknown>): unknown {
  if ("main" in module) return module.main;
  const fallback = module.default as { main?: unknown } | null | undefined;
  return typeof fallback === "object" || typeof fallback === "function" ? fallback?.main : undefined;
}

/** Runs FILE's `main` under `asyncio.run()`; resolves with the exit status. */
export async function runFile(file: string, options: RunFileOptions = {}): Promise<number> {
  const path = resolve(process.cwd(), file);
  if (!existsSync(path)) return fail(`cannot find ${file} (looked for ${path})`);
  if (TYPESCRIPT_EXTENSIONS.has(extname(path)) && !typeScriptSupported()) {
    return fail(
      `${file} is a TypeScript file, which Node.js ${process.version} cannot load: ` +
        "compile it to JavaScript first (tsc) and run the .js file, " +
        "or use Node.js >= 22.6 with type stripping (--experimental-strip-types; on by default from Node.js 23.6).",
    );
  }
  process.argv = [process.argv[0] as string, path, ...(options.argv ?? [])];

  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    printError(error);
    return 1;
  }
  const main = findMain(module);
  if (typeof main !== "function") {
    return fail(
      `${file} has no exported function \`main\` (export async function main() { ... } or export function* main() { ... })`,
    );
  }
  const asyncio = await asyncioFor(path);
  return runMain(asyncio, main as ownAsyncio.CoroutineLike<unknown>, options.debug);
}

/** The entry module of the asyncio-ts package that `asyncio-ts` means for a file in `dir`, if any. */
function resolvePackageFrom(dir: string): string | null {
  for (let current = dir; ; current = dirname(current)) {
    for (const root of [current, join(current, "node_modules", "asyncio-ts")]) {
      const entry = packageEntry(root);
      if (entry !== null) return entry;
    }
    if (dirname(current) === current) return null;
  }
}

function packageEntry(root: string): string | null {
  try {
    const json = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      name?: unknown;
      exports?: { ".": { import?: unknown } };
    };
    if (json.name !== "asyncio-ts") return null;
    const target = json.exports?.["."]?.import;
    return realpathSync(join(root, typeof target === "string" ? target : "dist/index.js"));
  } catch {
    return null;
  }
}

/** This command's own asyncio-ts, or the other copy that the file at `path` imports. */
async function asyncioFor(path: string): Promise<Asyncio> {
  const theirs = resolvePackageFrom(dirname(path));
  if (theirs === null || theirs === realpathSync(fileURLToPath(new URL("../index.js", import.meta.url)))) {
    return ownAsyncio;
  }
  try {
    return (await import(pathToFileURL(theirs).href)) as Asyncio;
  } catch {
    return ownAsyncio;
  }
}

/** Runs `main` as `asyncio.run()` would, cancelling its task on the first Ctrl-C. */
async function runMain(asyncio: Asyncio, main: ownAsyncio.CoroutineLike<unknown>, debug: boolean | undefined): Promise<number> {
  let mainTask: ownAsyncio.Task<unknown> | null = null;
  let interrupted = false;
  const loopFactory = (): ownAsyncio.AbstractEventLoop => {
    const loop = asyncio.newEventLoop();
    asyncio.setEventLoop(loop);
    // The first task made on the loop is the main task: remember it, then get out of the way.
    loop.setTaskFactory((taskLoop, coro, taskOptions) => {
      taskLoop.setTaskFactory(null);
      const task = taskLoop.createTask(coro, taskOptions);
      mainTask = task as ownAsyncio.Task<unknown>;
      return task;
    });
    return loop;
  };
  const onSigint = (): void => {
    const task = mainTask as ownAsyncio.Task<unknown> | null;
    if (!interrupted && task !== null && !task.done()) {
      interrupted = true;
      task.cancel();
      return;
    }
    process.stderr.write("KeyboardInterrupt\n");
    process.exit(EXIT_INTERRUPTED);
  };
  process.on("SIGINT", onSigint);
  try {
    await asyncio.run(main, { debug, loopFactory });
    return 0;
  } catch (error) {
    if (interrupted && error instanceof asyncio.CancelledError) {
      process.stderr.write("KeyboardInterrupt\n");
      return EXIT_INTERRUPTED;
    }
    printError(error);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
    asyncio.setEventLoop(null);
  }
}
