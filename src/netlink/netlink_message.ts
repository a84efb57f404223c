/**
 * Netlink messages as bytes (netlink(7), `linux/netlink.h`, `linux/rtnetlink.h`): a
 * {@link MessageBuilder} writes `struct nlmsghdr`, the fixed header of the message family
 * (`rtmsg`, `fib_rule_hdr`, `ifaddrmsg`, `ifinfomsg`) and `struct rtattr`/`nlattr` attributes
 * padded to 4 bytes; {@link parseMessages} and {@link parseAttributes} read them back. Pure
 * byte work (no FFI): the socket is src/netlink/netlink_socket.ts.
 *
 * @example
 * ```ts
 * import {
 *   attrU32,
 *   MessageBuilder,
 *   NLM_F_REQUEST,
 *   parseAttributes,
 *   parseMessages,
 *   RTM_GETRULE,
 * } from "./netlink_message.ts";
 * const FRA_PRIORITY = 6;
 * const m = new MessageBuilder(RTM_GETRULE, NLM_F_REQUEST, 12);
 * m.header[0] = 2; // AF_INET
 * m.u32(FRA_PRIORITY, 100);
 * const [msg] = parseMessages(m.finish(1));
 * console.log(msg.type, attrU32(parseAttributes(msg.body, 12), FRA_PRIORITY)); // 34 100
 * ```
 * @module
 */

/** `sizeof(struct nlmsghdr)`. */
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
/** GET requests. */
export const NLM_F_DUMP = 0x300;
/** NEW requests. */
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** ACK flags: the request was not echoed back; extended-ACK attributes follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** `enum nlmsgerr_attrs`. */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

/** Attribute type bits that are flags, not the type. */
const NLA_TYPE_MASK = 0x3fff;
/** `NLA_F_NESTED`, set by some writers on nested attributes. */
export const NLA_F_NESTED = 0x8000;

/** rtnetlink message types. */
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWRULE = 32;
export const RTM_DELRULE = 33;
export const RTM_GETRULE = 34;

const NAMES: Record<number, string> = {
  [RTM_NEWLINK]: "RTM_NEWLINK",
  [RTM_DELLINK]: "RTM_DELLINK",
  [RTM_GETLINK]: "RTM_GETLINK",
  [RTM_NEWADDR]: "RTM_NEWADDR",
  [RTM_DELADDR]: "RTM_DELADDR",
  [RTM_GETADDR]: "RTM_GETADDR",
  [RTM_NEWROUTE]: "RTM_NEWROUTE",
  [RTM_DELROUTE]: "RTM_DELROUTE",
  [RTM_GETROUTE]: "RTM_GETROUTE",
  [RTM_NEWRULE]: "RTM_NEWRULE",
  [RTM_DELRULE]: "RTM_DELRULE",
  [RTM_GETRULE]: "RTM_GETRULE",
};

/** `RTM_NEWROUTE` for 24; `type N` for others. */
export function messageTypeName(type: number): string {
  return NAMES[type] ?? `type ${type}`;
}

/** One message read back: header fields and the bytes after the header. */
export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** The payload: the family's fixed header, then attributes. */
  readonly body: Uint8Array;
}

/** Attributes by type (the last one wins when a type repeats). */
export type Attributes = Map<number, Uint8Array>;

const align4 = (n: number): number => (n + 3) & ~3;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Builds one request: `nlmsghdr`, a zeroed fixed header of `headerSize` bytes (`header` and
 * `view` write it), then attributes in call order, each padded to 4 bytes as the kernel and
 * iproute2 lay them out.
 */
export class MessageBuilder {
  readonly type: number;
  readonly flags: number;
  /** The fixed header (family struct), zeroed. */
  readonly header: Uint8Array;
  /** A DataView over {@link header}. */
  readonly view: DataView;
  #attrs: Uint8Array[] = [];
  #size = 0;
  /** Open nested attributes: index into #attrs of their header, size before. */
  #nest: { at: number; size: number }[] = [];

  constructor(type: number, flags: number, headerSize: number) {
    this.type = type;
    this.flags = flags;
    this.header = new Uint8Array(headerSize);
    this.view = new DataView(this.header.buffer);
  }

