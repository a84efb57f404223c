// TUN + ioctl configuration end to end, inside network namespaces this test creates and always
// deletes. FFI calls run on the calling thread and a namespace belongs to a thread/process, so the
// work happens in a child `deno run` started under `ip netns exec` (tests/fixtures/*_child.ts),
// which prints one JSON line that the assertions below read. Traffic stays inside the namespace.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { EINVAL } from "../src/ffi/errno.ts";
import { NEEDS_CAP_NET_ADMIN, SyscallError } from "../src/ffi/syscall_error.ts";
import { TunDevice } from "../src/tun_device.ts";
import { childJson, run, withNetns } from "./netns_child.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("tun_netns_test: not root; network-namespace TUN tests IGNORED");

const CHILD = new URL("./fixtures/tun_netns_child.ts", import.meta.url).pathname;
const EPERM_CHILD = new URL("./fixtures/tun_eperm_child.ts", import.meta.url).pathname;

function hasTool(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

type Udp = {
  v: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: string;
  ipChecksumOk: boolean;
  udpChecksumOk: boolean;
  lenMatches: boolean;
};
type Msg = { msg: string; from: string; port: number };

Deno.test({
  name:
    "TUN in a netns: ioctl config, kernel→slots via readBatch, slots→kernel via write/writeBatch",
  ignore: !ROOT,
  async fn() {
    const r = await withNetns(
      "tunslab-t",
      (ns) => run("ip", ["netns", "exec", ns, Deno.execPath(), "run", "-A", "--quiet", CHILD]),
    );
    const j = childJson(r);
    const nonce = j.nonce as string;
    equal(j.ok, true);

    // device and configuration
    equal(j.name, "tsl0");
    equal(j.pickedName, "tslx0", "kernel expands %d");
    equal(j.secondOpen, "ioctl(TUNSETIFF) failed: EBUSY (Device or resource busy)");
    deepStrictEqual(
      [j.addV4, j.addV6, j.addV6Again, j.route4, j.route6, j.route4Again, j.route6Again],
      [true, true, false, true, true, false, false],
      "EEXIST on a second add is not an error",
    );
    equal(j.mtu, 1420);
    equal(j.up, true);
    const link = (j.addrs as {
      mtu: number;
      addr_info: { family: string; local: string; prefixlen: number }[];
    }[])[0];
    equal(link.mtu, 1420);
    const addrs = link.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
    ok(addrs.includes("10.77.0.1/24"), `addresses ${addrs}`);
    ok(addrs.includes("fd77::1/64"), `addresses ${addrs}`);
    const r4 = (j.routes4 as { dst: string }[]).map((x) => x.dst);
    ok(r4.includes("10.78.0.0/24") && r4.includes("10.77.0.0/24"), `IPv4 routes ${r4}`);
    const r6 = j.routes6 as { dst: string; metric: number }[];
    equal(r6.find((x) => x.dst === "fd78::/64")?.metric, 1, `IPv6 routes ${JSON.stringify(r6)}`);
    ok(r6.some((x) => x.dst === "fd77::/64"));

    // kernel → TUN → slots
    const from = (j.fromKernel as Udp[]).sort((a, b) => a.v - b.v);
    equal(from.length, 2, `read from TUN: ${JSON.stringify(j.fromKernel)}`);
    for (
      const [u, v, src, dst] of [
        [from[0], 4, "10.77.0.1", "10.78.0.5"],
        [from[1], 6, "fd77:0:0:0:0:0:0:1", "fd78:0:0:0:0:0:0:5"],
      ] as const
    ) {
      equal(u.v, v);
      equal(u.src, src);
      equal(u.dst, dst);
      equal(u.dport, 9999);
      equal(u.payload, `tunslab-v${v}-${nonce}`);
      ok(u.ipChecksumOk && u.udpChecksumOk && u.lenMatches, JSON.stringify(u));
    }

    // slots → TUN → kernel
    equal(j.writeBatch, 2);
    equal(j.writeSingle, j.writeSingleLen);
    equal(j.writeGarbage, -EINVAL, "a non-IP packet is refused, not thrown");
    equal(j.writeErrors, 1);
    const to4 = (j.toKernel4 as Msg[]).map((m) => `${m.from}:${m.port} ${m.msg}`).sort();
    deepStrictEqual(to4, [`10.78.0.5:9999 batch-v4-${nonce}`, `10.78.0.5:9999 single-v4-${nonce}`]);
    const to6 = (j.toKernel6 as Msg[]).map((m) => `${m.from}:${m.port} ${m.msg}`);
    deepStrictEqual(to6, [`fd78::5:9999 batch-v6-${nonce}`]);
    // 300 packets = two io_uring submissions (256 + 44); the refused one does not stop the rest.
    if (Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim() === "0") {
      equal(j.batchedWrites, true, "io_uring is allowed here: writes go through it");
    } else {
      console.warn("tun_netns_test: io_uring disabled here; writeBatch uses writev");
    }
    equal(j.bigWritten, 299);
    equal(j.bigErrors, 1);
    equal(j.bigDelivered, 299, `every written packet reached the UDP layer: ${j.bigDelivered}`);
    const got = j.bigReceived as number[];
    ok(got.length > 100, `received ${got.length}`);
    deepStrictEqual(got, [...got].sort((a, b) => a - b), "in order");
    ok(!got.includes(200));

    // removal
    deepStrictEqual(
      [j.del4, j.del4Again, j.del6, j.del6Again, j.delAddr6, j.delAddr6Again],
      [true, false, true, false, true, false],
    );
    const left = JSON.stringify(j.routesAfter);
    ok(!left.includes("10.78.0.0") && !left.includes("fd78::"), `routes left: ${left}`);
    deepStrictEqual(j.addrsAfter, []);
    equal(j.upAfter, false);

    // IFF_VNET_HDR device
    const vf = j.vnetFromKernel as Udp[];
    equal(vf.length, 1);
    equal(vf[0].payload, `vnet-v4-${nonce}`);
    equal(vf[0].dst, "10.80.0.5");
    ok(vf[0].ipChecksumOk && vf[0].udpChecksumOk && vf[0].lenMatches);
    equal(j.vnetWrite, 1);
    deepStrictEqual(
      (j.vnetToKernel as Msg[]).map((m) => `${m.from}:${m.port} ${m.msg}`),
      [`10.80.0.5:9999 vnet-back-${nonce}`],
    );

    equal(j.inUse, 0, "every slot went back to the pool");
  },
});

const DROP = hasTool("capsh") ? "capsh" : hasTool("setpriv") ? "setpriv" : undefined;
if (ROOT && !DROP) {
  console.warn("tun_netns_test: neither capsh nor setpriv; EPERM child test IGNORED");
}

Deno.test({
  name: "without CAP_NET_ADMIN, TUNSETIFF and SIOCSIFMTU fail with the CAP_NET_ADMIN hint",
  ignore: !ROOT || !DROP,
  async fn() {
    const deno = Deno.execPath();
    const r = await withNetns("tunslab-t", (ns) =>
      run(
        "ip",
        DROP === "capsh"
          ? [
            "netns",
            "exec",
            ns,
            "capsh",
            "--drop=cap_net_admin",
            "--",
            "-c",
            'exec "$0" run -A --quiet "$1"',
            deno,
            EPERM_CHILD,
          ]
          : [
            "netns",
            "exec",
            ns,
            "setpriv",
            "--bounding-set=-net_admin",
            deno,
            "run",
            "-A",
            "--quiet",
            EPERM_CHILD,
          ],
      ));
    const j = childJson(r);
    equal(j.netAdmin, false, "the child really lacks CAP_NET_ADMIN");
    deepStrictEqual(j.tun, {
      call: "ioctl(TUNSETIFF)",
      code: "EPERM",
      message: `ioctl(TUNSETIFF) failed: EPERM (Operation not permitted); ${NEEDS_CAP_NET_ADMIN}`,
    });
    deepStrictEqual(j.mtu, {
      call: "ioctl(SIOCSIFMTU, lo)",
      code: "EPERM",
      message:
        `ioctl(SIOCSIFMTU, lo) failed: EPERM (Operation not permitted); ${NEEDS_CAP_NET_ADMIN}`,
    });
    deepStrictEqual(j.udp, { ok: true }, "SO_RCVBUFFORCE refused → SO_RCVBUF fallback");
  },
});

function hasNetAdmin(): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
  return m !== null && (BigInt(`0x${m[1]}`) & (1n << 12n)) !== 0n;
}

Deno.test({
  name: "unprivileged TunDevice.open fails with the CAP_NET_ADMIN hint (in process)",
  ignore: ROOT || hasNetAdmin(),
  fn() {
    try {
      TunDevice.open("tsl-eperm").close();
      ok(false, "TunDevice.open succeeded without CAP_NET_ADMIN");
    } catch (e) {
      ok(e instanceof SyscallError, String(e));
      ok(e.message.endsWith(`; ${NEEDS_CAP_NET_ADMIN}`), e.message);
    }
  },
});
