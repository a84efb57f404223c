/**
 * What the data path does with packets longer than a small slot holds (an MTU above ~2,000:
 * jumbo frames, the 34,736 of wireguard-go's `tests/netns.sh`, anything up to 65,535), at the
 * price of a comparison per batch or datagram in the common case:
 *
 * - TUN reads without offloads: every read has a second iovec, just past the small slot's
 *   capacity in a spare large slot (before the first big packet: in a jumbo buffer). A packet
 *   that went on there ends the read batch and is moved ({@link LargePackets.moveTunRead}): only
 *   its head, the small slot's bytes, is copied in front of the rest, and the large slot takes
 *   the small one's place; a new spare is taken for the next one. With offloads `ts_tun_ingest`
 *   does it in WASM (segments and plain packets longer than a small slot go to large slots).
 * - UDP receives: with UDP_GRO, messages land in jumbo buffers and are decrypted where they are,
 *   whatever their size. Without it, datagrams land in small slots, with one overflow area for
 *   the whole receive (a jumbo buffer after its first slot's worth). The last datagram of a
 *   receive that went on there is made whole in that jumbo buffer (its head copied in front) and
 *   decrypted there ({@link LargePackets.fixReceive}); an earlier one of the same receive lost its
 *   rest to it and is dropped as `truncated`. From then on, {@link LargePackets.bigRx}, the data
 *   path receives into jumbo buffers as with GRO, until no big packet was seen for
 *   {@link QUIET_MS} and the interface's MTU, where known, is small again.
 * - The MTU is not needed to carry anything: whatever size arrives is carried. Where it can be
 *   read (the interface is in this network namespace) it is re-read about once a second
 *   ({@link LargePackets.tick}), for padding and to start receiving into jumbo buffers at once.
 *
 * @example
 * ```ts
 * import { LargePackets } from "./large_packets.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * using pool = SlabPool.create({ chunkSlots: 64, maxSlots: 1024 });
 * const big = new LargePackets(pool, () => {}, { txJumbo: 0, rxJumbo: 0, jumboLen: 65536 }, 1420);
 * console.log(big.bigRx, big.tunOverflowLen); // false 63488
 * ```
 * @module
 */

import { E_EXHAUSTED, LARGE_SLOT_SIZE, packetCapacity, SLOT_TAILROOM } from "../wasm/abi.ts";
import type { SlabPool } from "../wasm/slab.ts";

/** Receiving into jumbo buffers ends this long after the last big packet (ms). */
export const QUIET_MS = 10_000;
/** How often the MTU is re-read (ms). */
export const MTU_EVERY_MS = 1000;

/** The jumbo buffers the data path lends: one for TUN reads, one for plain receives. */
export interface LargeAreas {
  /** A TUN read's overflow before the first large slot (a jumbo buffer unused without TSO). */
  txJumbo: number;
  /** The first receive jumbo buffer (unused by plain receives). */
  rxJumbo: number;
  jumboLen: number;
}

/** Spare large slot, receive mode and MTU of one data path (module doc). */
export class LargePackets {
  /** Receive into jumbo buffers: big datagrams come, or our own MTU says they may. */
  bigRx: boolean;
  /** The MTU for padding: the configured one, then what the interface says. */
  mtu: number;
  /** Where a TUN read goes on past a small slot: bytes (the rest of a large slot). */
  readonly tunOverflowLen: number;
  /** The overflow area of plain receives: wasm offset and bytes. */
  readonly rxOverflowOff: number;
  readonly rxOverflowLen: number;
  /** Big packets (TUN reads, datagrams) seen; {@link tick} watches it. */
  seen = 0;
  readonly #pool: SlabPool;
  readonly #drop: (code: number, n: number) => void;
  readonly #cap: number;
  readonly #areas: LargeAreas;
  /** Large slot the next big TUN read goes on into (0: none, the TX jumbo buffer then). */
  #spare = 0;
  #seenAtTick = 0;
  #lastBig = -Infinity;
  #lastTick = -Infinity;
  /** Small slot whose datagram {@link fixReceive} moved into the jumbo buffer (0: none). */
  #held = 0;
  #heldAt = -1;