  /** Appends attribute `type` with `data` (padded). */
  bytes(type: number, data: Uint8Array): this {
    const len = 4 + data.length;
    const a = new Uint8Array(align4(len));
    const dv = new DataView(a.buffer);
    dv.setUint16(0, len, true);
    dv.setUint16(2, type, true);
    a.set(data, 4);
    this.#attrs.push(a);
    this.#size += a.length;
    return this;
  }

  u8(type: number, v: number): this {
    return this.bytes(type, new Uint8Array([v]));
  }

  u16(type: number, v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    return this.bytes(type, b);
  }

  u32(type: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.bytes(type, b);
  }

  /** A NUL-terminated string (IFLA_IFNAME, IFA_LABEL). */
  string(type: number, s: string): this {
    const b = enc.encode(s);
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return this.bytes(type, out);
  }

  /** Opens a nested attribute; attributes until {@link endNested} go inside it. */
  beginNested(type: number): this {
    const a = new Uint8Array(4);
    new DataView(a.buffer).setUint16(2, type, true);
    this.#nest.push({ at: this.#attrs.length, size: this.#size });
    this.#attrs.push(a);
    this.#size += 4;
    return this;
  }

  endNested(): this {
    const n = this.#nest.pop();
    if (n === undefined) throw new Error("endNested() without beginNested()");
    new DataView(this.#attrs[n.at].buffer).setUint16(0, this.#size - n.size, true);
    return this;
  }

  /** The message with sequence number `seq` (and port id `pid`, 0 = the kernel assigns). */
  finish(seq: number, pid = 0): Uint8Array<ArrayBuffer> {
    if (this.#nest.length > 0) throw new Error("finish() with an open nested attribute");
    const len = NLMSG_HDRLEN + align4(this.header.length) + this.#size;
    const out = new Uint8Array(new ArrayBuffer(len));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, len, true);
    dv.setUint16(4, this.type, true);
    dv.setUint16(6, this.flags, true);
    dv.setUint32(8, seq >>> 0, true);
    dv.setUint32(12, pid >>> 0, true);
    out.set(this.header, NLMSG_HDRLEN);
    let at = NLMSG_HDRLEN + align4(this.header.length);
    for (const a of this.#attrs) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  }
}

/** Thrown on bytes that are not well-formed netlink. */
export class NetlinkFormatError extends Error {
  override name = "NetlinkFormatError";
}

/** Splits a datagram into its messages (each `nlmsg_len` long, aligned to 4). */
export function parseMessages(buf: Uint8Array): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  while (at + NLMSG_HDRLEN <= buf.length) {
    const len = dv.getUint32(at, true);
    if (len < NLMSG_HDRLEN || at + len > buf.length) {
      throw new NetlinkFormatError(`netlink message at ${at}: length ${len} of ${buf.length}`);
    }
    out.push({
      type: dv.getUint16(at + 4, true),
      flags: dv.getUint16(at + 6, true),
      seq: dv.getUint32(at + 8, true),
      pid: dv.getUint32(at + 12, true),
      body: buf.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/** Attributes of `body` from byte `from` on (after the fixed header); flag bits stripped from types. */
export function parseAttributes(body: Uint8Array, from: number): Attributes {
  const out: Attributes = new Map();
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = align4(from);
  while (at + 4 <= body.length) {
    const len = dv.getUint16(at, true);
    if (len < 4 || at + len > body.length) {
      throw new NetlinkFormatError(`attribute at ${at}: length ${len} of ${body.length}`);
    }
    out.set(dv.getUint16(at + 2, true) & NLA_TYPE_MASK, body.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** A u8 attribute, or undefined. */
export function attrU8(a: Attributes, type: number): number | undefined {
  const v = a.get(type);
  return v === undefined || v.length < 1 ? undefined : v[0];
}

/** A u32 attribute (host order), or undefined. */
export function attrU32(a: Attributes, type: number): number | undefined {
  const v = a.get(type);
  if (v === undefined || v.length < 4) return undefined;
  return new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
}

/** A NUL-terminated string attribute, or undefined. */
export function attrString(a: Attributes, type: number): string | undefined {
  const v = a.get(type);
  if (v === undefined) return undefined;
  const nul = v.indexOf(0);
  return dec.decode(nul < 0 ? v : v.subarray(0, nul));
}

/** A copy of a binary attribute (an address), or undefined. */
export function attrBytes(a: Attributes, type: number): Uint8Array | undefined {
  const v = a.get(type);
  return v === undefined ? undefined : v.slice();
}
