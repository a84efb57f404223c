import assert from "node:assert/strict";
import {
  cidrContains,
  cidrEqual,
  CidrError,
  formatCidr,
  formatIp,
  maskCidr,
  parseCidr,
  parseIp,
} from "../src/wg/cidr.ts";

Deno.test("parseIp accepts strict IPv4 and RFC 4291 IPv6", () => {
  assert.deepEqual(parseIp("10.0.0.1"), Uint8Array.of(10, 0, 0, 1));
  assert.deepEqual(parseIp("255.255.255.255"), new Uint8Array(4).fill(255));
  assert.deepEqual(parseIp("::"), new Uint8Array(16));
  assert.deepEqual(parseIp("::1"), Uint8Array.of(...new Array(15).fill(0), 1));
  assert.deepEqual(parseIp("fd00::1")!.slice(0, 2), Uint8Array.of(0xfd, 0));
  assert.deepEqual(parseIp("::ffff:1.2.3.4")!.slice(10), Uint8Array.of(0xff, 0xff, 1, 2, 3, 4));
  assert.deepEqual(parseIp("1:2:3:4:5:6:7:8"), parseIp("1:2:3:4:5:6:7:8"));
  assert.deepEqual(parseIp("1:2:3:4:5:6:7::"), parseIp("1:2:3:4:5:6:7:0"));
  assert.deepEqual(parseIp("FD00::ABCD"), parseIp("fd00::abcd"));
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.-4",
      " 1.2.3.4",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":1::",
      "1:2:3:4:5:6:7",
      "12345::",
      "::g",
      "1.2.3.4::",
      "::1.2.3.4:5",
      "fe80::1%eth0",
      "1:2:3:4:5:6:7:8::",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
});

Deno.test("formatIp follows RFC 5952 like Go's netip", () => {
  const cases = [
    "10.0.0.1",
    "::",
    "::1",
    "fd00::1",
    "2001:db8::",
    "2001:db8:0:1:1:1:1:1",
    "1:0:0:2::3",
    "::ffff:1.2.3.4",
    "fe80::1:2",
    "1:2:3:4:5:6:7:8",
  ];
  for (const c of cases) assert.equal(formatIp(parseIp(c)!), c);
  assert.equal(formatIp(parseIp("2001:0db8:0000:0000:0001:0000:0000:0001")!), "2001:db8::1:0:0:1");
  assert.equal(formatIp(parseIp("1:0:2:3:4:5:6:7")!), "1:0:2:3:4:5:6:7"); // single zero not compressed
});

Deno.test("parseCidr, formatCidr, maskCidr, cidrContains", () => {
  const a = parseCidr("10.1.2.3/16");
  assert.deepEqual(a, { family: 4, bytes: Uint8Array.of(10, 1, 2, 3), cidr: 16 });
  assert.equal(formatCidr(a), "10.1.2.3/16");
  const m = maskCidr(a);
  assert.equal(formatCidr(m), "10.1.0.0/16");
  assert.deepEqual(a.bytes, Uint8Array.of(10, 1, 2, 3), "maskCidr copies");
  assert.equal(parseCidr("10.0.0.1").cidr, 32);
  assert.equal(parseCidr("fd00::1").cidr, 128);
  assert.equal(formatCidr(maskCidr(parseCidr("fd00:1234:d678::9/33"))), "fd00:1234:8000::/33");
  assert.equal(formatCidr(maskCidr(parseCidr("255.255.255.255/0"))), "0.0.0.0/0");
  assert.equal(formatCidr(maskCidr(parseCidr("255.255.255.255/31"))), "255.255.255.254/31");
  assert.equal(cidrContains(m, parseIp("10.1.200.7")!), true);
  assert.equal(cidrContains(m, parseIp("10.2.0.0")!), false);
  assert.equal(cidrContains(parseCidr("0.0.0.0/0"), parseIp("8.8.8.8")!), true);
  assert.equal(cidrContains(parseCidr("::/0"), parseIp("8.8.8.8")!), false, "family mismatch");
  assert.equal(cidrContains(parseCidr("fd00::/8"), parseIp("fdff::1")!), true);
  assert.equal(cidrContains(parseCidr("fd00::/9"), parseIp("fdff::1")!), false);
  assert.equal(cidrEqual(parseCidr("10.0.0.0/8"), parseCidr("10.0.0.0/8")), true);
  assert.equal(cidrEqual(parseCidr("10.0.0.0/8"), parseCidr("10.0.0.0/9")), false);
  for (
    const bad of [
      "10.0.0.0/33",
      "fd00::/129",
      "10.0.0.0/",
      "10.0.0.0/08",
      "10.0.0.0/a",
      "x/8",
      "/8",
    ]
  ) {
    assert.throws(() => parseCidr(bad), CidrError, bad);
  }
  assert.throws(
    () => parseCidr("10.0.0.0/33"),
    /Invalid IP prefix "10.0.0.0\/33": prefix length 33 exceeds 32/,
  );
});
