/**
 * Host names resolved through the tunnel, with the `[Interface]` `DNS` servers, as wireproxy does:
 * UDP queries from the module's stack (never the host's resolver), A first and AAAA if there is
 * none, answers cached by their TTL kept between 10 s and 1 h. Each server is asked twice (2 s
 * apart) before the next; NXDOMAIN ends the search. IP literals are returned as they are.
 *
 * @example
 * ```ts ignore
 * const dns = new TunnelDns(tunnel, ["10.0.0.1"]);
 * console.log(await dns.resolve("example.com")); // ["93.184.215.14"]
 * ```
 * @module
 */

import { formatIp, parseIp } from "../wg/cidr.ts";
import { E_AGAIN, HEADROOM } from "../wasm/abi.ts";
import type { SlabPool } from "../wasm/slab.ts";
import type { Netstack } from "./netstack.ts";

/** Cache bounds of an answer (s). */
export const MIN_TTL = 10, MAX_TTL = 3600;
const TIMEOUT_MS = 2000, TRIES = 2;
const A = 1, AAAA = 28;

/** No address for the name (NXDOMAIN, no records, or no server answered). */
export class DnsError extends Error {
  override name = "DnsError";
}

/** What the resolver needs of its tunnel. */
export interface DnsHost {
  readonly stack: Netstack;
  readonly pool: SlabPool;
  kick(): void;
  /** Events for UDP socket `h` go to `fn` until `off()` is called. */
  onUdp(h: number, fn: () => void): () => void;
}

/** A query for `name`, type `qtype`, id `id`, recursion desired. */
export function dnsQuery(name: string, qtype: number, id: number): Uint8Array {
  const labels = name.replace(/\.$/, "").split(".");
  if (labels.some((l) => l.length === 0 || l.length > 63) || name.length > 253) {
    throw new DnsError(`"${name}" is not a host name`);
  }
  const q = new Uint8Array(12 + labels.reduce((n, l) => n + 1 + l.length, 1) + 4);
  const dv = new DataView(q.buffer);
  dv.setUint16(0, id);
  dv.setUint16(2, 0x0100); // RD
  dv.setUint16(4, 1);
  let at = 12;
  for (const l of labels) {
    q[at++] = l.length;
    for (let i = 0; i < l.length; i++) q[at++] = l.charCodeAt(i) & 0x7f;
  }
  q[at++] = 0;
  dv.setUint16(at, qtype);
  dv.setUint16(at + 2, 1); // IN
  return q;
}

/** Skips a (possibly compressed) name at `at`; returns the offset after it. */
function skipName(m: Uint8Array, at: number): number {
  for (let hops = 0; at < m.length && hops < 128; hops++) {
    const len = m[at];
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2;
    at += 1 + len;
  }
  throw new DnsError("malformed name in the answer");
}

/**
 * The addresses of type `qtype` in an answer to query `id`, and the smallest TTL; null if it is
 * not that answer. NXDOMAIN: an empty list.
 */
export function parseDnsAnswer(
  m: Uint8Array,
  id: number,
  qtype: number,
): { addrs: string[]; ttl: number; nxdomain: boolean } | null {
  if (m.length < 12) return null;
  const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
  if (dv.getUint16(0) !== id || (dv.getUint16(2) & 0x8000) === 0) return null;
  const rcode = dv.getUint16(2) & 0xf;
  if (rcode === 3) return { addrs: [], ttl: MIN_TTL, nxdomain: true };
  const qd = dv.getUint16(4), an = dv.getUint16(6);
  let at = 12;
  for (let i = 0; i < qd; i++) at = skipName(m, at) + 4;
  const addrs: string[] = [];
  let ttl = MAX_TTL;
  for (let i = 0; i < an && at < m.length; i++) {
    at = skipName(m, at);
    if (at + 10 > m.length) break;
    const type = dv.getUint16(at), rttl = dv.getUint32(at + 4), len = dv.getUint16(at + 8);
    at += 10;
    if (at + len > m.length) break;
    if (type === qtype && len === (qtype === A ? 4 : 16)) {
      addrs.push(formatIp(m.slice(at, at + len)));
      ttl = Math.min(ttl, rttl);
    }
    at += len;
  }
  return { addrs, ttl: Math.max(MIN_TTL, Math.min(MAX_TTL, ttl)), nxdomain: false };
}

/** The resolver of one tunnel. */
export class TunnelDns {
  readonly #host: DnsHost;
  readonly #servers: readonly string[];
  readonly #cache = new Map<string, { addrs: string[]; until: number }>();

  constructor(host: DnsHost, servers: readonly string[]) {
    this.#host = host;
    this.#servers = servers.filter((s) => parseIp(s) !== null);
  }

  /** The addresses of `name` (IPv4 first; an IP literal as it is). */
  async resolve(name: string): Promise<string[]> {
    if (parseIp(name) !== null) return [name];
    if (this.#servers.length === 0) {
      throw new DnsError(
        `"${name}": no DNS server in [Interface] to resolve it through the tunnel (the host's resolver is never asked)`,
      );
    }
    const key = name.toLowerCase().replace(/\.$/, "");
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit.until > Date.now()) return hit.addrs;
    for (const qtype of [A, AAAA]) {
      const r = await this.#ask(key, qtype);
      if (r.nxdomain) throw new DnsError(`"${name}": no such host (NXDOMAIN)`);
      if (r.addrs.length > 0) {
        this.#cache.set(key, { addrs: r.addrs, until: Date.now() + r.ttl * 1000 });
        return r.addrs;
      }
    }
    throw new DnsError(`"${name}": no A or AAAA record`);
  }

  async #ask(
    name: string,
    qtype: number,
  ): Promise<{ addrs: string[]; ttl: number; nxdomain: boolean }> {
    const { stack, pool } = this.#host;
    for (const server of this.#servers) {
      const h = stack.udpBind(server.includes(":") ? "::" : "0.0.0.0", 0);
      try {
        for (let t = 0; t < TRIES; t++) {
          const id = crypto.getRandomValues(new Uint16Array(1))[0];
          const q = dnsQuery(name, qtype, id);
          let answer: ReturnType<typeof parseDnsAnswer> = null;
          let wake = () => {};
          const off = this.#host.onUdp(h, () => wake());
          try {
            const slot = pool.allocSlot();
            if (slot === 0) throw new DnsError("no slot for a DNS query (the pool is at its cap)");
            pool.u8.set(q, slot + HEADROOM + 64);
            const rc = stack.udpSend(h, slot, HEADROOM + 64, q.length, server, 53);
            if (rc !== 0) {
              pool.free(slot);
              if (rc === E_AGAIN) continue;
              throw new DnsError(`a DNS query to ${server} was refused (${rc})`);
            }
            this.#host.kick();
            const end = Date.now() + TIMEOUT_MS;
            while (answer === null && Date.now() < end) {
              const got = new Promise<void>((r) => wake = r);
              const timer = setTimeout(() => wake(), end - Date.now());
              stack.udpRecv(h, (payload, from) => {
                if (answer !== null || from.hostname !== server || from.port !== 53) return;
                try {
                  answer = parseDnsAnswer(payload, id, qtype);
                } catch { /* malformed: not the answer (the rest of the queue is still read) */ }
              });
              if (answer === null) await got;
              clearTimeout(timer);
            }
          } finally {
            off();
          }
          if (answer !== null) return answer;
        }
      } finally {
        stack.udpClose(h);
      }
    }
    throw new DnsError(`"${name}": no answer from ${this.#servers.join(", ")}`);
  }
}
