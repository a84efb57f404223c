import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  decodeEndpoint,
  encodeEndpoint,
  EndpointError,
  endpointToString,
  formatIp,
  parseCidr,
  parseEndpoint,
  parseIp,
} from "../src/endpoint.ts";
import { AF_INET } from "../src/ffi/libc.ts";

Deno.test("encodeEndpoint writes v4 as a v4-mapped sockaddr_in6 (byte literal)", () => {
  const u8 = new Uint8Array(40).fill(0xee);
  equal(encodeEndpoint(u8, 4, "1.2.3.4:51820"), 28);
  deepStrictEqual(
    [...u8.subarray(4, 32)],
    [
      10,
      0,
      0xca,
      0x6c, // AF_INET6 (LE), port 51820 (BE)
      0,
      0,
      0,
      0, // flowinfo
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0xff,
      0xff,
      1,
      2,
      3,
      4, // ::ffff:1.2.3.4
      0,
      0,
      0,
      0, // scope id
    ],
  );
  equal(u8[3], 0xee, "nothing written before off");
  equal(u8[32], 0xee, "nothing written after 28 bytes");
  equal(endpointToString(u8, 4), "1.2.3.4:51820");
});

Deno.test("encodeEndpoint: IPv6 with scope id, and sockaddr_in for AF_INET", () => {
  const u8 = new Uint8Array(32);
  equal(encodeEndpoint(u8, 0, "[fe80::1%3]:1"), 28);
  deepStrictEqual([...u8.subarray(0, 4)], [10, 0, 0, 1]);
  deepStrictEqual([...u8.subarray(8, 24)], [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  deepStrictEqual([...u8.subarray(24, 28)], [3, 0, 0, 0]);
  equal(endpointToString(u8, 0), "[fe80::1%3]:1");
  u8.fill(0xee);
  equal(encodeEndpoint(u8, 0, "10.0.0.2:65535", AF_INET), 16);
  deepStrictEqual([...u8.subarray(0, 16)], [2, 0, 0xff, 0xff, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
  equal(endpointToString(u8, 0), "10.0.0.2:65535");
  throws(() => encodeEndpoint(u8, 0, "[::1]:1", AF_INET), EndpointError);
});

Deno.test("endpoints format like wg: RFC 5952 IPv6, v4-mapped shown as IPv4", () => {
  const cases: [string, string][] = [
    ["[fd00::1]:51820", "[fd00::1]:51820"],
    ["[FD00:0:0:0:0:0:0:1]:1", "[fd00::1]:1"],
    ["[2001:db8:0:0:1:0:0:1]:2", "[2001:db8::1:0:0:1]:2"],
    ["[2001:db8:0:1:1:1:1:1]:3", "[2001:db8:0:1:1:1:1:1]:3"],
    ["[::]:0", "[::]:0"],
    ["[::ffff:192.0.2.7]:9", "192.0.2.7:9"],
    ["[1::]:4", "[1::]:4"],
    ["0.0.0.0:0", "0.0.0.0:0"],
  ];
  const u8 = new Uint8Array(28);
  for (const [input, want] of cases) {
    encodeEndpoint(u8, 0, input);
    equal(endpointToString(u8, 0), want, input);
    deepStrictEqual(decodeEndpoint(u8, 0), parseEndpoint(input), input);
  }
});

Deno.test("bad endpoints, addresses and prefixes are EndpointErrors", () => {
  for (
    const bad of [
      "1.2.3.4",
      "1.2.3.4:65536",
      "1.2.3:1",
      "01.2.3.4:1",
      "256.1.1.1:1",
      "fd00::1:1",
      "[fd00::1]",
      "[1.2.3.4]:1",
      "[fe80::1%eth0]:1",
      "[1:2:3:4:5:6:7:8:9]:1",
      "[1::2::3]:1",
      "[::g]:1",
    ]
  ) throws(() => parseEndpoint(bad), EndpointError, bad);
  throws(() => parseCidr("10.0.0.0/33"), EndpointError);
  throws(() => parseCidr("fd00::/129"), EndpointError);
  deepStrictEqual(parseCidr("fd78::/64"), { addr: parseIp("fd78::"), prefix: 64 });
  deepStrictEqual(parseCidr("10.1.2.3"), { addr: new Uint8Array([10, 1, 2, 3]), prefix: 32 });
  equal(formatIp(parseIp("1:0:0:2:0:0:0:3")), "1:0:0:2::3");
  equal(formatIp(parseIp("::1.2.3.4")), "::102:304");
});
