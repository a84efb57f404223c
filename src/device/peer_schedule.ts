/**
 * When each peer's timers next need a look: one min-heap of (deadline, peer id) for the whole
 * device instead of a scan of every peer each tick (10,000 peers with keepalives were a scan of
 * 10,000 every 10 ms). Entries are invalidated lazily: a peer's live entry is the one equal to
 * its `due` time; a later reschedule leaves the earlier entry, which then finds nothing due and
 * reschedules. Peers whose timers an event moved (a packet, a handshake) are marked with
 * {@link PeerSchedule.touch} and looked at on the next tick. No allocation per event.
 *
 * @example
 * ```ts
 * import { PeerSchedule } from "./peer_schedule.ts";
 * const s = new PeerSchedule();
 * s.schedule(3, 500);
 * s.schedule(1, 100);
 * console.log(s.earliest(), s.popDue(200), s.popDue(200)); // 100 1 -1
 * ```
 * @module
 */

/** A min-heap of peer deadlines and the set of peers touched since the last tick. */
export class PeerSchedule {
  /** Per peer id: the deadline of its live heap entry (Infinity: none). */
  #due = new Float64Array(64).fill(Infinity);
  #at = new Float64Array(64);
  #ids = new Int32Array(64);
  #size = 0;
  /** Peers with a finite due time (the heap holds these and stale entries). */
  #live = 0;
  #touched = new Uint8Array(64);
  #touchedIds = new Int32Array(64);
  #touchedCount = 0;
  #touchedRead = 0;

  /** Entries in the heap, live and stale (for tests). */
  get size(): number {
    return this.#size;
  }

  /** Peer `id`'s timers moved: {@link takeTouched} returns it once before the next tick ends. */
  touch(id: number): void {
    if (id >= this.#touched.length) this.#growPeers(id);
    if (this.#touched[id] !== 0) return;
    this.#touched[id] = 1;
    if (this.#touchedCount === this.#touchedIds.length) {
      if (this.#touchedRead > 0) {
        // The taken ones make room (a queue that is never empty at a take must not grow).
        this.#touchedIds.copyWithin(0, this.#touchedRead, this.#touchedCount);
        this.#touchedCount -= this.#touchedRead;
        this.#touchedRead = 0;
      } else {
        this.#touchedIds = grow(this.#touchedIds, 2 * this.#touchedIds.length);
      }
    }
    this.#touchedIds[this.#touchedCount++] = id;
  }

  /** Room in the touched queue (for tests: it stays bounded by the peers touched at once). */
  get touchedCapacity(): number {
    return this.#touchedIds.length;
  }

  /** Peers touched and not yet taken. */
  get touchedCount(): number {
    return this.#touchedCount - this.#touchedRead;
  }

  /** The peer touched longest ago and not yet taken, or -1 (first in, first out). */
  takeTouched(): number {
    if (this.#touchedRead === this.#touchedCount) return -1;
    const id = this.#touchedIds[this.#touchedRead++];
    if (this.#touchedRead === this.#touchedCount) this.#touchedRead = this.#touchedCount = 0;
    this.#touched[id] = 0;
    return id;
  }

  /** Peer `id` needs a look at `deadline` (ms; Infinity: never). Keeps the earlier of two. */
  schedule(id: number, deadline: number): void {
    if (id >= this.#due.length) this.#growPeers(id);
    const was = this.#due[id];
    if (!(deadline < was)) return;
    // Stale entries wait for their (later) time to be dropped: rebuild when they dominate.
    if (this.#size >= 2 * this.#live + 1024) this.#rebuild();
    if (was === Infinity) this.#live++;
    this.#due[id] = deadline;
    if (this.#size === this.#at.length) {
      this.#at = grow(this.#at, 2 * this.#at.length);
      this.#ids = grow(this.#ids, 2 * this.#ids.length);
    }
    // Sift up.
    let i = this.#size++;
    const at = this.#at, ids = this.#ids;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent] <= deadline) break;
      at[i] = at[parent];
      ids[i] = ids[parent];
      i = parent;
    }
    at[i] = deadline;
    ids[i] = id;
  }

  /** The earliest live deadline (Infinity if none); stale entries on top are dropped. */
  earliest(): number {
    while (this.#size > 0 && this.#at[0] !== this.#due[this.#ids[0]]) this.#popTop();
    return this.#size > 0 ? this.#at[0] : Infinity;
  }

  /** A peer whose deadline is ≤ `now` (its entry removed), or -1. */
  popDue(now: number): number {
    if (!(this.earliest() <= now)) return -1;
    const id = this.#ids[0];
    this.#due[id] = Infinity;
    this.#live--;
    this.#popTop();
    return id;
  }

  /** Forgets peer `id` (removed): its entries go stale. */
  forget(id: number): void {
    if (id < this.#due.length && this.#due[id] !== Infinity) {
      this.#due[id] = Infinity;
      this.#live--;
    }
  }

  /** The heap again from the live due times only. */
  #rebuild(): void {
    const due = this.#due;
    let n = 0;
    for (let id = 0; id < due.length; id++) {
      if (due[id] === Infinity) continue;
      this.#at[n] = due[id];
      this.#ids[n++] = id;
    }
    this.#size = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #popTop(): void {
    const n = --this.#size;
    this.#at[0] = this.#at[n];
    this.#ids[0] = this.#ids[n];
    this.#siftDown(0);
  }

  #siftDown(i: number): void {
    const at = this.#at, ids = this.#ids, n = this.#size;
    const d = at[i], id = ids[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const c = l + 1 < n && at[l + 1] < at[l] ? l + 1 : l;
      if (at[c] >= d) break;
      at[i] = at[c];
      ids[i] = ids[c];
      i = c;
    }
    at[i] = d;
    ids[i] = id;
  }

  #growPeers(id: number): void {
    const n = Math.max(2 * this.#due.length, id + 1);
    const due = new Float64Array(n).fill(Infinity);
    due.set(this.#due);
    this.#due = due;
    this.#touched = grow(this.#touched, n);
  }
}

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
