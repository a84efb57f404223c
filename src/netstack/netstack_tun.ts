/**
 * The TUN side of a device whose packets go to the module's TCP/IP stack instead of the kernel
 * (`tunslab proxy`): what the data path writes (decrypted packets) goes to `ts_netstack_input`,
 * what it reads is what `ts_netstack_output` sends. Slots change hands, bytes do not move: a
 * written slot becomes the stack's and a fresh one takes its place in the data path's batch (which
 * frees it: {@link NetstackTun.keepsWrites}); a slot the data path hands in to be read into goes
 * back to the pool and the stack's packet takes its place.
 *
 * The fd the loop polls is an epoll set ({@link NetstackTun.reactor}) holding an eventfd, readable
 * while the stack may have something to send: after {@link NetstackTun.kick} (a local socket
 * queued data, a connect, a close) and when its next timer is due (one JS timer, re-armed only to
 * an earlier time); and the proxy's local sockets (src/proxy/slot_join.ts), whose readiness is
 * dispatched at each read, before the stack's output is collected.
 *
 * @example
 * ```ts ignore
 * import { Device } from "../device/device.ts";
 * import { NetstackTun } from "./netstack_tun.ts";
 * const dev = await Device.create({
 *   name: "proxy0", config,
 *   io: (wasm, pool) => ({ tun: new NetstackTun("proxy0", wasm, pool, opts), udp }),
 * });
 * ```
 * @module
 */

import { EFD_CLOEXEC, EFD_NONBLOCK, libc } from "../ffi/libc.ts";
import type { PoolMemory } from "../ffi/pool_memory.ts";
import type { DeviceTun } from "../device/device.ts";
import type { JumboArea } from "../device/packet_io.ts";
import type { TunslabExports } from "../wasm/module.ts";
import type { SlabPool } from "../wasm/slab.ts";
import { EPOLLIN, FdReactor } from "./fd_reactor.ts";
import { Netstack, type NetstackOptions } from "./netstack.ts";

/** Most packets one {@link NetstackTun.writeBatch} or {@link NetstackTun.readBatch} moves. */
const MAX_BATCH = 256;

/** The device's TUN, played by the stack. */
export class NetstackTun implements DeviceTun {
  readonly name: string;
  readonly fd: number;
  readonly vnetHdr = false;
  readonly offloads = 0;
  readonly offloadErrno = 0;
  readonly gsoReads = 0;
  readonly gsoWrites = 0;
  readonly gsoWritePackets = 0;
  readonly gsoWriteErrno = 0;
  readonly gone = false;
  readonly keepsWrites = true;
  /** The stack itself, for sockets. */
  readonly stack: Netstack;
  /** The local sockets' readiness, in this loop (its fd is {@link fd}). */
  readonly reactor: FdReactor;
  /** Packets the data path wrote that were not given to the stack (no fresh slot, not a slot). */
  refused = 0;

  readonly #wasm: TunslabExports;
  readonly #pool: SlabPool;
  readonly #mtu: number;
  readonly #now: () => number;
  /** Scratch: the fresh slots, the stack's output offsets and lengths. */
  readonly #fresh: number;
  readonly #outOffs: number;
  readonly #outLens: number;
  readonly #efd: number;
  readonly #efdBuf = new Uint8Array(8);
  readonly #one = new Uint8Array(new BigUint64Array([1n]).buffer);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;
  /** Called after each read (what the stack sent, its timers): sockets' events are due then. */
  readonly #onEvents: (() => void) | undefined;

