/**
 * Byte helpers shared by the fuzz targets: a growable writer and a reader for
 * the targets' input encodings, base64, and the Internet checksum.
 * @module
 */

/** Appends little-endian fields to a growing buffer. */
export class Writer {
  #buf = new Uint8Array(256);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.#buf.subarray(0, this.#len));
    this.#buf = b;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#buf[this.#len++] = v;
    this.#buf[this.#len++] = v >>> 8;
    return this;
  }

  u32(v: number): this {
    this.u16(v & 0xffff);
    return this.u16(v >>> 16);
  }

  u64(v: bigint): this {
    this.u32(Number(v & 0xffffffffn));
    return this.u32(Number((v >> 32n) & 0xffffffffn));
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  /** u32 length, then the bytes. */
  blob(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }

  done(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Reads what {@link Writer} wrote; reading past the end yields zeros (inputs may be shrunk). */
export class Reader {
  #at = 0;
  constructor(readonly buf: Uint8Array) {}

  get left(): number {
    return this.buf.length - this.#at;
  }

  u8(): number {
    return this.#at < this.buf.length ? this.buf[this.#at++] : (this.#at++, 0);
  }

  u16(): number {
    return this.u8() | (this.u8() << 8);
  }

  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }

  u64(): bigint {
    const lo = BigInt(this.u32());
    return lo | (BigInt(this.u32()) << 32n);
  }

  bytes(n: number): Uint8Array {
    const start = Math.min(this.#at, this.buf.length);
    const b = this.buf.slice(start, Math.min(start + n, this.buf.length));
    this.#at += n;
    return b;
  }

  blob(): Uint8Array {
    return this.bytes(this.u32());
  }
}

/** One's-complement sum of big-endian 16-bit words (odd last byte padded), unfolded. */
export function sum16(b: Uint8Array, acc = 0, from = 0, to = b.length): number {
  let i = from;
  for (; i + 1 < to; i += 2) {
    acc += (b[i] << 8) | b[i + 1];
    if (acc > 0x7fffffff) acc = (acc & 0xffff) + (acc >>> 16);
  }
  if (i < to) acc += b[i] << 8;
  return acc;
}

/** Folds carries of {@link sum16} into 16 bits. */
export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** Sum of the TCP/UDP pseudo-header (src and dst from the IP header, protocol, L4 length). */
export function pseudoSum(pkt: Uint8Array, v6: boolean, proto: number, l4Len: number): number {
  const acc = v6 ? sum16(pkt, 0, 8, 40) : sum16(pkt, 0, 12, 20);
  return acc + proto + (l4Len >>> 16) + (l4Len & 0xffff);
}

/** True if the IPv4 header checksum verifies. */
export function ipv4HeaderOk(pkt: Uint8Array, ihl: number): boolean {
  return fold(sum16(pkt, 0, 0, ihl)) === 0xffff;
}

/** True if the L4 checksum (field included) of `pkt[l4..end]` verifies against the pseudo-header. */
export function l4ChecksumOk(
  pkt: Uint8Array,
  v6: boolean,
  proto: number,
  l4: number,
  end = pkt.length,
): boolean {
  return fold(sum16(pkt, pseudoSum(pkt, v6, proto, end - l4), l4, end)) === 0xffff;
}

/** Writes the IPv4 header checksum of `pkt[0..ihl]`. */
export function setIpv4Checksum(pkt: Uint8Array, ihl: number): void {
  pkt[10] = 0;
  pkt[11] = 0;
  const c = ~fold(sum16(pkt, 0, 0, ihl)) & 0xffff;
  pkt[10] = c >> 8;
  pkt[11] = c & 0xff;
}

/** Writes the TCP/UDP checksum at `l4 + at` (0 sent as ffff, as ABI.md says). */
export function setL4Checksum(
  pkt: Uint8Array,
  v6: boolean,
  proto: number,
  l4: number,
  at: number,
  end = pkt.length,
): void {
  pkt[l4 + at] = 0;
  pkt[l4 + at + 1] = 0;
  let c = ~fold(sum16(pkt, pseudoSum(pkt, v6, proto, end - l4), l4, end)) & 0xffff;
  if (c === 0) c = 0xffff;
  pkt[l4 + at] = c >> 8;
  pkt[l4 + at + 1] = c & 0xff;
}

export function be16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

export function be32(b: Uint8Array, at: number): number {
  return ((be16(b, at) << 16) | be16(b, at + 2)) >>> 0;
}

export function setBe16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function setBe32(b: Uint8Array, at: number, v: number): void {
  setBe16(b, at, (v >>> 16) & 0xffff);
  setBe16(b, at + 2, v & 0xffff);
}

export function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const b = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
  return b;
}

export function hex(b: Uint8Array, max = 64): string {
  const s = [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, "0")).join("");
  return b.length > max ? `${s}…(${b.length} B)` : s;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An input made of a head blob and record blobs (the shape every target uses, so it can shrink). */
export function joinBlobs(head: Uint8Array, records: Uint8Array[]): Uint8Array {
  const w = new Writer().blob(head);
  for (const r of records) w.blob(r);
  return w.done();
}

/** Inverse of {@link joinBlobs}; a truncated tail is dropped. */
export function splitBlobs(input: Uint8Array): { head: Uint8Array; records: Uint8Array[] } {
  const r = new Reader(input);
  const head = r.blob();
  const records: Uint8Array[] = [];
  while (r.left >= 4) {
    const n = r.u32();
    if (n > r.left) break;
    records.push(r.bytes(n));
  }
  return { head, records };
}
