/**
 * Where each peer's sockaddr is in the data plane's memory (`ts_peer_endpoint_ptr`, the
 * `msg_name` of every datagram sent to the peer), kept in a `Uint32Array` indexed by peer id so
 * the send path reads one element per packet. The module's peer tables grow by pages, so the
 * array grows too: the first time an id beyond it is asked for, it is re-created twice as long
 * (or as long as the id needs), never per packet. A pointer, once known, never changes.
 *
 * @example
 * ```ts
 * import { EndpointPointers } from "./endpoint_pointers.ts";
 * import { instantiate } from "../wasm/module.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * const wasm = instantiate();
 * const pool = SlabPool.create({ chunkSlots: 16, maxSlots: 16 }, wasm);
 * const names = new EndpointPointers(wasm, pool);
 * console.log(names.of(5000) - names.of(4999)); // 32
 * ```
 * @module
 */

import type { TunslabExports } from "../wasm/module.ts";
import type { SlabPool } from "../wasm/slab.ts";

/** Peer id → sockaddr pointer, grown by doubling. */
export class EndpointPointers {
  #ptrs = new Uint32Array(64);
  readonly #wasm: Pick<TunslabExports, "ts_peer_endpoint_ptr">;
  readonly #pool: SlabPool;

  constructor(wasm: Pick<TunslabExports, "ts_peer_endpoint_ptr">, pool: SlabPool) {
    this.#wasm = wasm;
    this.#pool = pool;
  }

  /** The sockaddr pointer of `peer` (0 for an id at or beyond the module's limit). */
  of(peer: number): number {
    const p = this.#ptrs;
    if (peer < p.length) {
      const ptr = p[peer];
      if (ptr !== 0) return ptr;
    }
    return this.#ask(peer);
  }

  /**
   * Asks the module once per id. For a peer that exists (one being sent to) this grows nothing;
   * otherwise its page is grown, so the pool's views are refreshed.
   */
  #ask(peer: number): number {
    let p = this.#ptrs;
    if (peer >= p.length) {
      p = new Uint32Array(Math.max(2 * p.length, peer + 1));
      p.set(this.#ptrs);
      this.#ptrs = p;
    }
    const ptr = this.#wasm.ts_peer_endpoint_ptr(peer);
    this.#pool.refresh();
    p[peer] = ptr;
    return ptr;
  }
}
