// The full-tunnel plan as wg-quick's (pure functions, no root): Table parsing, where each route
// goes, the table choice, rule priorities, and the nftables script against wg-quick's text.
import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  chooseTable,
  fullTunnelFamilies,
  parseTableSetting,
  placeRoute,
  rulePriorities,
  TableSettingError,
} from "../src/host/routing_plan.ts";
import { nftDeleteScript, nftScript } from "../src/host/nft_table.ts";
import { journalPath } from "../src/host/routing_journal.ts";
import { parseCidr } from "../src/wg/cidr.ts";

Deno.test("Table: auto when unset, off, numbers, rt_tables names and the built-in ones", () => {
  deepStrictEqual(parseTableSetting(null), { kind: "auto" });
  deepStrictEqual(parseTableSetting("Auto"), { kind: "auto" });
  deepStrictEqual(parseTableSetting("off"), { kind: "off" });
  deepStrictEqual(parseTableSetting("1234"), { kind: "table", id: 1234 });
  deepStrictEqual(parseTableSetting("main"), { kind: "table", id: 254 });
  deepStrictEqual(parseTableSetting("vpn", "# comment\n100\tvpn\n"), { kind: "table", id: 100 });
  throws(() => parseTableSetting("0"), TableSettingError);
  throws(() => parseTableSetting("nosuch"), /Table = nosuch: neither off, auto/);
});

Deno.test("placement: /0 to the full tunnel's table, the rest to main; Table = N; off", () => {
  const auto = parseTableSetting(null);
  deepStrictEqual(placeRoute(auto, parseCidr("0.0.0.0/0"), 51820), {
    table: 51820,
    fullTunnel: true,
  });
  deepStrictEqual(placeRoute(auto, parseCidr("::/0"), 51820), { table: 51820, fullTunnel: true });
  deepStrictEqual(placeRoute(auto, parseCidr("10.0.0.0/8"), 51820), {
    table: 254,
    fullTunnel: false,
  });
  const n = parseTableSetting("1234");
  deepStrictEqual(placeRoute(n, parseCidr("0.0.0.0/0"), null), { table: 1234, fullTunnel: false });
  equal(placeRoute(parseTableSetting("off"), parseCidr("0.0.0.0/0"), null), null);
  deepStrictEqual([...fullTunnelFamilies([parseCidr("::/0"), parseCidr("10.0.0.0/8")])], [6]);
});

Deno.test("table choice: FwMark when set, else 51820 or the next one not taken", () => {
  equal(chooseTable(null, () => false), 51820);
  equal(chooseTable(0, (t) => t < 51823), 51823);
  equal(chooseTable(0x1234, () => true), 0x1234);
});

Deno.test("rule priorities: where the kernel would put them (32765/32764 by default)", () => {
  deepStrictEqual(rulePriorities([0, 32766, 32767]), { mark: 32765, suppress: 32764 });
  deepStrictEqual(rulePriorities([0, 32764, 32765, 32766, 32767]), {
    mark: 32763,
    suppress: 32762,
  });
  deepStrictEqual(rulePriorities([0, 100, 32766]), { mark: 99, suppress: 98 });
});

Deno.test("nftables script: wg-quick's add_default lines, our table name", () => {
  const addrs = [parseCidr("10.9.0.2/24"), parseCidr("fd09::2/64")];
  equal(
    nftScript(4, "wg0", 51820, addrs),
    [
      "add table ip tunslab-wg0",
      "add chain ip tunslab-wg0 preraw { type filter hook prerouting priority -300; }",
      "add chain ip tunslab-wg0 premangle { type filter hook prerouting priority -150; }",
      "add chain ip tunslab-wg0 postmangle { type filter hook postrouting priority -150; }",
      'add rule ip tunslab-wg0 preraw iifname != "wg0" ip daddr 10.9.0.2 fib saddr type != local drop',
      "add rule ip tunslab-wg0 postmangle meta l4proto udp mark 51820 ct mark set mark",
      "add rule ip tunslab-wg0 premangle meta l4proto udp meta mark set ct mark",
      "",
    ].join("\n"),
  );
  equal(
    nftScript(6, "wg0", 7, addrs).split("\n")[4],
    'add rule ip6 tunslab-wg0 preraw iifname != "wg0" ip6 daddr fd09::2 fib saddr type != local drop',
  );
  equal(
    nftDeleteScript(["ip tunslab-wg0", "ip6 tunslab-wg0"]),
    "delete table ip tunslab-wg0\ndelete table ip6 tunslab-wg0\n",
  );
  equal(journalPath("wg0", "net:[4026531840]", "/run/x"), "/run/x/wg0.4026531840.json");
});
