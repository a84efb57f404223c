/**
 * ChaCha20-Poly1305 in MB/s (10^6 bytes of message per second), seal and
 * open at 64, 512, 1420 and 8192 bytes: the data plane's WASM, `@noble/ciphers`
 * and native OpenSSL (`openssl speed -evp chacha20-poly1305 -bytes N`,
 * `-decrypt` for open), all measured in this one run. Prints a markdown table
 * and the two checks at 1420 bytes (WASM ≥ 5× noble, ≥ 0.25× OpenSSL).
 *
 * WASM open decrypts in place, so each open is preceded by a memmove of the
 * sealed message back into the buffer; that copy is timed on its own and
 * subtracted.
 *
 * @example
 * ```sh
 * deno run -A bench/aead_throughput.ts            # ~0.4 s per cell
 * deno run -A bench/aead_throughput.ts --seconds 1 --json out.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { wasmBytes } from "../src/wasm/module.ts";
import { AEAD_SIZES, AeadCase } from "./aead_cases.ts";

/** MB/s of one implementation at one size. */
export interface AeadRow {
  size: number;
  wasmSeal: number;
  wasmOpen: number;
  nobleSeal: number;
  nobleOpen: number;
  opensslSeal: number | null;
  opensslOpen: number | null;
  /** Poly1305 alone in WASM, for the breakdown: seal ≈ ChaCha20 + Poly1305. */
  wasmPoly1305: number;
  /** ChaCha20 alone in WASM, derived: 1 / (1/seal − 1/poly1305). */
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
    rows.push({
      size,
      wasmSeal: mbs(seal),
      wasmOpen: mbs(Math.max(open - restore, 1e-12)),
      nobleSeal: mbs(timePerCall(() => c.nobleSeal(), seconds, Math.max(1, round >> 4))),
      nobleOpen: mbs(timePerCall(() => c.nobleOpen(), seconds, Math.max(1, round >> 4))),
      opensslSeal: openssl ? await opensslSpeed(size, false) : null,
      opensslOpen: openssl ? await opensslSpeed(size, true) : null,
      wasmPoly1305: mbs(poly),
      wasmChacha20: mbs(Math.max(seal - poly, 1e-12)),
    });
  }
  return rows;
}

const f0 = (x: number | null): string => (x === null ? "n/a" : x.toFixed(0));
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
    "Breakdown of WASM seal (MB/s): Poly1305 alone (ts_poly1305), ChaCha20 = seal minus Poly1305",
    "",
    "| bytes | wasm seal | poly1305 | chacha20 (derived) |",
    "| ----: | --------: | -------: | -----------------: |",
    ...rows.map((r) =>
      `| ${r.size} | ${f0(r.wasmSeal)} | ${f0(r.wasmPoly1305)} | ${f0(r.wasmChacha20)} |`
    ),
  );
  return lines.join("\n");
}

/** The targets at 1420 bytes, one line each. */
export function aeadVerdicts(rows: AeadRow[]): string[] {
  const r = rows.find((x) => x.size === 1420);
  if (r === undefined) return [];
  const out: string[] = [];
  const vsNoble = Math.min(r.wasmSeal / r.nobleSeal, r.wasmOpen / r.nobleOpen);
  out.push(`wasm ≥ 5× noble at 1420 B: ${vsNoble >= 5 ? "PASS" : "FAIL"} (${vsNoble.toFixed(2)}×)`);
  if (r.opensslSeal !== null && r.opensslOpen !== null) {
    const vsSsl = Math.min(r.wasmSeal / r.opensslSeal, r.wasmOpen / r.opensslOpen);
    out.push(
      `wasm ≥ 0.25× openssl at 1420 B: ${vsSsl >= 0.25 ? "PASS" : "FAIL"} (${vsSsl.toFixed(2)}×)`,
    );
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      seconds: { type: "string", default: "0.4" },
      json: { type: "string" },
      "no-openssl": { type: "boolean", default: false },
    },
  });
  const rows = await measureAead(Number(values.seconds), !values["no-openssl"]);
  console.log("ChaCha20-Poly1305, MB/s (10^6 B/s of message)\n");
  console.log(formatAead(rows));
  console.log();
  for (const line of aeadVerdicts(rows)) console.log(line);
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
      wasmSha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
      openssl,
      secondsPerCell: Number(values.seconds),
      unit: "MB/s (10^6 bytes of message per second)",
      rows,
      verdicts: aeadVerdicts(rows),
    };
    Deno.writeTextFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
  }
}
