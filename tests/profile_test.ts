/**
 * `deno task profile` (bench/profile.ts) end to end as root, 2 s of recording: both `perf script`
 * files are there with the JS and WebAssembly names from V8's maps, the sender's table names the
 * AEAD seal and the receiver's the open, each breakdown sums to 100 %, the event is named, and
 * nothing is left behind (namespaces, map files). The pure parts (demangling, perf script's
 * lines, frame classes) are checked without root.
 * @module
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { demangleRust } from "../bench/rust_demangle.ts";
import { parseHeader, summarizeScript } from "../bench/perf_samples.ts";
import { FrameNamer } from "../bench/profile_frames.ts";

const ROOT = Deno.uid() === 0;
if (!ROOT) console.warn("profile_test: not root; the recording is IGNORED");

const PROFILE = new URL("../bench/profile.ts", import.meta.url).pathname;

Deno.test("profile: legacy Rust symbols demangle, the rest comes back unchanged", () => {
  equal(
    demangleRust("_ZN7tunslab6crypto4aead13seal_in_place17hd4001ca6d52c5d7dE"),
    "tunslab::crypto::aead::seal_in_place",
  );
  equal(
    demangleRust(
      "_ZN4core3ptr56drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$$GT$17h0123456789abcdefE",
    ),
    "core::ptr::drop_in_place<std::rt::lang_start<()>>",
  );
  equal(demangleRust("_ZN3foo3bar17h0123456789abcdefE.llvm.42"), "foo::bar.llvm.42");
  equal(demangleRust("_ZN27$u7b$$u7b$closure$u7d$$u7d$E"), "{{closure}}");
  for (const s of ["ts_encrypt_batch", "_ZN3fooE3bar", "_ZN99shortE", "_ZN3foo", "memcpy"]) {
    equal(demangleRust(s), s);
  }
});

Deno.test("profile: perf script lines are summed per function, self and total", async () => {
  equal(parseHeader("deno 22910/22911 12851.315585:     250000 cpu-clock: ")?.period, 250000);
  equal(parseHeader("V8 DefaultWorke 1/2 1.5:  10 cycles:P: ")?.comm, "V8 DefaultWorke");
  equal(parseHeader("\t    7f40 sym (dso)"), undefined);
  const text = [
    "deno 10/10 1.000001:     250000 cpu-clock: ",
    "\t    18f685 JS:_ZN7tunslab4path9transport4seal17h505da05ae1a17d40E-93-turbofan+0x1 (/tmp/perf-10.map)",
    "\t    18f686 JS:ts_encrypt_batch-142-turbofan+0x57 (/tmp/perf-10.map)",
    "\t    7f4058 JS:*'#sealAndSend file:///repo/src/device/data_path.ts:365:19+0x8f (/tmp/perf-10.map)",
    "\t   3686383 [unknown] (/usr/local/bin/deno)",
    "",
    "deno 10/12 1.000251:     250000 cpu-clock: ",
    "\tffffffff81369742 _copy_from_iter+0x72 ([kernel.kallsyms])",
    "\t    18f686 JS:ts_encrypt_batch-142-turbofan+0x60 (/tmp/perf-10.map)",
    "",
    "tokio-runtime-w 10/13 1.000501:     250000 cpu-clock: ",
    "\t    16da18 __memmove_avx512_unaligned_erms+0x218 (/usr/lib/x86_64-linux-gnu/libc.so.6)",
    "\t    7f4059 JS:~ file:///repo/src/x.ts:1:1 (/tmp/perf-10.map)",
    "",
  ].join("\n");
  const path = Deno.makeTempFileSync({ suffix: ".perf.txt" });
  try {
    Deno.writeTextFileSync(path, text);
    const namer = new FrameNamer(
      new Set(["ts_encrypt_batch", "_ZN7tunslab4path9transport4seal17h505da05ae1a17d40E"]),
      "/repo/",
    );
    const s = await summarizeScript(path, namer);
    equal(s.samples, 3);
    deepStrictEqual(s.parts, { wasm: 250000, kernel: 250000, js: 0, deno: 0, other: 250000 });
    deepStrictEqual(s.threads, { deno: 500000, "tokio-runtime-w": 250000 });
    const by = Object.fromEntries(s.functions.map((f) => [f.name, f]));
    deepStrictEqual(by["tunslab::path::transport::seal"], {
      name: "tunslab::path::transport::seal",
      part: "wasm",
      self: 250000,
      total: 250000,
    });
    equal(by["ts_encrypt_batch"].total, 500000);
    equal(by["ts_encrypt_batch"].self, 0);
    equal(by["#sealAndSend src/device/data_path.ts:365"].part, "js");
    equal(by["(anonymous) src/x.ts:1"].part, "js");
    equal(by["[unknown] (deno)"].part, "deno");
    equal(by["_copy_from_iter"].part, "kernel");
    equal(s.mapFrames, 5);
  } finally {
    Deno.removeSync(path);
  }
});

interface SideSummary {
  side: string;
  role: string;
  pid: number;
  samples: number;
  mapFrames: number;
  breakdown: Record<string, number>;
  top: { name: string; part: string; self: number }[];
}

Deno.test({
  name: "profile: deno task profile --seconds 2 records both tunnels and names the AEAD",
  ignore: !ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = Deno.makeTempDirSync({ prefix: "tunslab-profile-" });
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", PROFILE, "--seconds", "2", "--out", out, "--json"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(150_000),
      }).spawn();
      const r = await child.output();
      const err = new TextDecoder().decode(r.stderr);
      equal(r.code, 0, err);
      const j = JSON.parse(new TextDecoder().decode(r.stdout));
      ok(/^(cpu-clock|cycles)/.test(j.event), `event ${j.event}`);
      const md = Deno.readTextFileSync(`${out}/top.md`);
      ok(md.includes(`Event: **${j.event}**`), "top.md names the event");
      ok(j.bitsPerSecond > 1e6, `iperf3 moved data during the recording: ${j.bitsPerSecond}`);
      const sides = j.sides as SideSummary[];
      deepStrictEqual(sides.map((s) => s.role), ["a (sender)", "b (receiver)"]);
      for (const s of sides) {
        const txt = Deno.readTextFileSync(`${out}/${s.side}.perf.txt`);
        ok(txt.length > 0 && s.samples > 100, `${s.side}: ${s.samples} samples`);
        // What the Firefox Profiler's importer looks for: a sample line with pid/tid first.
        ok(/^\S.*?\s+\d+\/\d+\s+[\d.]+:/.test(txt), `${s.side}: ${txt.slice(0, 80)}`);
        // The Firefox Profiler file carries the names V8's map gave JS and WebAssembly frames.
        ok(/ JS:_ZN7tunslab\S*-\d+-(turbofan|liftoff)/.test(txt), `${s.side}: wasm names`);
        ok(/ JS:\S*ts_(en|de)crypt_batch/.test(txt), `${s.side}: batch exports named`);
        ok(s.mapFrames > 0);
        const sum = Object.values(s.breakdown).reduce((x, y) => x + y, 0);
        ok(Math.abs(sum - 100) < 0.01, `${s.side}: breakdown sums to ${sum}`);
        ok(s.breakdown.wasm > 5, `${s.side}: WebAssembly ${s.breakdown.wasm} %`);
        ok(md.includes(`## ${s.role}: pid ${s.pid}`));
        let gone = false;
        try {
          Deno.statSync(`/tmp/perf-${s.pid}.map`);
        } catch {
          gone = true;
        }
        ok(gone, `/tmp/perf-${s.pid}.map removed`);
      }
      const names = (s: SideSummary) => s.top.filter((f) => f.part === "wasm").map((f) => f.name);
      const seal = names(sides[0]).filter((n) => /^tunslab::\S*(seal|aead)/.test(n));
      const open = names(sides[1]).filter((n) => /^tunslab::\S*(open|aead)/.test(n));
      ok(seal.length > 0, `sender's table names the seal: ${names(sides[0])}`);
      ok(open.length > 0, `receiver's table names the open: ${names(sides[1])}`);
      ok(md.includes(`\`${seal[0]}\``) && md.includes(`\`${open[0]}\``));
      const ns = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" })
        .output();
      const left = new TextDecoder().decode(ns.stdout).split("\n")
        .filter((l) => l.startsWith(`tsl-prof-${child.pid}-`));
      deepStrictEqual(left, [], "the testbed's namespaces are gone");
    } finally {
      Deno.removeSync(out, { recursive: true });
    }
  },
});
