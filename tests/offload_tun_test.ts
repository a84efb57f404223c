// TUN offloads against the kernel itself, in a network namespace this test creates and always
// deletes (the work runs in tests/fixtures/offload_tun_child.ts under `ip netns exec`, since a
// namespace belongs to a thread): USO and TSO super-packets read and cut in WASM, a coalesced TCP
// super-packet written and reassembled by the kernel, a refused GSO write recorded.
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { EINVAL } from "../src/ffi/errno.ts";
import { TUN_F_USO4, TUN_OFFLOADS } from "../src/tun_device.ts";
import { childJson, run, withNetns } from "./netns_child.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("offload_tun_test: not root; network-namespace TUN tests IGNORED");

const CHILD = new URL("./fixtures/offload_tun_child.ts", import.meta.url).pathname;

Deno.test({
  name:
    "TUN offloads in a netns: USO/TSO super-packets cut in WASM, a coalesced TCP write accepted",
  ignore: !ROOT,
  async fn() {
    const j = childJson(
      await withNetns(
        "tunslab-o",
        (ns) => run("ip", ["netns", "exec", ns, Deno.execPath(), "run", "-A", "--quiet", CHILD]),
      ),
    );
    const at = JSON.stringify(j);
    equal(j.vnetHdr, true);
    ok(((j.offloads as number) & TUN_OFFLOADS) === TUN_OFFLOADS, at);
    const uso = ((j.offloads as number) & TUN_F_USO4) !== 0;

    // UDP: a 4-datagram UDP_SEGMENT train, then a plain datagram with a partial checksum.
    equal(j.sockGso, true);
    deepStrictEqual([j.gsoSent, j.gsoMessages, j.plainSent], [4, 1, 77]);
    deepStrictEqual(
      j.udp as { len: number; first: number; allSame: boolean; checksumsOk: boolean }[],
      [1000, 1000, 1000, 300, 77].map((len, i) => ({
        len,
        first: 65 + Math.min(i, 3),
        allSame: true,
        checksumsOk: true,
      })),
      at,
    );
    if (uso) ok((j.usoHeaders as number[]).includes(5), `a GSO_UDP_L4 read: ${at}`);

    // TCP in: three segments, one super-packet write, the kernel reassembles them.
    equal(j.synAckFlags, 0x12);
    deepStrictEqual([j.units, j.unitsWritten, j.packetsWritten, j.gsoWrites], [1, 1, 3, 1], at);
    deepStrictEqual([j.serverGot, j.serverBytesMatch], [2500, true]);
    deepStrictEqual([j.refusedUnitsWritten, j.gsoWriteErrno], [0, EINVAL], "refused, not thrown");

    // TCP out: the kernel's reply as TSO super-packets, cut into valid MSS-sized segments.
    ok((j.tsoReads as number) >= 1, `TSO reads: ${at}`);
    ok((j.tsoHeaderTypes as number[]).includes(1), `a GSO_TCPV4 read: ${at}`);
    ok((j.tsoSegments as number) >= 9, at);
    deepStrictEqual(
      [j.tsoChecksumsOk, j.tsoSeqContiguous, j.tsoBytesMatch],
      [true, true, true],
      at,
    );
    ok((j.tsoMaxSegment as number) <= 1420, at);
    equal(j.inUse, 0, "every slot went back to the pool");
  },
});
