/**
 * ChaCha20-Poly1305 in MB/s (10^6 bytes of message per second), seal and
 * open at 64, 512, 1420, 4096 and 8192 bytes: the data plane's WASM,
 * `@noble/ciphers` and native OpenSSL (`openssl speed -evp chacha20-poly1305
 * -bytes N -seconds S`, `-decrypt` for open), all measured in this one run.
 * Prints a markdown table with the ratios, the WASM's components alone
 * (`ts_chacha20`, `ts_poly1305`), the gates at 1420 bytes (WASM ≥ 5× noble,
 * ≥ 0.5× OpenSSL, seal and open) and, on x86-64, OpenSSL at 1420 bytes with
 * its AVX-512, AVX2 and SSSE3 paths masked off in turn (bench/openssl_isa.ts;
 * `--no-isa` skips it); exits 1 when a gate fails (`--no-gate`: 0).
 *
 * WASM open decrypts in place, so each open is preceded by a memmove of the
 * sealed message back into the buffer; that copy is timed on its own and
 * subtracted.
 *
 * @example
 * ```sh
 * deno task bench:aead                                # 3 s per cell, as openssl speed -seconds 3
 * deno run -A bench/aead_throughput.ts --seconds 0.4 --json out.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { WASM_ENV, wasmBytes } from "../src/wasm/module.ts";
import { AEAD_SIZES, AeadCase } from "./aead_cases.ts";
import { formatIsas, measureIsas } from "./openssl_isa.ts";

/** MB/s of one implementation at one size. */
export interface AeadRow {
  size: number;
  wasmSeal: number;
  wasmOpen: number;
  nobleSeal: number;
  nobleOpen: number;
  opensslSeal: number | null;
  opensslOpen: number | null;
  /** Poly1305 alone in WASM (`ts_poly1305`), for the breakdown. */
  wasmPoly1305: number;
  /** ChaCha20 alone in WASM (`ts_chacha20`), for the breakdown; NaN if the module lacks it. */
  wasmChacha20: number;
}

/** Calls `op` in rounds of `round` until `seconds` pass; returns seconds per call. */
function timePerCall(op: () => unknown, seconds: number, round: number): number {
  for (let i = 0; i < round; i++) op(); // warm-up: tier up before timing
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000) {
    for (let i = 0; i < round; i++) op();
    calls += round;
    t = performance.now();
  }
  return (t - t0) / 1000 / calls;
}

/** `openssl speed` for one size; MB/s, or null when openssl is missing or its output unexpected. */
export async function opensslSpeed(
  size: number,
  decrypt: boolean,
  seconds = 1,
): Promise<number | null> {
  const args = ["speed", ...(decrypt ? ["-decrypt"] : [])];
  args.push("-evp", "chacha20-poly1305", "-bytes", String(size), "-seconds", String(seconds));
  try {
    const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "null" })
      .output();
    const text = new TextDecoder().decode(out.stdout);
    // "ChaCha20-Poly1305  1996882.10k" — in 1000s of bytes per second.
    const m = /^ChaCha20-Poly1305\s+([\d.]+)k\s*$/m.exec(text);
    return m ? Number(m[1]) / 1000 : null;
  } catch {
    return null;
  }
}

/** Measures every cell. */
export async function measureAead(seconds: number, openssl = true): Promise<AeadRow[]> {
  const rows: AeadRow[] = [];
  for (const size of AEAD_SIZES) {
    const c = new AeadCase(size);
    const round = Math.max(4, Math.floor(65536 / size));
    const mbs = (perCall: number) => size / perCall / 1e6;
    const restore = timePerCall(() => c.restoreSealed(), seconds / 4, round);
    const open = timePerCall(
      () => {
        c.restoreSealed();
        c.wasmOpen();
      },
      seconds,
      round,
    );
    const seal = timePerCall(() => c.wasmSeal(), seconds, round);
    const poly = timePerCall(() => c.wasmPoly1305(), seconds / 2, round);
    const cipher = c.hasChacha20 ? timePerCall(() => c.wasmChacha20(), seconds / 2, round) : NaN;
    rows.push({
      size,
      wasmSeal: mbs(seal),
      wasmOpen: mbs(Math.max(open - restore, 1e-12)),
      nobleSeal: mbs(timePerCall(() => c.nobleSeal(), seconds, Math.max(1, round >> 4))),
      nobleOpen: mbs(timePerCall(() => c.nobleOpen(), seconds, Math.max(1, round >> 4))),
      opensslSeal: openssl
        ? await opensslSpeed(size, false, Math.max(1, Math.round(seconds)))
        : null,
      opensslOpen: openssl
        ? await opensslSpeed(size, true, Math.max(1, Math.round(seconds)))
        : null,
      wasmPoly1305: mbs(poly),
      wasmChacha20: mbs(cipher),
    });
  }
  return rows;
}

const f0 = (x: number | null): string => (x === null || isNaN(x) ? "n/a" : x.toFixed(0));
const ratio = (x: number, y: number | null): string =>
  y === null || y === 0 ? "n/a" : `${(x / y).toFixed(2)}×`;

