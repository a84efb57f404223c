/**
 * Offload refusals provoked for tests, never on by default: `TUNSLAB_TEST_REFUSE` is a comma
 * list of
 * - `tunsetoffload`: TUNSETOFFLOAD also asks for a flag no kernel knows, so the kernel itself
 *   answers EINVAL at set-up (both attempts, with and without USO);
 * - `tun_gso_write`: the first coalesced TUN write carries an undefined virtio `gso_type` (2), so
 *   the kernel refuses that write (EINVAL) and the data path must fall back to one write per
 *   packet.
 * The refusal is the kernel's, only its cause is injected: the fallback under test is the one
 * production runs. Unknown words are an error, so a typo does not pass as a refusal tested.
 *
 * @example
 * ```ts
 * import { testRefusals } from "./test_refusals.ts";
 * console.log(testRefusals("tunsetoffload")); // { tunSetOffload: true, tunGsoWrite: false }
 * ```
 * @module
 */

/** What {@link testRefusals} turns on. */
export interface TestRefusals {
  readonly tunSetOffload: boolean;
  readonly tunGsoWrite: boolean;
}

/** A TUN_F_* bit above every flag Linux defines (the kernel refuses unknown bits: EINVAL). */
export const TUN_F_UNKNOWN = 0x4000_0000;
/** A virtio_net_hdr gso_type no kernel defines (`virtio_net_hdr_to_skb` returns EINVAL). */
export const GSO_TYPE_UNDEFINED = 2;

/** Parses `spec` (default: `$TUNSLAB_TEST_REFUSE`, none without env permission). */
export function testRefusals(spec: string | undefined = envSpec()): TestRefusals {
  const words = (spec ?? "").split(",").map((w) => w.trim()).filter((w) => w !== "");
  for (const w of words) {
    if (w !== "tunsetoffload" && w !== "tun_gso_write") {
      throw new RangeError(
        `TUNSLAB_TEST_REFUSE: unknown refusal "${w}" (tunsetoffload, tun_gso_write)`,
      );
    }
  }
  return {
    tunSetOffload: words.includes("tunsetoffload"),
    tunGsoWrite: words.includes("tun_gso_write"),
  };
}

function envSpec(): string | undefined {
  try {
    return Deno.env.get("TUNSLAB_TEST_REFUSE");
  } catch {
    return undefined; // no --allow-env: nothing injected
  }
}
