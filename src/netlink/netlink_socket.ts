/**
 * A `NETLINK_ROUTE` socket through FFI: requests carry their own sequence number and
 * `NLM_F_ACK`, replies are read up to the ACK (or `NLMSG_DONE` for a dump) and an error ACK
 * becomes a {@link NetlinkError} naming the request, the errno and the kernel's extended-ACK text
 * (`RTM_NEWROUTE 0.0.0.0/0 table 51820 failed: ENETDOWN (Network is down); kernel: Device for
 * nexthop is not up`). The socket belongs to the network namespace it was opened in.
 *
 * Calls are synchronous: rtnetlink answers a request while `send` runs and generates dump parts
 * while `recv` runs, so nothing waits on the network. A receive timeout (5 s) keeps a lost reply
 * from hanging the caller.
 *
 * @example
 * ```ts ignore
 * import { NetlinkSocket } from "./netlink_socket.ts";
 * import { MessageBuilder, RTM_GETLINK } from "./netlink_message.ts";
 * using nl = NetlinkSocket.open();
 * const links = nl.dump("RTM_GETLINK", new MessageBuilder(RTM_GETLINK, 0, 16));
 * console.log(links.length);
 * ```
 * @module
 */

import { EAGAIN, EINTR, EMSGSIZE } from "../ffi/errno.ts";
import { AF_NETLINK, checkSetup, errno, libc, SOCK_CLOEXEC, SOCK_RAW } from "../ffi/libc.ts";
import { capNetAdminHint, SyscallError } from "../ffi/syscall_error.ts";
import {
  attrString,
  type MessageBuilder,
  type NetlinkMessage,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSGERR_ATTR_MSG,
  parseAttributes,
  parseMessages,
} from "./netlink_message.ts";

const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_TRUNC = 0x20;
/** Receive buffer: dump parts are at most 32 KiB; the rest is headroom. */
const RECV_BYTES = 1 << 17;
/** Dumps interrupted by a concurrent change (NLM_F_DUMP_INTR) are retried this often. */
const DUMP_TRIES = 4;

/** A request the kernel answered with an error. */
export class NetlinkError extends SyscallError {
  override name = "NetlinkError";
  /** The kernel's extended-ACK message, if it gave one. */
  readonly detail: string | undefined;
  constructor(call: string, errno: number, detail?: string) {
    const hint = [detail && `kernel: ${detail}`, capNetAdminHint(errno)].filter(Boolean).join("; ");
    super(call, errno, hint || undefined);
    this.detail = detail;
  }
}

/** What a request got back: 0 or a tolerated errno, and the messages before the ACK. */
export interface NetlinkReply {
  /** 0, or the errno the caller asked to tolerate. */
  readonly errno: number;
  readonly messages: NetlinkMessage[];
}

/** One request of {@link NetlinkSocket.requestMany}. */
export interface BatchRequest {
  /** Names the request in its error. */
  call: string;
  msg: MessageBuilder;
  /** errnos that are answers, not failures (EEXIST for an add, ESRCH for a delete). */
  tolerate?: readonly number[];
}

/**
 * Bytes of requests per send in {@link NetlinkSocket.requestMany}: the kernel answers them all
 * during the send, one ACK skb each, and those must fit the receive buffer (~130 routes).
 */
const BATCH_BYTES = 8 << 10;

/** Options of {@link NetlinkSocket.request}. */
export interface RequestOptions {
  /** errno values returned in {@link NetlinkReply.errno} instead of thrown (EEXIST, ESRCH, ...). */
  readonly tolerate?: readonly number[];
}

/** An rtnetlink socket (`socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)`). */
export class NetlinkSocket implements Disposable {
  #fd: number;
  #seq: number;
  readonly #buf = new Uint8Array(new ArrayBuffer(RECV_BYTES));

  private constructor(fd: number) {
    this.#fd = fd;
    this.#seq = Math.floor(Math.random() * 0x7fffffff);
  }

