/**
 * The property/fuzz suite in CI: every target of tests/fuzz/ for a fixed
 * number of iterations (the whole file well under 60 s on a 2-core machine),
 * from a seed that changes daily (UTC date, or FUZZ_SEED) and is printed with
 * the iteration count and time of each target; and every kept regression
 * case replayed. Reproduce a failure with
 * `deno task fuzz --only TARGET --seed SEED --iter I`; longer runs with
 * `deno task fuzz --seconds N`.
 */
import { AssertionError } from "node:assert/strict";
import { type Failure, loadRegressions, replayRegressions, runTarget } from "./fuzz/harness.ts";
import { TARGETS } from "./fuzz/targets.ts";

/** Iterations per target, sized from measured rates (see each line's printed time). */
const ITERATIONS: Record<string, number> = {
  ip_parse: 2500,
  message_parse: 2500,
  replay: 300,
  allowed_ips: 20,
  config_parse: 3500,
  uapi_parse: 12000,
  tun_segment: 2000,
  tun_gro_plan: 1000,
};

function dailySeed(): number {
  const d = new Date();
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

const env = Deno.env.get("FUZZ_SEED");
const SEED = env !== undefined && /^[0-9]+$/.test(env) ? Number(env) >>> 0 : dailySeed();

function report(what: string, failures: Failure[]): void {
  if (failures.length === 0) return;
  const lines = failures.slice(0, 10).map((f) =>
    `  ${f.iteration >= 0 ? `iteration ${f.iteration}` : f.file ?? "fixed table"}: ${
      f.message.split("\n")[0].slice(0, 300)
    }`
  );
  throw new AssertionError({
    message: `${what}: ${failures.length} failure(s), seed ${SEED}\n${lines.join("\n")}`,
  });
}

Deno.test("fuzz: every kept regression case passes", () => {
  const n = loadRegressions().length;
  const t0 = performance.now();
  const failures = replayRegressions(TARGETS);
  console.log(
    `regressions: ${n} replayed, ${failures.length} still failing, ${
      (performance.now() - t0).toFixed(0)
    } ms`,
  );
  report("regressions", failures);
});

for (const t of TARGETS) {
  Deno.test(`fuzz: ${t.name}`, () => {
    const iterations = ITERATIONS[t.name] ?? 100;
    const r = runTarget(t, { seed: SEED, iterations });
    console.log(
      `${t.name}: ${r.iterations} iterations, seed ${SEED}, ${r.failures.length} failure(s), ${
        (r.ms / 1000).toFixed(1)
      } s`,
    );
    report(t.name, r.failures);
  });
}
