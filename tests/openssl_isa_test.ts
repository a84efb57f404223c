/**
 * bench/openssl_isa.ts: the OPENSSL_ia32cap masks clear the bits OpenSSL dispatches its
 * ChaCha20-Poly1305 paths on (checked against the CPUID bit numbers), each row narrower than the
 * one before, and the table's ratios. On x86-64 one short real `openssl speed` per row runs too:
 * every masked configuration must still answer (a mask OpenSSL rejected would print nothing).
 */
import { equal, match, ok } from "node:assert/strict";
import { formatIsas, measureIsas, OPENSSL_ISAS } from "../bench/openssl_isa.ts";

/** The bits `~0x…` clears in word `w` (0: CPUID(1) EDX|ECX, 1: CPUID(7) EBX|ECX). */
function cleared(cap: string | null, w: 0 | 1): bigint {
  if (cap === null) return 0n;
  const part = cap.split(":")[w] ?? "";
  return part.startsWith("~") ? BigInt(part.slice(1)) : 0n;
}

Deno.test("OPENSSL_ia32cap masks: AVX-512 (F, VL, IFMA), then AVX2 and AVX, then SSSE3", () => {
  const bit = (n: number) => 1n << BigInt(n);
  const [detected, avx2, ssse3, scalar] = OPENSSL_ISAS;
  equal(detected.cap, null);
  for (const b of [16, 21, 31]) ok(cleared(avx2.cap, 1) & bit(b), `AVX2 row clears EBX bit ${b}`);
  equal(cleared(avx2.cap, 1) & bit(5), 0n, "AVX2 itself stays");
  ok(cleared(ssse3.cap, 1) & bit(5), "the 128-bit row clears AVX2");
  ok(cleared(ssse3.cap, 0) & bit(32 + 28), "and AVX (CPUID(1) ECX bit 28)");
  equal(cleared(ssse3.cap, 0) & bit(32 + 9), 0n, "SSSE3 itself stays");
  ok(cleared(scalar.cap, 0) & bit(32 + 9), "the scalar row clears SSSE3");
  // Each row clears everything the one before it did.
  for (let i = 2; i < OPENSSL_ISAS.length; i++) {
    for (const w of [0, 1] as const) {
      const prev = cleared(OPENSSL_ISAS[i - 1].cap, w), cur = cleared(OPENSSL_ISAS[i].cap, w);
      equal(prev & cur, prev, `row ${i} word ${w}`);
    }
  }
});

Deno.test("the table: one line per row, WASM over each", () => {
  const rows = OPENSSL_ISAS.map((r, i) => ({ ...r, seal: 2000 / (i + 1), open: null }));
  const t = formatIsas(rows, 1420, { seal: 700, open: 650 });
  match(t, /\| as detected \(AVX-512 here\) \| 2000 \| n\/a \| 0\.35× \| n\/a \|/);
  match(t, /\| scalar x86-64 \(no vector unit\) \| 500 \| n\/a \| 1\.40× \| n\/a \|/);
  equal(formatIsas([], 1420, { seal: 1, open: 1 }).includes("x86-64 only"), true);
});

Deno.test({
  name: "every masked configuration runs (openssl speed answers under each mask)",
  ignore: Deno.build.arch !== "x86_64",
  fn: async () => {
    const have = await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output()
      .then((o) => o.success).catch(() => false);
    if (!have) throw new Error("openssl is not installed (tests/install_deps.sh installs it)");
    const rows = await measureIsas(1420, 1);
    equal(rows.length, OPENSSL_ISAS.length);
    for (const r of rows) {
      ok(r.seal !== null && r.seal > 0 && r.open !== null && r.open > 0, r.label);
    }
  },
});
