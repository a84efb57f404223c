/**
 * tests/data_path_test.ts and the userspace tunnel's tests (the netstack device over memory I/O,
 * two tunnels over loopback UDP, the forwards' joins over slots, SOCKS5 UDP ASSOCIATE between
 * them) need no privilege: proven by running them as uid/gid 65534.
 *
 * As root, the test copies what that run needs into a fresh world-readable temp dir (the
 * checkout may sit under a 0700 directory such as /root, and root's module cache is not
 * readable by others): the Deno binary, the npm and remote parts of the module cache
 * (DENO_DIR), deno.json and deno.lock, src/, the module wasm/tunslab.wasm, the test and its
 * fixtures. It then runs `setpriv --reuid=65534 --regid=65534 --clear-groups -- deno test ...`
 * there with HOME and DENO_DIR inside the dir, offline (`--cached-only`), and asserts the run
 * passed and printed uid 65534; the dir is removed afterwards. Not as root the test is skipped
 * loudly: running data_path_test.ts directly then already is the unprivileged run.
 */
import { equal, match, ok } from "node:assert/strict";
import { copyForNobody, NOBODY, run } from "../src/demo/nobody_copy.ts";

const ROOT = Deno.uid() === 0;
const HAVE_SETPRIV = (() => {
  try {
    return new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
if (!ROOT) {
  console.warn(
    "unprivileged_test: not root; data_path_test.ts already runs unprivileged here: IGNORED",
  );
} else if (!HAVE_SETPRIV) console.warn("unprivileged_test: setpriv (util-linux) missing: IGNORED");

/** What the run reads: the module graph of tests/data_path_test.ts and the data plane. */
const FILES = [
  "main.ts",
  "deno.json",
  "deno.lock",
  "src",
  "wasm/tunslab.wasm",
  "tests/data_path_test.ts",
  "tests/netstack_device_test.ts",
  "tests/userspace_tunnel_test.ts",
  "tests/netstack_icmp_test.ts",
  "tests/slot_join_test.ts",
  "tests/socket_dirs_test.ts",
  "tests/socks5_udp_test.ts",
  "tests/fixtures/memory_io.ts",
  "tests/fixtures/inet_checksum.ts",
  "tests/fixtures/ip_packets.ts",
  "tests/fixtures/socks5_udp_client.ts",
];

Deno.test({
  name:
    "data path and userspace tunnel tests pass as uid 65534 from a copy in a world-readable dir",
  ignore: !ROOT || !HAVE_SETPRIV,
  sanitizeResources: false,
  async fn() {
    const { dir, deno, env } = await copyForNobody(FILES);
    try {
      const r = await run("setpriv", [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "--",
        deno,
        "test",
        "-A",
        "--cached-only",
        "--no-check=remote",
        "tests/data_path_test.ts",
        "tests/netstack_device_test.ts",
        "tests/userspace_tunnel_test.ts", // real UDP sockets, poll and eventfd: no privilege
        "tests/netstack_icmp_test.ts",
        "tests/slot_join_test.ts", // the forwards' local sockets through libc and epoll
        "tests/socket_dirs_test.ts", // the UAPI socket's private directory as an ordinary user
        "tests/socks5_udp_test.ts", // SOCKS5 UDP ASSOCIATE between two such tunnels
      ], { cwd: `${dir}/work`, clearEnv: true, env });
      const log = `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      equal(r.code, 0, `the unprivileged run failed:\n${log}`);
      match(r.stdout, /data_path_test: running as uid 65534\b/, `not run as uid 65534:\n${log}`);
      const summary = r.stdout.match(/^ok \| (\d+) passed(?: \(\d+ steps?\))? \| 0 failed/m);
      ok(summary !== null, `no passing summary:\n${log}`);
      ok(Number(summary[1]) >= 9, `only ${summary[1]} tests ran:\n${log}`);
      console.log(`unprivileged run: ${summary[0]}`);

      // `up` without privileges fails with one line naming what is missing.
      await Deno.writeTextFile(
        `${dir}/work/tunpriv0.conf`,
        "[Interface]\nPrivateKey = WAmgVYXkbT2bCtdcDwolI88/iVi/aV3/PHcUBTQSYmo=\n",
        { mode: 0o600 },
      );
      await run("chown", [`${NOBODY}:${NOBODY}`, `${dir}/work/tunpriv0.conf`]);
      const up = await run("setpriv", [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "--",
        deno,
        "run",
        "-A",
        "--cached-only",
        "main.ts",
        "up",
        "tunpriv0.conf",
        "--log-format",
        "json",
      ], {
        cwd: `${dir}/work`,
        clearEnv: true,
        env: { PATH: "/usr/bin:/bin", HOME: `${dir}/home`, DENO_DIR: `${dir}/deno_dir` },
      });
      equal(up.code, 1, up.stderr);
      const fatal = JSON.parse(up.stderr.trim().split("\n").at(-1)!);
      equal(fatal.level, "FATAL");
      match(fatal.message, /\/var\/run\/wireguard/);
      match(fatal.message, /uid 65534|run as root/);
      console.log(`unprivileged up: ${fatal.properties.error}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
