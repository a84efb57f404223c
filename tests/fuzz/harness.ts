/**
 * The fuzz harness: runs a target's seeded iterations, turns every failure
 * (assertion, unexpected exception, WASM trap, leaked slot, overlong step)
 * into a printed seed/iteration and a kept regression file, and replays the
 * kept files.
 *
 * A target draws an input (bytes) from a {@link Rng} seeded by (seed,
 * iteration), then checks it against its model. Inputs are bytes so a
 * failing one can be shrunk and kept as JSON in `tests/fuzz/regressions/`:
 * `{ target, seed, iteration, message, input }` (input in base64).
 *
 * @example
 * ```ts
 * import { runTarget } from "./harness.ts";
 * import { TARGETS } from "./targets.ts";
 * const r = runTarget(TARGETS[0], { seed: 1, iterations: 10 });
 * console.log(r.iterations, r.failures.length); // 10 0
 * ```
 * @module
 */
import { fromBase64, toBase64 } from "./bytes.ts";
import { Rng } from "./rng.ts";

/** One property/fuzz target. `C` is its context: its own module instance and pool. */
export interface Target<C = unknown> {
  readonly name: string;
  /** Longest a single step may take (a hang or blow-up is a failure too). */
  readonly maxStepMs: number;
  /** A fresh context; called again after any failure. */
  setup(): C;
  /** Slots of the context's pool in use (must be 0 after every step), or 0 without a pool. */
  inUse(ctx: C): number;
  /** Fixed edge-case tables, run once per {@link runTarget} before the random steps. */
  fixed?(ctx: C): void;
  /** Draws iteration `i`'s input. */
  generate(rng: Rng, i: number): Uint8Array;
  /** Runs one input through the code under test and asserts the model's results. */
  check(ctx: C, input: Uint8Array): void;
  /** Splits an input into a head and records, for shrinking; default: no shrinking beyond bytes. */
  split?(input: Uint8Array): { head: Uint8Array; records: Uint8Array[] };
  join?(head: Uint8Array, records: Uint8Array[]): Uint8Array;
}

// deno-lint-ignore no-explicit-any
export type AnyTarget = Target<any>;

export interface Failure {
  target: string;
  seed: number;
  /** −1 for the fixed tables, −2 for a replayed regression file. */
  iteration: number;
  message: string;
  input: Uint8Array;
  file?: string;
}

export interface RunOptions {
  seed: number;
  /** Stop after this many iterations… */
  iterations?: number;
  /** …or after this many seconds (whichever comes first). */
  seconds?: number;
  /** Run only this iteration (reproduce a failure). */
  only?: number;
  /** Keep failing inputs in the regressions directory (default true). */
  keep?: boolean;
  /** Print each failure as it happens (default true). */
  print?: boolean;
}

export interface RunResult {
  target: string;
  seed: number;
  iterations: number;
  ms: number;
  failures: Failure[];
}

/** Where kept failing inputs live. */
export const REGRESSIONS = new URL("./regressions/", import.meta.url);

/** Most distinct kinds of failure one run prints and keeps per target (all are counted). */
const MAX_KINDS = 5;
/** Most time spent shrinking one failing input. */
const SHRINK_MS = 3000;

/** A failure's kind: its message without quoted text, numbers and hex. */
export function signature(message: string): string {
  return message.split("\n")[0].replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\([^)]*\)/g, "")
    .replace(/[0-9a-f]{8,}…?/gi, "h").replace(/U\+[0-9a-f]+/gi, "U+")
    .replace(/[0-9]+/g, "#").slice(0, 80);
}

function describe(e: unknown): string {
  if (e instanceof WebAssembly.RuntimeError) return `WASM trap: ${e.message}\n${e.stack ?? ""}`;
  if (e instanceof Error) {
    const kind = e.name === "AssertionError" ? "model mismatch" : `unexpected ${e.name}`;
    return `${kind}: ${e.message}`;
  }
  return `unexpected throw: ${String(e)}`;
}

