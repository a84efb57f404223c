/**
 * The UAPI socket's directory for a process that may not use /var/run/wireguard: the fallbacks
 * in order, a fresh private directory, and the refusals (a symlink, a file, mode bits for
 * others, another owner). Runs with or without root, in a temp dir.
 * @module
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import {
  chooseSocketDir,
  fallbackDirs,
  privateDirectory,
  SocketDirError,
  socketDirs,
  untrusted,
} from "../src/uapi/socket_dirs.ts";

const uid = Deno.uid()!;

Deno.test("socket dirs: /var/run/wireguard, then $XDG_RUNTIME_DIR/wireguard, then /tmp/tunslab-$UID", () => {
  const env = (xdg?: string) => (n: string) => n === "XDG_RUNTIME_DIR" ? xdg : undefined;
  deepStrictEqual(socketDirs(env("/run/user/1000"), 1000), [
    "/var/run/wireguard",
    "/run/user/1000/wireguard",
    "/tmp/tunslab-1000",
  ]);
  deepStrictEqual(fallbackDirs(env(undefined), 1000), ["/tmp/tunslab-1000"]);
  deepStrictEqual(fallbackDirs(env("relative/dir"), 7), ["/tmp/tunslab-7"], "not an absolute path");
  equal(chooseSocketDir(env(undefined), 0), "/var/run/wireguard", "root serves where wg looks");
});

Deno.test("socket dirs: a fallback is made private, and an untrustworthy one is refused", async () => {
  const base = await Deno.makeTempDir({ prefix: "tunslab-sockdir-" });
  try {
    // Chosen for a user who has no /var/run/wireguard of its own: made 0700 under XDG_RUNTIME_DIR.
    const get = (n: string) => n === "XDG_RUNTIME_DIR" ? base : undefined;
    const notUs = uid === 4243 ? 4244 : 4243;
    if (uid !== 0) {
      equal(chooseSocketDir(get, uid), `${base}/wireguard`);
      equal((Deno.statSync(`${base}/wireguard`).mode ?? 0) & 0o777, 0o700);
    }
    privateDirectory(`${base}/fresh`, uid);
    equal(
      (Deno.statSync(`${base}/fresh`).mode ?? 0) & 0o777,
      0o700,
      "fresh: 0700 whatever the umask",
    );
    privateDirectory(`${base}/fresh`, uid); // again: it is ours and private
    const refused = (dir: string, why: RegExp, as = uid) =>
      throws(() => privateDirectory(dir, as), (e: unknown) => {
        ok(e instanceof SocketDirError, String(e));
        ok(why.test(e.message) && e.message.includes(dir), e.message);
        return true;
      });
    Deno.mkdirSync(`${base}/target`, { mode: 0o700 });
    Deno.symlinkSync(`${base}/target`, `${base}/link`);
    refused(`${base}/link`, /symlink \(not followed\)/);
    Deno.writeTextFileSync(`${base}/file`, "");
    refused(`${base}/file`, /is not a directory/);
    Deno.mkdirSync(`${base}/open`);
    Deno.chmodSync(`${base}/open`, 0o755);
    refused(`${base}/open`, /reachable by group or others \(mode 755/);
    refused(`${base}/fresh`, new RegExp(`owned by uid \\d+, not by us \\(uid ${notUs}\\)`), notUs);
    refused(`${base}/missing/parent`, /cannot create it/);
    // What `tunslab show` will not read (as an ordinary user; root reads every directory).
    if (uid !== 0) {
      equal(untrusted(`${base}/fresh`), null);
      equal(untrusted(`${base}/missing`), null, "absent: nothing to read");
      equal(untrusted(`${base}/link`), "is a symlink");
      equal(untrusted(`${base}/open`), "has mode 755");
    }
    equal(untrusted(`${base}/file`), "is not a directory");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
