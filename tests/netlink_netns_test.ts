// src/netlink/ against the kernel, inside a namespace this test creates and deletes: what the
// API adds is what `ip -j` shows, dumps read back the same objects, deletes remove exactly what
// was added, and src/host/auto_mtu.ts follows route and link MTUs. The FFI work runs in a child
// under `ip netns exec` (tests/fixtures/netlink_netns_child.ts).
import { deepStrictEqual, equal, match } from "node:assert/strict";
import { childJson, run, withNetns } from "./netns_child.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("netlink_netns_test: not root; netlink namespace tests IGNORED");
const CHILD = new URL("./fixtures/netlink_netns_child.ts", import.meta.url).pathname;

Deno.test({
  name:
    "netlink in a netns: links, addresses, routes, rules, lookups and auto MTU as ip shows them",
  ignore: !ROOT,
  async fn() {
    const r = await withNetns(
      "tunslab-nl",
      (ns) => run("ip", ["netns", "exec", ns, Deno.execPath(), "run", "-A", "--quiet", CHILD]),
    );
    const j = childJson(r);
    deepStrictEqual(j.link, { index: (j.link as { index: number }).index, name: "v0", up: true });
    equal(j.missing, null);
    deepStrictEqual(j.dumpNames, ["lo", "v0", "v1"]);
    equal(j.mtu, 1400);

    // A second IPv4 address carries the interface's own label, not "v0:1".
    deepStrictEqual(j.added, [true, true, true, false], "EEXIST is no error");
    deepStrictEqual(j.ipAddr, [
      { local: "10.7.0.1", prefixlen: 24, label: "v0" },
      { local: "10.8.0.1", prefixlen: 24, label: "v0" },
      { local: "fd07::1", prefixlen: 64, label: null },
    ]);
    deepStrictEqual(j.dumpAddr, [
      { address: "10.7.0.1/24", label: "v0" },
      { address: "10.8.0.1/24", label: "v0" },
      { address: "fd07::1/64", label: null },
    ]);

    deepStrictEqual(j.routeAdded, [true, true, true, false]);
    // requestMany: 3,000 routes in one stream, each ACKed on its own.
    deepStrictEqual([j.manyOk, j.manyExist, j.manyListed], [3000, 1, 3000]);
    deepStrictEqual((j.manyFailed as string[]).length, 1);
    match((j.manyFailed as string[])[0], /RTM_NEWROUTE 172\.21\.0\.0\/16.*ENODEV|No such device/);
    deepStrictEqual([j.delOk, j.delGone, j.delListed], [3000, 1, 0]);
    const ipr = j.ipRoutes as Record<string, Record<string, unknown>[]>;
    deepStrictEqual(ipr.t4.map((x) => [x.dst, x.dev, x.protocol, x.scope]), [
      ["default", "v0", "84", "link"],
    ]);
    deepStrictEqual(ipr.t6.map((x) => [x.dst, x.dev, x.protocol]), [["default", "v0", "84"]]);
    deepStrictEqual(ipr.main.map((x) => [x.dst, x.dev]), [["10.50.0.0/16", "v0"]]);
    deepStrictEqual(ipr.t1234.map((x) => [x.dst, x.protocol]), [["10.60.0.0/16", "84"]]);
    deepStrictEqual(j.dumpTagged, [
      "0.0.0.0/0 51820 true",
      "10.50.0.0/16 254 true",
      "10.60.0.0/16 1234 true",
      "::/0 51820 true",
    ]);

    deepStrictEqual(j.ruleAdded, [true, true, true]);
    equal(j.ruleAgain, false, "the same rule twice: EEXIST");
    deepStrictEqual(j.ipRules4, [
      { priority: 0, src: "all", table: "local" },
      { priority: 32764, src: "all", table: "main", suppress_prefixlen: 0, protocol: "84" },
      { priority: 32765, not: null, src: "all", fwmark: "0xca6c", table: "51820", protocol: "84" },
      { priority: 32766, src: "all", table: "main" },
      { priority: 32767, src: "all", table: "default" },
    ]);
    deepStrictEqual((j.ipRules6 as unknown[])[1], {
      priority: 32765,
      not: null,
      src: "all",
      fwmark: "0xca6c",
      table: "51820",
      protocol: "84",
    });
    deepStrictEqual((j.dumpRules4 as unknown[]).slice(1, 3), [
      { priority: 32764, invert: false, fwmark: null, table: 254, suppress: 0, protocol: 84 },
      { priority: 32765, invert: true, fwmark: 51820, table: 51820, suppress: null, protocol: 84 },
    ]);

    deepStrictEqual(j.lookup, [
      { table: 51820, oif: true },
      { table: 254, oif: true, mtu: 1300 },
    ]);
    deepStrictEqual(j.autoMtu, { routeMtu: 1220, linkMtu: 1320 }, "route MTU, else link MTU, - 80");

    deepStrictEqual(j.deleted, [
      true, // rules
      true,
      true,
      false, // gone already
      true, // 0.0.0.0/0 table 51820
      true, // ::/0
      false, // another protocol's 10.50.0.0/16: there is none, ours stays
      true,
      false,
      true, // 10.8.0.1/24
      false,
    ]);
    deepStrictEqual(j.afterRules, [
      [
        { priority: 0, src: "all", table: "local" },
        { priority: 32766, src: "all", table: "main" },
        { priority: 32767, src: "all", table: "default" },
      ],
      [{ priority: 0, src: "all", table: "local" }, { priority: 32766, src: "all", table: "main" }],
    ]);
    deepStrictEqual(j.afterTagged, ["10.60.0.0/16"]);
    equal(j.noRoute, 1420, "no route toward the endpoint, no default route: 1500 - 80");
    equal(j.viaDefault, 1320, "no endpoint: the default route's link (1400) - 80");
    const err = j.failure as { name: string; message: string };
    equal(err.name, "NetlinkError");
    match(
      err.message,
      /^RTM_NEWROUTE 10\.99\.0\.0\/16 dev #9999 table 254 proto 84 failed: ENODEV/,
    );
  },
});
