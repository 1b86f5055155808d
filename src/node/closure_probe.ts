/**
 * The submitting side's check of a function sent to a worker by source:
 * does it use a variable of an enclosing scope whose name is also a global
 * of the worker (`crypto` imported from `node:crypto`, a local `process`)?
 * In the worker that name would silently mean the global, a wrong result
 * instead of an error; a closure over any other name fails there with a
 * `ReferenceError` that the worker explains (`executor_worker.ts`).
 *
 * V8 shows a function's enclosing scopes to the inspector (`[[Scopes]]`),
 * which `node:inspector` reaches synchronously in this thread. The check
 * runs only when the source mentions a global's name, and once per source
 * text (the scopes' names are the same for every closure made by the same
 * code); where there is no inspector it is skipped.
 */
import type { Session as InspectorSession } from "node:inspector";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const PROBE_KEY = "__asyncioTsClosureProbe";
const MAX_CACHED = 1000;

/** Per source text: the global names it uses that an enclosing scope declares (empty: none). */
const cache = new Map<string, string[]>();
let session: InspectorSession | null | undefined;

function connect(): InspectorSession | null {
  if (session !== undefined) return session;
  try {
    const { Session } = require("node:inspector") as typeof import("node:inspector");
    session = new Session();
    session.connect();
  } catch {
    session = null;
  }
  return session;
}

function post<T>(s: InspectorSession, method: string, params: object): T {
  let result: T | undefined;
  let failure: Error | null = null;
  // A session of this thread answers synchronously.
  s.post(method, params, (error: Error | null, value: unknown) => {
    failure = error;
    result = value as T;
  });
  if (failure !== null) throw failure;
  if (result === undefined) throw new Error(`${method}: no synchronous answer`);
  return result;
}

type RemoteObject = { objectId?: string; description?: string };
type Properties = {
  result: { name: string; value?: RemoteObject }[];
  internalProperties?: { name: string; value?: RemoteObject }[];
};

/** The names declared by the scopes enclosing `fn`, except the global one. */
function enclosingNames(s: InspectorSession, fn: Function): Set<string> {
  const names = new Set<string>();
  (globalThis as Record<string, unknown>)[PROBE_KEY] = fn;
  try {
    const { result } = post<{ result: RemoteObject }>(s, "Runtime.evaluate", {
      expression: `globalThis.${PROBE_KEY}`,
      objectGroup: PROBE_KEY,
    });
    const own = post<Properties>(s, "Runtime.getProperties", { objectId: result.objectId, ownProperties: true });
    const scopes = own.internalProperties?.find((p) => p.name === "[[Scopes]]")?.value?.objectId;
    if (scopes === undefined) return names;
    for (const scope of post<Properties>(s, "Runtime.getProperties", { objectId: scopes, ownProperties: true }).result) {
      const objectId = scope.value?.objectId;
      if (objectId === undefined || scope.value?.description === "Global") continue;
      for (const variable of post<Properties>(s, "Runtime.getProperties", { objectId, ownProperties: true }).result) {
        names.add(variable.name);
      }
    }
    return names;
  } finally {
    delete (globalThis as Record<string, unknown>)[PROBE_KEY];
    post(s, "Runtime.releaseObjectGroup", { objectGroup: PROBE_KEY });
  }
}

/**
 * The identifiers of `source` that are not property names after `.`,
 * roughly: comments, strings and template literals are skipped. It only
 * decides whether to look further, so roughness costs a probe, not a
 * wrong answer.
 */
export function identifiersOf(source: string): Set<string> {
  const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`/g, " ");
  const names = new Set<string>();
  for (const match of code.matchAll(/(?<![.\w$])(?<!\?\.)[A-Za-z_$][\w$]*/g)) names.add(match[0]);
  return names;
}

/** The names `fn` would find as different globals in a worker (empty when none, or when it cannot be told). */
export function globalsShadowedFor(fn: Function, source: string): string[] {
  const cached = cache.get(source);
  if (cached !== undefined) return cached;
  const globals = [...identifiersOf(source)].filter((name) => name in globalThis);
  let shadowed: string[] = [];
  if (globals.length > 0) {
    const s = connect();
    if (s !== null) {
      try {
        const enclosing = enclosingNames(s, fn);
        shadowed = globals.filter((name) => enclosing.has(name));
      } catch {
        shadowed = [];
      }
    }
  }
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(source, shadowed);
  return shadowed;
}