/** The markdown table. */
export function formatAead(rows: AeadRow[]): string {
  const lines = [
    "| bytes | wasm seal | wasm open | noble seal | noble open | openssl seal | openssl open | seal wasm/noble | open wasm/noble | seal wasm/openssl | open wasm/openssl |",
    "| ----: | --------: | --------: | ---------: | ---------: | -----------: | -----------: | --------------: | --------------: | ----------------: | ----------------: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.size} | ${f0(r.wasmSeal)} | ${f0(r.wasmOpen)} | ${f0(r.nobleSeal)} | ${
        f0(r.nobleOpen)
      } | ${f0(r.opensslSeal)} | ${f0(r.opensslOpen)} | ${ratio(r.wasmSeal, r.nobleSeal)} | ${
        ratio(r.wasmOpen, r.nobleOpen)
      } | ${ratio(r.wasmSeal, r.opensslSeal)} | ${ratio(r.wasmOpen, r.opensslOpen)} |`,
    );
  }
  lines.push(
    "",
    "WASM components alone (MB/s): ChaCha20 (ts_chacha20), Poly1305 (ts_poly1305); one after",
    "the other they would make the last column, which seal beats by the overlap of the two",
    "",
    "| bytes | wasm seal | chacha20 | poly1305 | 1/(1/chacha20 + 1/poly1305) |",
    "| ----: | --------: | -------: | -------: | --------------------------: |",
    ...rows.map((r) =>
      `| ${r.size} | ${f0(r.wasmSeal)} | ${f0(r.wasmChacha20)} | ${f0(r.wasmPoly1305)} | ${
        f0(1 / (1 / r.wasmChacha20 + 1 / r.wasmPoly1305))
      } |`
    ),
  );
  return lines.join("\n");
}

/** WASM over OpenSSL that the gate asks for at 1420 bytes (issue 15), seal and open. */
export const OPENSSL_GATE = 0.5;

/** The gates at 1420 bytes, one line each, and whether all of them hold. */
export function aeadVerdicts(rows: AeadRow[]): { lines: string[]; pass: boolean } {
  const r = rows.find((x) => x.size === 1420);
  if (r === undefined) return { lines: [], pass: true };
  const lines: string[] = [];
  let pass = true;
  const vsNoble = Math.min(r.wasmSeal / r.nobleSeal, r.wasmOpen / r.nobleOpen);
  pass &&= vsNoble >= 5;
  lines.push(
    `wasm ≥ 5× noble at 1420 B: ${vsNoble >= 5 ? "PASS" : "FAIL"} (${vsNoble.toFixed(2)}×)`,
  );
  if (r.opensslSeal !== null && r.opensslOpen !== null) {
    for (
      const [op, x] of [["seal", r.wasmSeal / r.opensslSeal], ["open", r.wasmOpen / r.opensslOpen]]
    ) {
      const ok = (x as number) >= OPENSSL_GATE;
      pass &&= ok;
      lines.push(
        `wasm ${op} ≥ ${OPENSSL_GATE}× openssl at 1420 B: ${ok ? "PASS" : "FAIL"} (${
          (x as number).toFixed(2)
        }×)`,
      );
    }
  } else {
    lines.push("openssl not measured: its gate is not checked");
  }
  return { lines, pass };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      seconds: { type: "string", default: "3" },
      json: { type: "string" },
      "no-openssl": { type: "boolean", default: false },
      "no-gate": { type: "boolean", default: false },
      "no-isa": { type: "boolean", default: false },
    },
  });
  const rows = await measureAead(Number(values.seconds), !values["no-openssl"]);
  console.log("ChaCha20-Poly1305, MB/s (10^6 B/s of message)\n");
  console.log(formatAead(rows));
  console.log();
  const verdicts = aeadVerdicts(rows);
  for (const line of verdicts.lines) console.log(line);
  const at1420 = rows.find((r) => r.size === 1420);
  const isas = values["no-openssl"] || values["no-isa"] || at1420 === undefined
    ? []
    : await measureIsas(1420, Math.max(1, Math.round(Number(values.seconds))));
  if (at1420 !== undefined && isas.length > 0) {
    console.log();
    console.log(formatIsas(isas, 1420, { seal: at1420.wasmSeal, open: at1420.wasmOpen }));
  }
  if (values.json) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", wasmBytes() as Uint8Array<ArrayBuffer>),
    );
    const openssl = await new Deno.Command("openssl", { args: ["version"], stdout: "piped" })
      .output().then((o) => new TextDecoder().decode(o.stdout).trim()).catch(() => null);
    const result = {
      date: new Date().toISOString(),
      kernel: Deno.osRelease(),
      deno: Deno.version,
      cpu: Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? null,
      wasm: Deno.env.get(WASM_ENV) ?? "wasm/tunslab.wasm",
      wasmSha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
      openssl,
      secondsPerCell: Number(values.seconds),
      unit: "MB/s (10^6 bytes of message per second)",
      rows,
      opensslByIsa: isas,
      verdicts: verdicts.lines,
    };
    Deno.writeTextFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
  }
  if (!verdicts.pass && !values["no-gate"]) Deno.exit(1);
}
