/**
 * A minimal io_uring for batching TUN writes: one `io_uring_enter` submits a whole batch of
 * `IORING_OP_WRITE`s (each one packet, from its slot) instead of one `writev` system call and
 * one FFI call per packet. Without offloads a TUN device takes exactly one packet per write, so
 * this is the only way to batch that side.
 *
 * The rings are mapped once and read and written through u32 views; submission queue entries
 * are rewritten field by field, so a batch allocates nothing. The kernel's `array` indirection is
 * the identity, set once. A write to TUN never waits, so every entry completes while
 * `io_uring_enter` runs; it is still asked to wait for all of them, as a slot is freed after.
 *
 * @example
 * ```ts ignore
 * const ring = IoUring.open(256); // undefined where io_uring is disabled
 * ring?.prepWrite(0, fd, address, len);
 * ring?.submit(1); // completions: ring.result(0)
 * ```
 * @module
 */

import { EAGAIN, EINTR } from "./ffi/errno.ts";
import { errno, libc, putAddress } from "./ffi/libc.ts";
import { SyscallError } from "./ffi/syscall_error.ts";

const SYS_IO_URING_SETUP = 425n; // x86_64 and the generic table (aarch64) alike
const SYS_IO_URING_ENTER = 426n;
const IORING_OFF_SQES = 0x10000000n;
const IORING_ENTER_GETEVENTS = 1;
const IORING_FEAT_SINGLE_MMAP = 1;
const IORING_OP_WRITE = 23;
const PROT_READ_WRITE = 3;
const MAP_SHARED_POPULATE = 0x8001;
const PARAMS_LEN = 120;
const SQE_WORDS = 16; // 64 bytes
const CQE_WORDS = 4; // 16 bytes

/** A submission/completion ring pair of `entries` slots. */
export class IoUring implements Disposable {
  readonly entries: number;
  #fd: number;
  readonly #maps: [Deno.PointerObject, number][];
  readonly #sqes: Uint32Array;
  readonly #sqTail: Uint32Array; // one-word views on the shared ring words
  readonly #cqHead: Uint32Array;
  readonly #cqTail: Uint32Array;
  readonly #cqes: Int32Array;
  readonly #cqMask: number;
  /** `res` of entry i of the last {@link submit} (−errno on failure). */
  readonly results: Int32Array;

  private constructor(fd: number, entries: number, params: DataView) {
    const L = libc();
    this.#fd = fd;
    this.entries = entries;
    this.results = new Int32Array(entries);
    const sqOff = (k: number) => params.getUint32(40 + 4 * k, true);
    const cqOff = (k: number) => params.getUint32(80 + 4 * k, true);
    const cqEntries = params.getUint32(4, true);
    const ringLen = Math.max(sqOff(6) + entries * 4, cqOff(5) + cqEntries * 16);
    const maps: [Deno.PointerObject, number][] = [];
    this.#maps = maps;
    const map = (len: number, off: bigint): ArrayBuffer => {
      const p = L.mmap(null, BigInt(len), PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, off);
      if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) {
        const e = errno();
        for (const [q, n] of maps) L.munmap(q, BigInt(n)); // the one mapped before, if any
        throw new SyscallError("mmap(io_uring)", e);
      }
      maps.push([p, len]);
      return Deno.UnsafePointerView.getArrayBuffer(p, len);
    };
    const ring = map(ringLen, 0n);
    const sqesLen = entries * SQE_WORDS * 4;
    this.#sqes = new Uint32Array(map(sqesLen, IORING_OFF_SQES));
    const word = (off: number) => new Uint32Array(ring, off, 1);
    this.#sqTail = word(sqOff(1));
    this.#cqHead = word(cqOff(0));
    this.#cqTail = word(cqOff(1));
    this.#cqMask = word(cqOff(2))[0];
    this.#cqes = new Int32Array(ring, cqOff(5), cqEntries * CQE_WORDS);
    const array = new Uint32Array(ring, sqOff(6), entries);
    for (let i = 0; i < entries; i++) array[i] = i;
  }

  /**
   * A ring of `entries` (a power of two) slots, or undefined where the kernel has no io_uring,
   * forbids it (ENOSYS, EPERM: `kernel.io_uring_disabled`, seccomp), predates one mapping for
   * both rings (5.4) or cannot map it.
   */
  static open(entries: number): IoUring | undefined {
    const params = new ArrayBuffer(PARAMS_LEN);
    const fd = libc().io_uring_setup(SYS_IO_URING_SETUP, entries, new Uint8Array(params));
    if (fd < 0) return undefined;
    const view = new DataView(params);
    try {
      if ((view.getUint32(20, true) & IORING_FEAT_SINGLE_MMAP) === 0) {
        libc().close(fd);
        return undefined;
      }
      return new IoUring(fd, entries, view);
    } catch (e) {
      libc().close(fd);
      if (e instanceof SyscallError) return undefined; // mmap refused
      throw e;
    }
  }

  /** Entry `i` of the next batch: write `len` bytes at process address `address` to `fd`. */
  prepWrite(i: number, fd: number, address: number, len: number): void {
    const q = ((this.#sqTail[0] + i) & (this.entries - 1)) * SQE_WORDS, s = this.#sqes;
    s[q] = IORING_OP_WRITE; // opcode, flags 0, ioprio 0
    s[q + 1] = fd;
    s[q + 2] = 0xffffffff; // off = -1: the file's position (none for a TUN device)
    s[q + 3] = 0xffffffff;
    putAddress(s, q + 4, address);
    s[q + 6] = len;
    s[q + 7] = 0; // rw_flags
    s[q + 8] = i; // user_data
    s[q + 9] = 0;
  }

  /**
   * Submits entries `[0, n)` of the batch and waits until all have completed; their results are
   * in {@link results}. Throws only if the ring itself fails.
   */
  submit(n: number): void {
    if (!(n > 0 && n <= this.entries)) {
      throw new RangeError(`IoUring.submit(${n}): 1..${this.entries}`);
    }
    this.#sqTail[0] = (this.#sqTail[0] + n) >>> 0;
    let done = 0;
    let toSubmit = n;
    while (done < n) {
      const r = libc().io_uring_enter(
        SYS_IO_URING_ENTER,
        this.#fd,
        toSubmit,
        n - done,
        IORING_ENTER_GETEVENTS,
        null,
      );
      if (r < 0) {
        const e = errno();
        if (e !== EINTR && e !== EAGAIN) {
          throw new SyscallError("io_uring_enter", e);
        }
      } else {
        toSubmit -= Math.min(r, toSubmit);
      }
      done += this.#reap();
    }
  }

  #reap(): number {
    let head = this.#cqHead[0];
    const tail = this.#cqTail[0], c = this.#cqes, mask = this.#cqMask;
    let n = 0;
    for (; head !== tail; head = (head + 1) >>> 0, n++) {
      const q = (head & mask) * CQE_WORDS;
      this.results[c[q]] = c[q + 2]; // user_data (low word) → res
    }
    this.#cqHead[0] = head;
    return n;
  }

  /** Unmaps the rings and closes the fd. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    for (const [p, len] of this.#maps) libc().munmap(p, BigInt(len));
    this.#maps.length = 0;
    libc().close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
