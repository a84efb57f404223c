/**
 * DNS messages of the proxy's resolver (src/netstack/tunnel_dns.ts): the query's bytes, answers
 * with compressed names and a CNAME before the address, NXDOMAIN, another query's answer ignored,
 * TTLs kept within 10 s..1 h, and a hostile answer refused without a crash.
 */
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  DnsError,
  dnsQuery,
  MAX_TTL,
  MIN_TTL,
  parseDnsAnswer,
} from "../src/netstack/tunnel_dns.ts";

/** An answer to `q` with the given resource records (raw bytes after the question). */
function answer(q: Uint8Array, rcode: number, count: number, rrs: number[]): Uint8Array {
  const r = new Uint8Array(q.length + rrs.length);
  r.set(q);
  r[2] = 0x81;
  r[3] = 0x80 | rcode;
  r[7] = count;
  r.set(rrs, q.length);
  return r;
}

Deno.test("dns: the query is RFC 1035's: id, RD, one question, labels, type, class IN", () => {
  const q = dnsQuery("web.test", 1, 0x1234);
  deepStrictEqual([...q], [
    0x12,
    0x34,
    0x01,
    0x00,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    119,
    101,
    98,
    4,
    116,
    101,
    115,
    116,
    0,
    0,
    1,
    0,
    1,
  ]);
  throws(() => dnsQuery("bad..name", 1, 1), DnsError);
  throws(() => dnsQuery(`${"a".repeat(64)}.test`, 1, 1), DnsError);
});

Deno.test("dns: a CNAME then an A, names compressed; the smallest TTL, clamped", () => {
  const q = dnsQuery("www.test", 1, 7);
  const cname = [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xc0, 12];
  const a = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, 99, 0, 2]; // TTL 3600
  const a2 = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 3, 0, 4, 10, 99, 0, 3]; // TTL 3: clamped to 10
  const r = parseDnsAnswer(answer(q, 0, 3, [...cname, ...a, ...a2]), 7, 1)!;
  deepStrictEqual(r.addrs, ["10.99.0.2", "10.99.0.3"]);
  equal(r.ttl, MIN_TTL);
  equal(r.nxdomain, false);
  const long = [0xc0, 12, 0, 1, 0, 1, 0x7f, 0, 0, 0, 0, 4, 1, 2, 3, 4];
  equal(parseDnsAnswer(answer(q, 0, 1, long), 7, 1)!.ttl, MAX_TTL);
});

Deno.test("dns: AAAA, NXDOMAIN, another id, a truncated or looping answer", () => {
  const q = dnsQuery("v6.test", 28, 9);
  const aaaa = [0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0xfd, ...new Array(14).fill(0), 1];
  deepStrictEqual(parseDnsAnswer(answer(q, 0, 1, aaaa), 9, 28)!.addrs, ["fd00::1"]);
  equal(parseDnsAnswer(answer(q, 3, 0, []), 9, 28)!.nxdomain, true);
  equal(parseDnsAnswer(answer(q, 0, 1, aaaa), 10, 28), null, "another query's answer");
  equal(parseDnsAnswer(q, 9, 28), null, "a query, not an answer");
  const cut = answer(q, 0, 1, aaaa).subarray(0, q.length + 14);
  deepStrictEqual(parseDnsAnswer(cut, 9, 28)!.addrs, [], "a cut record is not read");
  // A name of labels that never ends: refused, not a loop.
  const loop = answer(q, 0, 1, new Array(200).fill(1));
  throws(() => parseDnsAnswer(loop, 9, 28), DnsError);
});
