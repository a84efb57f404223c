/**
 * `deno task fuzz [--seconds N] [--seed S] [--only a,b] [--iter I]`: replays the
 * kept regressions, then runs every target (or the `--only` ones) for N seconds
 * each (default 10) from seed S (default: random, printed). `--iter I` reruns
 * the single iteration I of a failure report. Prints per target the
 * iterations, seed and failures; exits 1 on any failure.
 * @module
 */
import { parseArgs } from "node:util";
import { type Failure, replayRegressions, runTarget } from "./harness.ts";
import { TARGETS } from "./targets.ts";

function usage(code: number, msg?: string): number {
  if (msg) console.error(msg);
  const names = TARGETS.map((t) => t.name).join(", ");
  (code === 0 ? console.log : console.error)(
    `usage: deno task fuzz [--seconds N] [--iterations N] [--seed S] [--only a,b] [--iter I] [--no-keep]\n  targets: ${names}`,
  );
  return code;
}

export function main(args: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        seconds: { type: "string", default: "10" },
        iterations: { type: "string" },
        seed: { type: "string" },
        only: { type: "string" },
        iter: { type: "string" },
        "no-keep": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (e) {
    return usage(2, (e as Error).message);
  }
  if (values.help) return usage(0);
  const num = (s: string | undefined, what: string): number | undefined => {
    if (s === undefined) return undefined;
    if (!/^[0-9]+(\.[0-9]+)?$/.test(s)) throw new RangeError(`--${what}: not a number: ${s}`);
    return Number(s);
  };
  let seconds, iterations, iter, seed;
  try {
    seconds = num(values.seconds, "seconds")!;
    iterations = num(values.iterations, "iterations");
    iter = num(values.iter, "iter");
    seed = num(values.seed, "seed") ?? crypto.getRandomValues(new Uint32Array(1))[0];
  } catch (e) {
    return usage(2, (e as Error).message);
  }
  seed = seed >>> 0;
  const only = values.only?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = only?.filter((n) => !TARGETS.some((t) => t.name === n)) ?? [];
  if (unknown.length > 0) return usage(2, `unknown target(s): ${unknown.join(", ")}`);
  const targets = only ? TARGETS.filter((t) => only.includes(t.name)) : TARGETS;

  const failures: Failure[] = [];
  if (iter === undefined) {
    const r = replayRegressions(TARGETS);
    console.log(`regressions: ${r.length} still failing`);
    failures.push(...r);
  }
  console.log(
    `seed ${seed}, ${iter !== undefined ? `iteration ${iter}` : `${seconds} s per target`}`,
  );
  for (const t of targets) {
    const r = runTarget(t, {
      seed,
      seconds: iter !== undefined ? undefined : seconds,
      iterations: iterations,
      only: iter,
      keep: !values["no-keep"],
    });
    failures.push(...r.failures);
    console.log(
      `${t.name.padEnd(14)} ${
        String(r.iterations).padStart(8)
      } iterations  seed ${r.seed}  ${r.failures.length} failure(s)  ${(r.ms / 1000).toFixed(1)} s`,
    );
  }
  console.log(failures.length === 0 ? "fuzz: no failures" : `fuzz: ${failures.length} failure(s)`);
  return failures.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(main(Deno.args));