  constructor(
    pool: SlabPool,
    drop: (code: number, n: number) => void,
    areas: LargeAreas,
    mtu: number,
  ) {
    this.#pool = pool;
    this.#drop = drop;
    this.#areas = areas;
    this.#cap = packetCapacity(pool);
    this.mtu = mtu;
    this.bigRx = mtu > this.#cap;
    this.tunOverflowLen = LARGE_SLOT_SIZE - pool.headroom - SLOT_TAILROOM - this.#cap;
    this.rxOverflowOff = areas.rxJumbo + pool.slotSize;
    this.rxOverflowLen = areas.jumboLen - pool.slotSize;
  }

  /** Where a TUN read goes on past a small slot's capacity (wasm offset). */
  get tunOverflowOff(): number {
    const spare = this.#spare;
    return spare !== 0 ? spare + this.#pool.headroom + this.#cap : this.#areas.txJumbo;
  }

  /**
   * A TUN read of `len` bytes went on past the small slot `small`: puts it whole in a large slot
   * and returns that (the caller frees `small`), or 0 when the pool refuses one (dropped, counted
   * as `exhausted`). Takes the next spare: **may grow memory**.
   */
  moveTunRead(small: number, len: number): number {
    const pool = this.#pool, h = pool.headroom, cap = this.#cap;
    let big = this.#spare;
    this.#spare = 0;
    if (big === 0) {
      big = pool.allocLarge();
      if (big === 0) {
        this.#drop(E_EXHAUSTED, 1);
        return 0;
      }
      const tail = this.#areas.txJumbo;
      pool.u8.copyWithin(big + h + cap, tail, tail + len - cap);
    }
    pool.u8.copyWithin(big + h, small + h, small + h + cap);
    this.#spare = pool.allocLarge(); // 0 at the cap: the next one goes on into the jumbo buffer
    this.seen++;
    this.bigRx = true;
    return big;
  }

  /**
   * After a plain receive of `n` datagrams with the overflow area: the last one longer than a
   * slot (`lens[k]` > slot size) is made whole in the jumbo buffer and `offs[k]` points there;
   * earlier ones lost their rest and get length 0 (decryption drops them as `truncated`, and the
   * number is returned). {@link restoreReceive} puts the small slot back before the batch is freed.
   */
  fixReceive(offs: Uint32Array, lens: Uint32Array, n: number): number {
    const slot = this.#pool.slotSize;
    let k = -1, cut = 0;
    for (let i = 0; i < n; i++) {
      if (lens[i] <= slot || lens[i] === 0xffffffff) continue;
      if (k >= 0) {
        lens[k] = 0;
        cut++;
      }
      k = i;
    }
    if (k < 0) return 0;
    const at = this.#areas.rxJumbo;
    this.#pool.u8.copyWithin(at, offs[k], offs[k] + slot);
    this.#held = offs[k];
    this.#heldAt = k;
    offs[k] = at;
    this.seen += cut + 1;
    this.bigRx = true;
    return cut;
  }

  /** Puts back the small slot {@link fixReceive} took out of `offs` (before `offs` is freed). */
  restoreReceive(offs: Uint32Array): void {
    if (this.#heldAt < 0) return;
    offs[this.#heldAt] = this.#held;
    this.#heldAt = -1;
  }

  /**
   * About once a second: the MTU if `tun` can say it (padding, and receiving into jumbo buffers
   * at once when it is big), and the end of receiving into them after {@link QUIET_MS} without a
   * big packet (the spare large slot goes back then).
   */
  tick(now: number, tun: { mtu(): number | null }): void {
    if (now - this.#lastTick < MTU_EVERY_MS) return;
    this.#lastTick = now;
    const mtu = tun.mtu();
    if (mtu !== null) this.mtu = mtu;
    // The last MTU known (configured, or read before the interface moved away) still counts.
    if (this.seen !== this.#seenAtTick || this.mtu > this.#cap) {
      this.#seenAtTick = this.seen;
      this.#lastBig = now;
      this.bigRx = true;
    } else if (this.bigRx && now - this.#lastBig >= QUIET_MS) {
      this.bigRx = false;
      this.release();
    }
  }

  /** Returns the spare large slot to the pool (the device stops; or nothing big for a while). */
  release(): void {
    if (this.#spare !== 0) this.#pool.tryFree(this.#spare);
    this.#spare = 0;
  }
}
