/**
 * The messages between an executor and its workers (threads or child
 * processes), and how a thrown value crosses: an error travels as its class
 * name, name, message, stack and cloneable own properties (structured
 * cloning alone would keep only the built-in classes and drop the rest).
 * Shared by the pool (`executors.ts`) and the worker (`executor_worker.ts`).
 */

/** How the worker finds the function: its source, or a module export. */
export type FunctionSpec = { kind: "source"; source: string; name: string } | { kind: "ref"; module: string; name: string };

/** Pool -> worker: run `fn(...args)` and reply with `id`. */
export interface JobMessage {
  id: number;
  fn: FunctionSpec;
  args: unknown[];
}

/** What was thrown: an error described field by field, or any other value as it is. */
export type SerializedThrown =
  | {
      kind: "error";
      /** The constructor's name in the worker (`MyError`). */
      className: string;
      name: string;
      message: string;
      stack: string | undefined;
      /** The own enumerable properties that could be cloned (`code`, `errno`, ...). */
      props: Record<string, unknown>;
      cause?: SerializedThrown;
      /** An `AggregateError`'s (or `ExceptionGroup`'s) errors. */
      errors?: SerializedThrown[];
    }
  | { kind: "value"; value: unknown };

/** Worker -> pool: the outcome of job `id`. */
export type ReplyMessage = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedThrown };

/** The file name the worker gives shipped source in stack traces (`asyncio-ts-job:sumSquares:2:9`). */
export const JOB_SOURCE_URL = "asyncio-ts-job";

const MAX_DEPTH = 8;

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Describes a thrown value so that it survives cloning. */
export function serializeThrown(thrown: unknown, depth = 0): SerializedThrown {
  if (!(thrown instanceof Error)) {
    return cloneable(thrown) ? { kind: "value", value: thrown } : { kind: "value", value: String(thrown) };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause" || key === "errors") continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (cloneable(value)) props[key] = value;
  }
  const serialized: SerializedThrown = {
    kind: "error",
    className: thrown.constructor?.name || thrown.name,
    name: thrown.name,
    message: thrown.message,
    stack: thrown.stack,
    props,
  };
  if (depth < MAX_DEPTH) {
    if (thrown.cause !== undefined) serialized.cause = serializeThrown(thrown.cause, depth + 1);
    const errors = (thrown as { errors?: unknown }).errors;
    if (Array.isArray(errors)) serialized.errors = errors.map((e) => serializeThrown(e, depth + 1));
  }
  return serialized;
}