  constructor(
    name: string,
    wasm: TunslabExports,
    pool: SlabPool,
    opts: NetstackOptions & { now?: () => number; onEvents?: () => void },
  ) {
    this.name = name;
    this.#wasm = wasm;
    this.#pool = pool;
    this.#mtu = opts.mtu;
    this.#now = opts.now ?? (() => performance.now());
    this.#onEvents = opts.onEvents;
    this.stack = new Netstack(wasm, pool, opts);
    this.#fresh = pool.scratch(4 * MAX_BATCH);
    this.#outOffs = pool.scratch(4 * MAX_BATCH);
    this.#outLens = pool.scratch(4 * MAX_BATCH);
    this.#efd = libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#efd < 0) throw new Error("eventfd failed");
    this.reactor = new FdReactor();
    this.reactor.add(this.#efd, EPOLLIN, { ready: () => {} }); // read in readBatch
    this.fd = this.reactor.fd;
  }

  /** Something was queued on the stack: the device's loop collects its output. */
  kick(): void {
    if (!this.#closed) libc().write(this.#efd, this.#one, 8n);
  }

  mtu(): number {
    return this.#mtu;
  }

  /** Decrypted packets to the stack; each slot kept is replaced by a fresh one in `offs`. */
  writeBatch(_pool: PoolMemory, offs: Uint32Array, lens: Uint32Array, n: number): number {
    const pool = this.#pool, wasm = this.#wasm;
    const offsPtr = offs.byteOffset, lensPtr = lens.byteOffset;
    n = Math.min(n, MAX_BATCH);
    // Only slot starts go in (not a jumbo buffer); the others stay the data path's.
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (wasm.ts_slot_size_at(offs[i]) === 0) break;
      k++;
    }
    const got = pool.allocBatch(this.#fresh, k); // may grow the memory: offs is stale after
    this.refused += n - got;
    if (got === 0) return 0;
    wasm.ts_netstack_input(offsPtr, lensPtr, got, this.#nowMs());
    pool.refresh();
    const mem = pool.u8.buffer;
    new Uint32Array(mem, offsPtr, got).set(new Uint32Array(mem, this.#fresh, got));
    this.#armTimer();
    return got;
  }

  /** The stack's packets in place of the slots handed in (those go back to the pool). */
  readBatch(
    _pool: PoolMemory,
    offs: Uint32Array,
    lens: Uint32Array,
    n: number,
    from = 0,
  ): number {
    libc().read(this.#efd, this.#efdBuf, 8n); // reset the wakeup (EAGAIN when there was none)
    const pool = this.#pool, offsPtr = offs.byteOffset, lensPtr = lens.byteOffset;
    // Local sockets first (their data joins this output); they may grow the memory, so the
    // offsets above were taken before.
    this.reactor.dispatch();
    const cap = Math.min(n - from, MAX_BATCH);
    if (cap <= 0) return from;
    const k = this.#wasm.ts_netstack_output(this.#nowMs(), this.#outOffs, this.#outLens, cap);
    pool.refresh();
    if (k > 0) {
      pool.freeBatch(offsPtr + 4 * from, k);
      const mem = pool.u8.buffer;
      new Uint32Array(mem, offsPtr + 4 * from, k).set(new Uint32Array(mem, this.#outOffs, k));
      new Uint32Array(mem, lensPtr + 4 * from, k).set(new Uint32Array(mem, this.#outLens, k));
    }
    this.#armTimer();
    this.#onEvents?.();
    return from + k;
  }

  readOffloadBatch(
    _pool: PoolMemory,
    _offs: Uint32Array,
    _lens: Uint32Array,
    _tails: Uint32Array,
    _n: number,
    _cap: number,
    _hdrsOff: number,
    _tail: JumboArea,
  ): number {
    throw new Error("NetstackTun: no offloads");
  }

  writeUnits(): number {
    throw new Error("NetstackTun: no coalesced writes");
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.reactor.remove(this.#efd);
    this.reactor.close();
    libc().close(this.#efd);
    // What the loop did not collect (the stack's last RSTs) goes back to the pool.
    this.stack.close(this.#nowMs());
    for (
      let k;
      (k = this.#wasm.ts_netstack_output(this.#nowMs(), this.#outOffs, this.#outLens, MAX_BATCH)) >
        0;
    ) {
      this.#pool.refresh();
      this.#pool.freeBatch(this.#outOffs, k);
    }
  }

  #nowMs(): number {
    return Math.floor(this.#now()) >>> 0;
  }

  /** One timer for the stack's next deadline; only moved earlier (a late one re-arms itself). */
  #armTimer(): void {
    const ms = this.stack.nextTimer(this.#nowMs());
    if (ms < 0 || this.#closed) return;
    const at = this.#now() + ms;
    if (at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.kick();
    }, Math.max(0, ms));
  }
}
