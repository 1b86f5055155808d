/**
 * Context variables (Python's `contextvars`): `ContextVar`, `Context`,
 * `Token`, `copyContext`.
 *
 * A `Context` holds an immutable map from variable to value; `set()` puts a
 * new map in place, so `copy()` is O(1) and copies never see each other's
 * changes. Which context is current: inside `Context.run` (every loop
 * callback and every task step runs in one) it is the context being run;
 * in the continuation of a native async function, which resumes outside any
 * callback, it is the context of the task that owns the function (found
 * through the native scope); elsewhere it is the thread's base context.
 */
import { LookupError, RuntimeError, ValueError } from "./exceptions.js";
import { currentNativeOwner } from "./native_scope.js";

type VarMap = ReadonlyMap<ContextVar<unknown>, unknown>;
const EMPTY: VarMap = new Map();
const inspectSymbol = Symbol.for("nodejs.util.inspect.custom");

/** A mapping of context variables to values, entered with `run()`. */
export class Context implements Iterable<ContextVar<unknown>> {
  /** Invariant: never mutated; replaced as a whole by `ContextVar.set`. */
  _vars: VarMap;
  /** True while some `run()` of this context is on the stack. */
  private _entered = false;

  constructor(vars: VarMap = EMPTY) {
    this._vars = vars;
  }

  /** Calls `fn(...args)` with this context current, and returns its result. */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    const previous = this._enter();
    try {
      return fn(...args);
    } finally {
      this._exit(previous);
    }
  }

  /** `run(fn)` without a rest-argument array: the loop's hot path. */
  _run0<R>(fn: () => R): R {
    const previous = this._enter();
    try {
      return fn();
    } finally {
      this._exit(previous);
    }
  }

  /** `run(fn, arg)` without a rest-argument array: the loop's hot path. */
  _run1<A, R>(fn: (arg: A) => R, arg: A): R {
    const previous = this._enter();
    try {
      return fn(arg);
    } finally {
      this._exit(previous);
    }
  }

  private _enter(): Context {
    if (this._entered) throw new RuntimeError(`cannot enter context: ${String(this)} is already entered`);
    const previous = current;
    current = this;
    depth++;
    this._entered = true;
    return previous;
  }

  private _exit(previous: Context): void {
    this._entered = false;
    current = previous;
    depth--;
  }

  /** A shallow copy: the same values, independent from now on. */
  copy(): Context {
    return new Context(this._vars);
  }

  get<T>(variable: ContextVar<T>): T | undefined;
  get<T, D>(variable: ContextVar<T>, defaultValue: D): T | D;
  get<T, D>(variable: ContextVar<T>, defaultValue?: D): T | D | undefined {
    checkVar(variable);
    return this._vars.has(variable) ? (this._vars.get(variable) as T) : defaultValue;
  }

  has(variable: ContextVar<unknown>): boolean {
    checkVar(variable);
    return this._vars.has(variable);
  }

  keys(): IterableIterator<ContextVar<unknown>> {
    return this._vars.keys();
  }

  values(): IterableIterator<unknown> {
    return this._vars.values();
  }

  entries(): IterableIterator<[ContextVar<unknown>, unknown]> {
    return this._vars.entries();
  }

  get size(): number {
    return this._vars.size;
  }

  [Symbol.iterator](): IterableIterator<ContextVar<unknown>> {
    return this._vars.keys();
  }

  toString(): string {
    return `<Context vars=${this._vars.size}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** The thread's base context, current outside every `run()`. */
const baseContext = new Context();
let current: Context = baseContext;
/** How many `Context.run` calls are on the stack; 0 means "not inside a callback". */
let depth = 0;

/** The context current now (see the module comment for the rules). */
export function currentContext(): Context {
  if (depth > 0) return current;
  const owner = currentNativeOwner();
  return owner === undefined ? current : owner._context;
}

/** Whether a `Context.run` is on the stack, that is, code runs inside a loop callback or task step. */
export function _insideContextRun(): boolean {
  return depth > 0;
}

/** A copy of the current context (Python's `contextvars.copy_context()`). */
export function copyContext(): Context {
  return new Context(currentContext()._vars);
}

function checkVar(variable: unknown): void {
  if (!(variable instanceof ContextVar)) {
    throw new TypeError(`a ContextVar key was expected, got ${typeof variable}`);
  }
}

const MISSING: unique symbol = Symbol("Token.MISSING");

/** Returned by `ContextVar.set()`; hands the previous value back to `reset()`. */
export class Token<T> {
  /** Marks a variable that had no value before `set()`. */
  static readonly MISSING: typeof MISSING = MISSING;
  readonly var: ContextVar<T>;
  readonly oldValue: T | typeof MISSING;
  /** The context the token was made in; `reset()` must be called there. */
  readonly _context: Context;
  _used = false;

  constructor(variable: ContextVar<T>, oldValue: T | typeof MISSING, context: Context) {
    this.var = variable;
    this.oldValue = oldValue;
    this._context = context;
  }

  toString(): string {
    return `<Token${this._used ? " used" : ""} var=${String(this.var)}>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

const NO_DEFAULT: unique symbol = Symbol("no default");

/** Options of a `ContextVar`. */
export interface ContextVarOptions<T> {
  default?: T;
}

/** A variable whose value depends on the current context (each task sees its own). */
export class ContextVar<T> {
  readonly name: string;
  private readonly _default: T | typeof NO_DEFAULT;

  constructor(name: string, options?: ContextVarOptions<T>) {
    if (typeof name !== "string") throw new TypeError(`context variable name must be a string, not ${typeof name}`);
    this.name = name;
    this._default = options !== undefined && "default" in options ? (options.default as T) : NO_DEFAULT;
  }

  /**
   * The value in the current context; else `defaultValue` if given; else the
   * variable's default; else `LookupError`.
   */
  get(): T;
  get<D>(defaultValue: D): T | D;
  get<D>(...rest: [D?]): T | D {
    const vars = currentContext()._vars;
    if (vars.has(this)) return vars.get(this) as T;
    if (rest.length > 0) return rest[0] as D;
    if (this._default !== NO_DEFAULT) return this._default;
    throw new LookupError(`context variable '${this.name}' has no value and no default`);
  }

  /** Sets the value in the current context; the token undoes it with `reset()`. */
  set(value: T): Token<T> {
    const context = currentContext();
    const vars = context._vars;
    const old = vars.has(this) ? (vars.get(this) as T) : MISSING;
    const next = new Map(vars);
    next.set(this, value);
    context._vars = next;
    return new Token(this, old, context);
  }

  /** Restores the value the variable had before the `set()` that made `token`. */
  reset(token: Token<T>): void {
    if (!(token instanceof Token)) throw new TypeError(`reset() needs a Token, got ${typeof token}`);
    if (token._used) throw new RuntimeError(`${String(token)} has already been used once`);
    if (token.var !== this) throw new ValueError(`${String(token)} was created by a different ContextVar`);
    const context = currentContext();
    if (token._context !== context) throw new ValueError(`${String(token)} was created in a different Context`);
    const next = new Map(context._vars);
    if (token.oldValue === MISSING) next.delete(this);
    else next.set(this, token.oldValue);
    context._vars = next;
    token._used = true;
  }

  toString(): string {
    return `<ContextVar name='${this.name}'>`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}
