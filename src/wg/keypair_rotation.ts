/**
 * Per-peer previous/current/next keypair bookkeeping (whitepaper: "Key
 * Rotation"; wireguard-go `BeginSymmetricSession` and
 * `ReceivedWithKeypair`). The keys themselves live in the WASM data plane in
 * numbered keypair slots; this object holds only metadata and tells the
 * caller which slot to install, which to clear (through the allocator's
 * `release`) and which one to send with (`current`).
 *
 * - Initiator: the new keypair becomes `current` at once. If a `next` was
 *   waiting it becomes `previous` and the old `current` is released; else the
 *   old `current` becomes `previous`. The old `previous` is released.
 * - Responder: the new keypair is stored as `next` (the old `next` and
 *   `previous` are released); sending continues on the old `current`. The
 *   first authenticated transport packet received on `next` promotes it
 *   ({@link KeypairRotation.received} returns true: handshake complete).
 *
 * @example
 * ```ts
 * import { KeypairRotation } from "./keypair_rotation.ts";
 * let nextSlot = 0;
 * const rot = new KeypairRotation({ allocate: () => nextSlot++, release: () => {} });
 * const up = rot.add({ isInitiator: false, localIndex: 7, remoteIndex: 9 });
 * console.log(rot.sendSlot()); // -1: a responder does not send on `next`
 * console.log(rot.received(up.install.slot), rot.sendSlot()); // true 0
 * ```
 *
 * @module
 */

/** Metadata of one keypair; the keys are in data-plane slot `slot`. */
export interface KeypairInfo {
  /** Data-plane keypair slot. */
  readonly slot: number;
  /** Our index: transport packets to us carry it as receiver_index. */
  readonly localIndex: number;
  /** The peer's index: we put it in packets we send. */
  readonly remoteIndex: number;
  /** Clock time (ms) the keypair was derived. */
  readonly created: number;
  /** True if we initiated the handshake (only the initiator rekeys on time). */
  readonly isInitiator: boolean;
}

/** Caller-provided keypair slot management. */
export interface KeypairSlotAllocator {
  /** A free data-plane keypair slot. */
  allocate(): number;
  /**
   * The keypair is dropped: clear its keys in the data plane
   * (`ts_keypair_clear`), forget its local index, free the slot.
   */
  release(keypair: KeypairInfo): void;
}

/** What {@link KeypairRotation.add} changed. */
export interface RotationUpdate {
  /** The new keypair: install its keys in `install.slot` (`ts_keypair_set`). */
  install: KeypairInfo;
  /** Keypairs released (already passed to the allocator's `release`). */
  released: KeypairInfo[];
  /** Slot to send with (`ts_peer_set_send_keypair`), -1 for none. */
  sendSlot: number;
}

/** Options of {@link KeypairRotation}. */
export interface KeypairRotationOptions {
  /** Monotonic clock in ms for `created`; default `performance.now()`. */
  now?: () => number;
}

/** The previous/current/next keypairs of one peer. */
export class KeypairRotation {
  /** Kept to decrypt packets still in flight on the old keypair. */
  previous: KeypairInfo | null = null;
  /** The keypair we send with. */
  current: KeypairInfo | null = null;
  /** Responder only: derived but unconfirmed; not sent with. */
  next: KeypairInfo | null = null;

  readonly #slots: KeypairSlotAllocator;
  readonly #now: () => number;

  constructor(slots: KeypairSlotAllocator, opts: KeypairRotationOptions = {}) {
    this.#slots = slots;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Rotates in a freshly derived keypair (see the module doc for the rules). */
  add(keys: { isInitiator: boolean; localIndex: number; remoteIndex: number }): RotationUpdate {
    const kp: KeypairInfo = {
      slot: this.#slots.allocate(),
      localIndex: keys.localIndex,
      remoteIndex: keys.remoteIndex,
      created: this.#now(),
      isInitiator: keys.isInitiator,
    };
    const released: KeypairInfo[] = [];
    const { previous, current, next } = this;
    if (kp.isInitiator) {
      if (next !== null) {
        this.next = null;
        this.previous = next;
        this.#release(current, released);
      } else {
        this.previous = current;
      }
      this.#release(previous, released);
      this.current = kp;
    } else {
      this.next = kp;
      this.#release(next, released);
      this.previous = null;
      this.#release(previous, released);
    }
    return { install: kp, released, sendSlot: this.sendSlot() };
  }

  /**
   * An authenticated transport packet arrived on keypair `slot`. If that is
   * `next`, promotes it (previous := current, current := next; the old
   * previous is released) and returns true: the handshake is complete and the
   * send keypair changed to {@link sendSlot}. Allocation-free when false.
   */
  received(slot: number): boolean {
    const next = this.next;
    if (next === null || next.slot !== slot) return false;
    const old = this.previous;
    this.previous = this.current;
    this.current = next;
    this.next = null;
    if (old !== null) this.#slots.release(old);
    return true;
  }

  /** Slot of `current` (the send keypair), or -1. */
  sendSlot(): number {
    return this.current === null ? -1 : this.current.slot;
  }

  /** The keypair holding `slot`, or null. */
  bySlot(slot: number): KeypairInfo | null {
    if (this.current?.slot === slot) return this.current;
    if (this.next?.slot === slot) return this.next;
    if (this.previous?.slot === slot) return this.previous;
    return null;
  }

  /** The keypair with local index `index`, or null. */
  byLocalIndex(index: number): KeypairInfo | null {
    if (this.current?.localIndex === index) return this.current;
    if (this.next?.localIndex === index) return this.next;
    if (this.previous?.localIndex === index) return this.previous;
    return null;
  }

  /** Releases all three keypairs (zeroKeyMaterial, peer removal); returns them. */
  clear(): KeypairInfo[] {
    const released: KeypairInfo[] = [];
    this.#release(this.previous, released);
    this.#release(this.current, released);
    this.#release(this.next, released);
    this.previous = this.current = this.next = null;
    return released;
  }

  #release(kp: KeypairInfo | null, into: KeypairInfo[]): void {
    if (kp === null) return;
    into.push(kp);
    this.#slots.release(kp);
  }
}