  /** Opens a socket in the calling thread's network namespace. */
  static open(): NetlinkSocket {
    const L = libc();
    const fd = checkSetup(
      "socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)",
      L.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE),
    );
    try {
      const one = new Uint8Array(new Int32Array([1]).buffer);
      // Extended ACKs give the kernel's reason in words; CAP_ACK keeps errors short. Both are
      // optional (older kernels): a refusal only loses the text.
      L.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      L.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
      // Room for the ACKs of a batch (requestMany); SO_RCVBUFFORCE needs CAP_NET_ADMIN.
      const rcvbuf = new Uint8Array(new Int32Array([1 << 20]).buffer);
      L.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf, 4);
      const tv = new Uint8Array(new BigInt64Array([5n, 0n]).buffer); // struct timeval: 5 s
      checkSetup("setsockopt(SO_RCVTIMEO)", L.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
    } catch (e) {
      L.close(fd);
      throw e;
    }
    return new NetlinkSocket(fd);
  }

  /**
   * Sends `msg` (with NLM_F_REQUEST | NLM_F_ACK) and reads replies up to its ACK. `call` names
   * the request in errors, e.g. `"RTM_NEWRULE not fwmark 51820 lookup 51820"`.
   */
  request(call: string, msg: MessageBuilder, opts: RequestOptions = {}): NetlinkReply {
    const seq = this.#send(call, msg, NLM_F_REQUEST | NLM_F_ACK);
    const messages: NetlinkMessage[] = [];
    for (;;) {
      for (const m of this.#recv(call)) {
        if (m.seq !== seq) continue; // a late reply to an earlier request
        if (m.type === NLMSG_ERROR) {
          const code = -new DataView(m.body.buffer, m.body.byteOffset, 4).getInt32(0, true);
          if (code === 0) return { errno: 0, messages };
          if (opts.tolerate?.includes(code)) return { errno: code, messages };
          throw new NetlinkError(call, code, extAckMessage(m));
        }
        if (m.type === NLMSG_DONE) return { errno: 0, messages };
        if (m.type !== NLMSG_NOOP) messages.push(m);
      }
    }
  }

  /**
   * Many requests in one stream: packed into sends of up to {@link BATCH_BYTES} (not one round
   * trip each: thousands of routes for thousands of peers), each ACKed on its own. Returns per
   * request 0, a tolerated errno, or the {@link NetlinkError} it failed with; never throws for
   * one request's refusal.
   */
  requestMany(reqs: readonly BatchRequest[]): (number | NetlinkError)[] {
    const out: (number | NetlinkError)[] = new Array(reqs.length);
    for (let start = 0; start < reqs.length;) {
      const bySeq = new Map<number, number>();
      const parts: Uint8Array[] = [];
      let bytes = 0, i = start;
      for (; i < reqs.length && (i === start || bytes < BATCH_BYTES); i++) {
        const seq = this.#seq = (this.#seq + 1) >>> 0;
        const b = reqs[i].msg.finish(seq);
        new DataView(b.buffer).setUint16(6, reqs[i].msg.flags | NLM_F_REQUEST | NLM_F_ACK, true);
        bySeq.set(seq, i);
        parts.push(b);
        bytes += b.length;
      }
      const all = new Uint8Array(bytes);
      let at = 0;
      for (const b of parts) (all.set(b, at), at += b.length);
      for (;;) {
        const n = libc().send(this.#fd, all, BigInt(all.length), 0);
        if (n >= 0) break;
        const e = errno();
        if (e !== EINTR) throw new NetlinkError(`send(${reqs[start].call} and more)`, e);
      }
      while (bySeq.size > 0) {
        for (const m of this.#recv(reqs[start].call)) {
          const k = bySeq.get(m.seq);
          if (k === undefined || m.type !== NLMSG_ERROR) continue;
          bySeq.delete(m.seq);
          const code = -new DataView(m.body.buffer, m.body.byteOffset, 4).getInt32(0, true);
          out[k] = code === 0 || reqs[k].tolerate?.includes(code)
            ? code
            : new NetlinkError(reqs[k].call, code, extAckMessage(m));
        }
      }
      start = i;
    }
    return out;
  }

  /** A dump (NLM_F_DUMP): every message up to NLMSG_DONE; retried when the kernel says it was interrupted. */
  dump(call: string, msg: MessageBuilder): NetlinkMessage[] {
    for (let attempt = 1;; attempt++) {
      const seq = this.#send(call, msg, NLM_F_REQUEST | NLM_F_DUMP);
      const messages: NetlinkMessage[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.#recv(call)) {
          if (m.seq !== seq) continue;
          if ((m.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
          if (m.type === NLMSG_DONE) {
            done = true;
            break;
          }
          if (m.type === NLMSG_ERROR) {
            const code = -new DataView(m.body.buffer, m.body.byteOffset, 4).getInt32(0, true);
            if (code === 0) {
              done = true;
              break;
            }
            throw new NetlinkError(call, code, extAckMessage(m));
          }
          if (m.type !== NLMSG_NOOP) messages.push(m);
        }
      }
      if (!interrupted || attempt >= DUMP_TRIES) return messages;
    }
  }

  #send(call: string, msg: MessageBuilder, flags: number): number {
    const seq = this.#seq = (this.#seq + 1) >>> 0;
    const bytes = msg.finish(seq);
    new DataView(bytes.buffer).setUint16(6, msg.flags | flags, true);
    for (;;) {
      const n = libc().send(this.#fd, bytes, BigInt(bytes.length), 0);
      if (n >= 0) return seq;
      const e = errno();
      if (e !== EINTR) throw new NetlinkError(`send(${call})`, e);
    }
  }

  #recv(call: string): NetlinkMessage[] {
    for (;;) {
      const n = libc().recv(this.#fd, this.#buf, BigInt(RECV_BYTES), MSG_TRUNC);
      if (n < 0) {
        const e = errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) throw new NetlinkError(`recv(${call})`, e, "no reply within 5 s");
        throw new NetlinkError(`recv(${call})`, e);
      }
      if (n > RECV_BYTES) {
        throw new NetlinkError(`recv(${call})`, EMSGSIZE, `a ${n}-byte reply`);
      }
      // A copy: the buffer is reused by the next receive.
      return parseMessages(this.#buf.slice(0, n));
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#fd >= 0) {
      libc().close(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The NLMSGERR_ATTR_MSG text of an error ACK, if the kernel sent one. */
function extAckMessage(m: NetlinkMessage): string | undefined {
  if ((m.flags & NLM_F_ACK_TLVS) === 0) return undefined;
  // struct nlmsgerr { int error; struct nlmsghdr msg; } then, with NLM_F_CAPPED, the TLVs (the
  // request's payload is not echoed: NETLINK_CAP_ACK).
  const dv = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength);
  if (m.body.length < 4 + NLMSG_HDRLEN) return undefined;
  const capped = (m.flags & 0x100) !== 0;
  const from = capped ? 4 + NLMSG_HDRLEN : 4 + dv.getUint32(4, true);
  try {
    return attrString(parseAttributes(m.body, from), NLMSGERR_ATTR_MSG);
  } catch {
    return undefined;
  }
}
