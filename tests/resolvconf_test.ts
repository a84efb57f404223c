/**
 * DNS through the real Debian resolvconf (1.91), unpacked from its .deb (tests/install_deps.sh
 * fetches it) and run inside a private mount namespace with its own /etc, /usr/lib, /usr/sbin
 * (overlays) and /run (a tmpfs), so the host's resolver configuration is never touched. `up`
 * runs in there with `DNS = …`: resolvconf's record for the interface (named with the prefix
 * wg-quick derives from interface-order: `tun.`) holds the servers and the search domain, the
 * generated resolv.conf lists them, and after SIGTERM both are gone.
 * @module
 */
import { equal, match, ok } from "node:assert/strict";
import { encodeBase64Key, generatePrivateKey } from "../src/wg/keys.ts";

const ROOT = Deno.uid() === 0;
const DEB = "/var/cache/tunslab/resolvconf.deb";
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const HAVE_DEB = (() => {
  try {
    return Deno.statSync(DEB).size > 0;
  } catch {
    return false;
  }
})();
if (!ROOT) console.warn("resolvconf_test: not root; IGNORED");
else if (!HAVE_DEB) {
  console.warn(`resolvconf_test: ${DEB} missing (bash tests/install_deps.sh); IGNORED`);
}

/** The private mount namespace's set-up, then `"$@"` (the checks) inside it. */
const SETUP = `set -e
W=$(mktemp -d)
mount -t tmpfs tmpfs "$W"
mkdir -p "$W"/etc/up "$W"/etc/work "$W"/lib/up "$W"/lib/work "$W"/sbin/up "$W"/sbin/work
mount -t overlay overlay -o lowerdir=/etc,upperdir="$W"/etc/up,workdir="$W"/etc/work /etc
mount -t overlay overlay -o lowerdir=/usr/lib,upperdir="$W"/lib/up,workdir="$W"/lib/work /usr/lib
mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir="$W"/sbin/up,workdir="$W"/sbin/work /usr/sbin
mount -t tmpfs tmpfs /run
cp -a "$DEB_ROOT"/etc/resolvconf /etc/
cp -a "$DEB_ROOT"/lib/resolvconf /usr/lib/
cp "$DEB_ROOT"/sbin/resolvconf /usr/sbin/
mkdir -p /run/resolvconf/interface /run/netns
touch /run/resolvconf/enable-updates
ip netns add "$NS"
"$@"
`;

/** What runs in the namespace: up, read resolvconf's state while up and after down. */
const CHECK = `set -e
conf="$1"
"$DENO" run -A "$MAIN" up "$conf" --log-format json 2>"$LOG" &
pid=$!
for i in $(seq 200); do grep -q "is ready" "$LOG" 2>/dev/null && break; sleep 0.05; done
echo "=== records"; ls /run/resolvconf/interface
echo "=== record"; cat /run/resolvconf/interface/tun.tsrc0
echo "=== resolv.conf"; cat /run/resolvconf/resolv.conf
kill -TERM $pid; wait $pid; echo "=== exit $?"
echo "=== records after"; ls /run/resolvconf/interface
echo "=== resolv.conf after"; cat /run/resolvconf/resolv.conf
`;

Deno.test({
  name: "DNS through the real Debian resolvconf in a private mount namespace",
  ignore: !ROOT || !HAVE_DEB,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "tsl-resolvconf-" });
    try {
      const x = await new Deno.Command("dpkg", { args: ["-x", DEB, `${dir}/deb`] }).output();
      ok(x.success, "dpkg -x");
      const conf = `${dir}/tsrc0.conf`;
      Deno.writeTextFileSync(
        conf,
        `[Interface]\nPrivateKey = ${
          encodeBase64Key(generatePrivateKey())
        }\nAddress = 10.93.0.1/24\nDNS = 10.93.0.53, fd93::53, corp.example\n`,
        { mode: 0o600 },
      );
      Deno.writeTextFileSync(`${dir}/check.sh`, CHECK);
      const ns = `tsl-rc-${crypto.randomUUID().slice(0, 6)}`;
      const o = await new Deno.Command("unshare", {
        args: [
          "--mount",
          "--propagation",
          "private",
          "bash",
          "-c",
          SETUP,
          "setup",
          "ip",
          "netns",
          "exec",
          ns,
          "bash",
          `${dir}/check.sh`,
          conf,
        ],
        env: {
          DEB_ROOT: `${dir}/deb`,
          NS: ns,
          DENO: Deno.execPath(),
          MAIN,
          LOG: `${dir}/up.log`,
        },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).output();
      await new Deno.Command("ip", { args: ["netns", "del", ns], stderr: "null" }).output();
      const out = new TextDecoder().decode(o.stdout);
      const err = new TextDecoder().decode(o.stderr);
      let log = "";
      try {
        log = Deno.readTextFileSync(`${dir}/up.log`);
      } catch { /* none */ }
      equal(o.code, 0, `${out}\n${err}\n${log}`);
      const part = (name: string) => out.split(`=== ${name}\n`)[1]?.split("===")[0] ?? "";
      equal(part("records").trim(), "tun.tsrc0");
      equal(
        part("record").trim(),
        "nameserver 10.93.0.53\nnameserver fd93::53\nsearch corp.example",
      );
      match(
        part("resolv.conf"),
        /nameserver 10\.93\.0\.53\nnameserver fd93::53\nsearch corp\.example/,
      );
      match(out, /=== exit 0/);
      equal(part("records after").trim(), "");
      ok(!part("resolv.conf after").includes("10.93.0.53"), part("resolv.conf after"));
      match(log, /DNS of .*tsrc0.* set with resolvconf as .*tun\.tsrc0/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
