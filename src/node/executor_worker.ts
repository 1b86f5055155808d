/**
 * The program a `ThreadPoolExecutor` thread or a `ProcessPoolExecutor`
 * child runs: it waits for jobs, runs each (one at a time), and replies
 * with the result or the thrown error. A shipped function is compiled from
 * its source at the top level of this realm (indirect `eval` of strict
 * code), where nothing of the submitting code's scope exists: a variable
 * the function closed over is then missing, and the `ReferenceError` it
 * raises is turned into an error that says so. Compiled functions and
 * imported modules are cached, since a pool runs the same function often.
 */
import { parentPort } from "node:worker_threads";
import type { FunctionSpec, JobMessage, ReplyMessage } from "./executor_protocol.js";
import { JOB_SOURCE_URL, serializeThrown } from "./executor_protocol.js";

type Job = (...args: unknown[]) => unknown;

const compiled = new Map<string, Job>();
const imported = new Map<string, Job>();

// biome-ignore lint/security/noGlobalEval: compiling the shipped source at this realm's top level, outside any scope, is this worker's job.
const indirectEval = eval;

function evaluate(code: string, label: string): unknown {
  return indirectEval(`"use strict";${code}\n//# sourceURL=${JOB_SOURCE_URL}:${label}`);
}

/** Compiles `source` as an expression, or as an object-literal method (`f() {}`, `async *g() {}`). */
function compile(source: string, name: string): Job {
  const label = name === "" ? "<anonymous>" : name;
  let value: unknown;
  try {
    value = evaluate(`(${source}\n)`, label);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const holder = evaluate(`({${source}\n})`, label) as Record<string, unknown>;
    value = Object.values(holder)[0];
  }
  if (typeof value !== "function") throw new TypeError(`the source of ${label} does not evaluate to a function in the worker`);
  return value as Job;
}

async function resolveFunction(spec: FunctionSpec): Promise<Job> {
  if (spec.kind === "source") {
    let fn = compiled.get(spec.source);
    if (fn === undefined) {
      fn = compile(spec.source, spec.name);
      compiled.set(spec.source, fn);
    }
    return fn;
  }
  const key = `${spec.module}\0${spec.name}`;
  let fn = imported.get(key);
  if (fn === undefined) {
    const namespace = (await import(spec.module)) as Record<string, unknown>;
    const value = namespace[spec.name];
    if (typeof value !== "function") {
      const exports = Object.keys(namespace).filter((k) => typeof namespace[k] === "function");
      throw new TypeError(
        `module ${spec.module} has no exported function '${spec.name}' (${value === undefined ? "no such export" : `it is a ${typeof value}`}; its functions: ${exports.join(", ") || "none"})`,
      );
    }
    fn = value as Job;
    imported.set(key, fn);
  }
  return fn;
}

/**
 * A `ReferenceError` raised by the shipped source itself (its top frame is
 * in the job's source URL) names a variable the function used but did not
 * receive: a closure over the submitting code's scope.
 */
function explainMissingVariable(error: unknown, spec: FunctionSpec): unknown {
  if (spec.kind !== "source" || !(error instanceof ReferenceError)) return error;
  const match = /^(.+) is not defined$/.exec(error.message);
  const topFrame = error.stack?.split("\n").find((line) => line.trimStart().startsWith("at "));
  if (match === null || topFrame === undefined || !topFrame.includes(`${JOB_SOURCE_URL}:`)) return error;
  const name = spec.name === "" ? "<anonymous>" : spec.name;
  const closure = new ReferenceError(
    `function ${name} closes over '${match[1]}', which does not exist in the worker: pass it as an argument or use { module, name }`,
  );
  closure.stack = `${closure.name}: ${closure.message}\n${error.stack?.split("\n").slice(1).join("\n") ?? ""}`;
  return closure;
}

async function runJob(message: JobMessage): Promise<ReplyMessage> {
  try {
    const fn = await resolveFunction(message.fn);
    const value = await fn(...message.args);
    return { id: message.id, ok: true, value };
  } catch (error) {
    return { id: message.id, ok: false, error: serializeThrown(explainMissingVariable(error, message.fn)) };
  }
}

/** A result that cannot be cloned fails the job, with the reason. */
function unsendable(reply: ReplyMessage, error: unknown): ReplyMessage {
  const why = error instanceof Error ? error.message : String(error);
  const failure = new TypeError(`the result of the job cannot be sent back (results are structured-cloned): ${why}`);
  return { id: reply.id, ok: false, error: serializeThrown(failure) };
}

function serveThread(port: NonNullable<typeof parentPort>): void {
  port.on("message", async (message: JobMessage) => {
    const reply = await runJob(message);
    try {
      port.postMessage(reply);
    } catch (error) {
      port.postMessage(unsendable(reply, error));
    }
  });
}

function serveProcess(): void {
  const send = (reply: ReplyMessage): void => {
    (process.send as (m: unknown) => boolean)(reply);
  };
  process.on("message", async (message: JobMessage) => {
    const reply = await runJob(message);
    try {
      send(reply);
    } catch (error) {
      send(unsendable(reply, error));
    }
  });
  // The pool went away: nothing more will come.
  process.on("disconnect", () => process.exit(0));
}

if (parentPort !== null) serveThread(parentPort);
else if (typeof process.send === "function") serveProcess();
else throw new Error("executor_worker.js runs as a worker thread or a child process with an IPC channel, not on its own");