/** Runs `input` on `ctx`: undefined if it passes, else why it failed. */
function attempt<C>(t: Target<C>, ctx: C, input: Uint8Array): string | undefined {
  const t0 = performance.now();
  try {
    t.check(ctx, input);
  } catch (e) {
    return describe(e);
  }
  const ms = performance.now() - t0;
  const leaked = t.inUse(ctx);
  if (leaked !== 0) return `leak: ${leaked} slot(s) still in use after the step`;
  if (ms > t.maxStepMs) return `slow: step took ${ms.toFixed(0)} ms (bound ${t.maxStepMs} ms)`;
  return undefined;
}

/** Runs `input` on a fresh context (a failure may have poisoned the old one). */
function attemptFresh<C>(t: Target<C>, input: Uint8Array): string | undefined {
  let ctx: C;
  try {
    ctx = t.setup();
  } catch (e) {
    return `setup failed: ${describe(e)}`;
  }
  return attempt(t, ctx, input);
}

/** A smaller input that still fails (records removed, then bytes cut), within a time budget. */
export function shrink<C>(t: Target<C>, input: Uint8Array): { input: Uint8Array; message: string } {
  const deadline = performance.now() + SHRINK_MS;
  let best = input;
  let message = attemptFresh(t, input) ?? "(did not fail again on a fresh context)";
  if (message.startsWith("(")) return { input, message };
  const tryIt = (cand: Uint8Array): boolean => {
    if (performance.now() > deadline) return false;
    const m = attemptFresh(t, cand);
    if (m === undefined) return false;
    best = cand;
    message = m;
    return true;
  };
  if (t.split && t.join) {
    let { head, records } = t.split(best);
    let chunk = Math.max(1, records.length >> 1);
    while (chunk >= 1 && performance.now() < deadline) {
      let removed = false;
      for (let at = 0; at < records.length && performance.now() < deadline;) {
        const cand = [...records.slice(0, at), ...records.slice(at + chunk)];
        if (cand.length < records.length && tryIt(t.join(head, cand))) {
          ({ head, records } = t.split(best));
          removed = true;
        } else {
          at += chunk;
        }
      }
      if (!removed) chunk >>= 1;
    }
  }
  return { input: best, message };
}

/** Runs iterations of `t`; never throws for a failure of the target, reports it. */
export function runTarget<C>(t: Target<C>, opts: RunOptions): RunResult {
  const keep = opts.keep ?? true;
  const print = opts.print ?? true;
  const failures: Failure[] = [];
  const t0 = performance.now();
  const deadline = opts.seconds === undefined ? Infinity : t0 + opts.seconds * 1000;
  const limit = opts.iterations ?? Infinity;
  let ctx = t.setup();
  const kinds = new Set<string>();
  const fail = (iteration: number, input: Uint8Array, message: string): void => {
    // The first failure of each kind is shrunk, printed and kept; repeats are only counted.
    // A kind is the signature before shrinking and the one after (they may differ).
    const before = signature(message);
    let fresh = !kinds.has(before) && kinds.size < MAX_KINDS;
    let known = fresh ? keptKinds(t.name).get(before) : undefined;
    let kept = input;
    if (fresh && known === undefined && iteration >= 0) {
      const s = shrink(t, input);
      kept = s.input;
      if (!s.message.startsWith("(")) message = s.message;
      const after = signature(message);
      fresh = !kinds.has(after);
      known = keptKinds(t.name).get(after);
      kinds.add(after);
    }
    kinds.add(before);
    const f: Failure = { target: t.name, seed: opts.seed, iteration, message, input: kept };
    if (fresh) {
      // One kept file per kind: a kind already kept (from an earlier run) is not written again.
      if (keep && known === undefined) f.file = keepRegression(f);
      if (print) printFailure(f, known);
    }
    failures.push(f);
    ctx = t.setup();
  };
  if (t.fixed && opts.only === undefined) {
    try {
      t.fixed(ctx);
      const leaked = t.inUse(ctx);
      if (leaked !== 0) {
        fail(-1, new Uint8Array(0), `leak: ${leaked} slot(s) after the fixed table`);
      }
    } catch (e) {
      fail(-1, new Uint8Array(0), `fixed table: ${describe(e)}`);
    }
  }
  let i = opts.only ?? 0;
  let done = 0;
  while (done < limit && performance.now() < deadline) {
    let input: Uint8Array;
    try {
      input = t.generate(Rng.forIteration(opts.seed, i), i);
    } catch (e) {
      fail(i, new Uint8Array(0), `generator: ${describe(e)}`);
      i++;
      done++;
      continue;
    }
    const m = attempt(t, ctx, input);
    if (m !== undefined) fail(i, input, m);
    done++;
    if (opts.only !== undefined) break;
    i++;
  }
  return {
    target: t.name,
    seed: opts.seed,
    iterations: done,
    ms: performance.now() - t0,
    failures,
  };
}

