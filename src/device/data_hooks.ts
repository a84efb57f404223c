/**
 * What the data path reports to the control plane, per run of packets and as plain numbers:
 * {@link DataHooks}. The handshake plane (src/device/handshake_plane.ts) implements it.
 *
 * @example
 * ```ts
 * import type { DataHooks } from "./data_hooks.ts";
 * const quiet: DataHooks = {
 *   onHandshakeMessage() {},
 *   onReceived() {},
 *   onSent() {},
 *   onNoKey: () => false, // do not keep packets without a key: the data path frees them
 * };
 * ```
 * @module
 */

/**
 * Callbacks of the data path; called with numbers only. Transport packets are reported per
 * run of consecutive packets of one peer (and keypair) in a batch, not one by one: they share
 * one instant, so a timer needs to hear of them once.
 */
export interface DataHooks {
  /** A handshake or cookie message sits at `off` (datagram from `nameOff`). The slot is freed after. */
  onHandshakeMessage(off: number, len: number, nameOff: number): void;
  /** Authenticated transport packets from `peer` on keypair slot `kp`, `data` of them not keepalives. */
  onReceived(peer: number, kp: number, data: number): void;
  /** Transport packets went out to `peer`, `data` of them not keepalives. */
  onSent(peer: number, data: number): void;
  /** No send keypair for `peer`: keep the packet? Return true to take slot `off` (IP length `len`). */
  onNoKey(peer: number, off: number, len: number): boolean;
}
