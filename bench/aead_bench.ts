/**
 * ChaCha20-Poly1305 seal and open: the data plane's WASM (in place, in the
 * module's scratch area) against `@noble/ciphers` at 64, 512, 1420 and 8192
 * bytes, one group per operation and size, noble as the baseline (the
 * summary's "N× slower" is the ratio the issue asks for).
 *
 *   deno bench -A bench/aead_bench.ts
 *
 * `deno bench` reports time per call; `bench/aead_throughput.ts` turns the
 * same calls into MB/s and adds `openssl speed` for the native ceiling.
 * Both share the set-up in `bench/aead_cases.ts`; the two implementations
 * are checked against each other before anything is timed.
 *
 * @example
 * ```sh
 * deno bench -A bench/aead_bench.ts --filter 1420
 * ```
 * @module
 */
import { AEAD_SIZES, AeadCase } from "./aead_cases.ts";

for (const size of AEAD_SIZES) {
  const c = new AeadCase(size);
  Deno.bench({
    name: `noble seal ${size} B`,
    group: `seal ${size} B`,
    baseline: true,
    fn() {
      c.nobleSeal();
    },
  });
  Deno.bench({
    name: `wasm seal ${size} B`,
    group: `seal ${size} B`,
    fn() {
      c.wasmSeal();
    },
  });
  Deno.bench({
    name: `noble open ${size} B`,
    group: `open ${size} B`,
    baseline: true,
    fn() {
      c.nobleOpen();
    },
  });
  Deno.bench({
    name: `wasm open ${size} B`,
    group: `open ${size} B`,
    fn() {
      // Open decrypts in place, so the sealed message is put back first: a
      // memmove of size+16 bytes inside WASM memory, timed with the open
      // (Deno ignores b.start()/b.end() below 10 µs per iteration). It is
      // ~2% of the call at 1420 B; aead_throughput.ts subtracts it.
      c.restoreSealed();
      c.wasmOpen();
    },
  });
}