function printFailure(f: Failure, known?: string): void {
  const where = f.iteration === -1
    ? "fixed table"
    : `seed ${f.seed} iteration ${f.iteration} (deno task fuzz --only ${f.target} --seed ${f.seed} --iter ${f.iteration})`;
  console.error(`FUZZ FAILURE ${f.target}: ${where}\n  ${f.message.replaceAll("\n", "\n  ")}`);
  if (f.file) console.error(`  kept as ${f.file} (${f.input.length} input bytes)`);
  else if (known) console.error(`  same kind as the kept ${known}`);
}

/** Signatures of the kept regression files of `target` → file name. */
function keptKinds(target: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of loadRegressions()) if (r.target === target) m.set(signature(r.message), r.file);
  return m;
}

/** Writes `f` as `<target>-<seed>-<iteration>.json`; returns the path. */
export function keepRegression(f: Failure): string {
  Deno.mkdirSync(REGRESSIONS, { recursive: true });
  const name = `${f.target}-${f.seed}-${f.iteration < 0 ? "fixed" : f.iteration}.json`;
  const url = new URL(name, REGRESSIONS);
  const json = {
    target: f.target,
    seed: f.seed,
    iteration: f.iteration,
    message: f.message.slice(0, 2000),
    input: toBase64(f.input),
  };
  Deno.writeTextFileSync(url, JSON.stringify(json, null, 2) + "\n");
  return url.pathname;
}

export interface Regression {
  file: string;
  target: string;
  message: string;
  seed: number;
  iteration: number;
  input: Uint8Array;
}

/** The kept regression files, sorted by name. */
export function loadRegressions(): Regression[] {
  const out: Regression[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(REGRESSIONS)].filter((e) => e.isFile && e.name.endsWith(".json"))
      .map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  for (const name of names) {
    const j = JSON.parse(Deno.readTextFileSync(new URL(name, REGRESSIONS)));
    out.push({
      file: name,
      target: String(j.target),
      message: String(j.message ?? ""),
      seed: Number(j.seed),
      iteration: Number(j.iteration),
      input: fromBase64(String(j.input ?? "")),
    });
  }
  return out;
}

/**
 * Replays every kept regression: the fixed tables for an `iteration` of −1
 * ("fixed"), the kept input otherwise. Returns the ones that still fail.
 */
export function replayRegressions(targets: readonly AnyTarget[], print = true): Failure[] {
  const failures: Failure[] = [];
  for (const r of loadRegressions()) {
    const t = targets.find((x) => x.name === r.target);
    let message: string | undefined;
    if (t === undefined) message = `unknown target "${r.target}"`;
    else if (r.iteration === -1 && t.fixed) {
      try {
        const ctx = t.setup();
        t.fixed(ctx);
      } catch (e) {
        message = `fixed table: ${describe(e)}`;
      }
    } else message = attemptFresh(t, r.input);
    if (message !== undefined) {
      const f: Failure = { ...r, message, file: r.file };
      failures.push(f);
      if (print) {
        console.error(`REGRESSION STILL FAILS ${r.file}:\n  ${message.replaceAll("\n", "\n  ")}`);
      }
    }
  }
  return failures;
}
