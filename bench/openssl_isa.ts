/**
 * OpenSSL's ChaCha20-Poly1305 with its wider instruction sets masked off (`OPENSSL_ia32cap`, x86-64
 * only), to place the WASM AEAD: WebAssembly has 128-bit vectors, no vector rotate, sixteen vector
 * registers under V8 and no 64×64→128-bit multiply, so OpenSSL's AVX-512 path (16 blocks in
 * flight, `vprold`, 32 registers) is not the like-for-like reference; its 128-bit path (SSSE3,
 * four blocks, as ours) and its scalar one are. Poly1305 keeps its scalar base-2^64 `mulx` code in
 * every row below the AVX ones (one 64×64→128 multiply does the work of four of ours).
 *
 * @example
 * ```ts
 * import { OPENSSL_ISAS } from "./openssl_isa.ts";
 * console.log(OPENSSL_ISAS.map((i) => i.label).join(", "));
 * ```
 * @module
 */

/** One masked configuration: its label and the `OPENSSL_ia32cap` value (null: unmasked). */
export interface OpensslIsa {
  label: string;
  cap: string | null;
}

// OPENSSL_ia32cap is "A:B": A = CPUID(1) EDX (low 32 bits) | ECX (high 32), B = CPUID(7) EBX |
// ECX; "~" clears the given bits. CPUID(1) ECX bit 28 = AVX, bit 9 = SSSE3; CPUID(7) EBX bit 5 =
// AVX2, bits 16, 17, 21, 28, 30, 31 = AVX-512 F, DQ, IFMA, CD, BW, VL (OpenSSL's ChaCha20 picks
// its AVX-512VL path and Poly1305 its IFMA one by those), CPUID(7) ECX (the high half) the
// AVX-512 extensions.
const AVX = 1n << 60n, SSSE3 = 1n << 41n, AVX2 = 1n << 5n;
const AVX512 = 0xd023_0000n | (0xffff_ffffn << 32n);
const hex = (b: bigint) => `0x${b.toString(16)}`;

/** The configurations, widest first. */
export const OPENSSL_ISAS: readonly OpensslIsa[] = [
  { label: "as detected (AVX-512 here)", cap: null },
  { label: "AVX2 (AVX-512 off)", cap: `:~${hex(AVX512)}` },
  { label: "SSSE3, 128-bit (AVX, AVX2, AVX-512 off)", cap: `~${hex(AVX)}:~${hex(AVX2 | AVX512)}` },
  { label: "scalar x86-64 (no vector unit)", cap: `~${hex(AVX | SSSE3)}:~${hex(AVX2 | AVX512)}` },
];

/** One row: MB/s of seal and open (null when openssl did not answer). */
export interface IsaRow {
  label: string;
  cap: string | null;
  seal: number | null;
  open: number | null;
}

/** `openssl speed` of one size under one mask; MB/s or null. */
async function speed(
  size: number,
  decrypt: boolean,
  seconds: number,
  cap: string | null,
): Promise<number | null> {
  const args = ["speed", ...(decrypt ? ["-decrypt"] : [])];
  args.push("-evp", "chacha20-poly1305", "-bytes", String(size), "-seconds", String(seconds));
  const env: Record<string, string> = cap === null ? {} : { OPENSSL_ia32cap: cap };
  try {
    const out = await new Deno.Command("openssl", { args, env, stdout: "piped", stderr: "null" })
      .output();
    // "ChaCha20-Poly1305  1996882.10k": thousands of bytes per second.
    const m = /^ChaCha20-Poly1305\s+([\d.]+)k\s*$/m.exec(new TextDecoder().decode(out.stdout));
    return m ? Number(m[1]) / 1000 : null;
  } catch {
    return null;
  }
}

/** Measures every configuration at `size` bytes; empty on other architectures than x86-64. */
export async function measureIsas(size: number, seconds: number): Promise<IsaRow[]> {
  if (Deno.build.arch !== "x86_64") return [];
  const rows: IsaRow[] = [];
  for (const isa of OPENSSL_ISAS) {
    rows.push({
      ...isa,
      seal: await speed(size, false, seconds, isa.cap),
      open: await speed(size, true, seconds, isa.cap),
    });
  }
  return rows;
}

const f0 = (x: number | null) => (x === null ? "n/a" : x.toFixed(0));
const ratio = (
  x: number,
  y: number | null,
) => (y === null || y === 0 ? "n/a" : `${(x / y).toFixed(2)}×`);

/** The markdown table: each OpenSSL row and the WASM seal/open over it. */
export function formatIsas(
  rows: IsaRow[],
  size: number,
  wasm: { seal: number; open: number },
): string {
  if (rows.length === 0) return "OpenSSL by instruction set: x86-64 only, not measured here.";
  return [
    `OpenSSL by instruction set at ${size} B (OPENSSL_ia32cap), MB/s, and the WASM AEAD over each`,
    "",
    "| OpenSSL code path | seal | open | wasm seal / it | wasm open / it |",
    "| ----------------- | ---: | ---: | -------------: | -------------: |",
    ...rows.map((r) =>
      `| ${r.label} | ${f0(r.seal)} | ${f0(r.open)} | ${ratio(wasm.seal, r.seal)} | ${
        ratio(wasm.open, r.open)
      } |`
    ),
  ].join("\n");
}
