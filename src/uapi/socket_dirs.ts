/**
 * Where UAPI sockets live. `/var/run/wireguard` first: stock `wg` looks only there. A process that
 * may not create sockets there (`tunslab proxy` as an ordinary user) serves in a private directory
 * of its own: `$XDG_RUNTIME_DIR/wireguard/`, else `/tmp/tunslab-$UID/` — mode 0700, created
 * without following a symlink, refused if it is a symlink, not ours or reachable by others (in a
 * shared /tmp another user could have made it first). Only `tunslab show` looks there too.
 * @module
 */
import { UAPI_SOCKET_DIR } from "./uapi_server.ts";

/** A private socket directory that cannot be trusted; the message names it. */
export class SocketDirError extends Error {
  override name = "SocketDirError";
  constructor(readonly dir: string, why: string) {
    super(`UAPI socket directory ${dir}/: ${why}`);
  }
}

type Env = (name: string) => string | undefined;
const env: Env = (n) => {
  try {
    return Deno.env.get(n);
  } catch {
    return undefined;
  }
};

/** The per-user fallback directories, in the order they are tried. */
export function fallbackDirs(get: Env = env, uid = Deno.uid() ?? 0): string[] {
  const xdg = get("XDG_RUNTIME_DIR");
  return [...(xdg?.startsWith("/") ? [`${xdg}/wireguard`] : []), `/tmp/tunslab-${uid}`];
}

/** Every directory `tunslab show` looks in: the standard one, then the fallbacks. */
export function socketDirs(get: Env = env, uid = Deno.uid() ?? 0): string[] {
  return [UAPI_SOCKET_DIR, ...fallbackDirs(get, uid)];
}

/** May this process create sockets in `dir` (it exists, or root may make it)? */
function usable(dir: string, uid: number): boolean {
  if (uid === 0) return true; // root makes /var/run/wireguard as wg-quick's wireguard-go does
  try {
    const st = Deno.lstatSync(dir);
    return st.isDirectory && st.uid === uid; // a directory set up for this user
  } catch {
    return false;
  }
}

/**
 * The directory to serve in: {@link UAPI_SOCKET_DIR} when this process may, else the first
 * fallback whose parent exists, made private. Throws {@link SocketDirError}.
 */
export function chooseSocketDir(get: Env = env, uid = Deno.uid() ?? 0): string {
  if (usable(UAPI_SOCKET_DIR, uid)) return UAPI_SOCKET_DIR;
  const dirs = fallbackDirs(get, uid);
  for (const [i, dir] of dirs.entries()) {
    try {
      Deno.lstatSync(dir.replace(/\/[^/]+$/, "") || "/");
    } catch {
      if (i < dirs.length - 1) continue; // no XDG_RUNTIME_DIR on disk: /tmp
    }
    privateDirectory(dir, uid);
    return dir;
  }
  throw new SocketDirError(dirs[dirs.length - 1], "no place for it");
}

/** Makes `dir` (0700) unless it exists; then it must be a real directory, ours, 0700. */
export function privateDirectory(dir: string, uid = Deno.uid() ?? 0): void {
  try {
    // mkdir does not follow a symlink in the last component: EEXIST, then lstat refuses it.
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      throw new SocketDirError(dir, `cannot create it: ${(e as Error).message}`);
    }
  }
  const st = Deno.lstatSync(dir);
  const mode = (st.mode ?? 0) & 0o7777;
  const why = st.isSymlink
    ? "is a symlink (not followed)"
    : !st.isDirectory
    ? "is not a directory"
    : st.uid !== uid
    ? `is owned by uid ${st.uid}, not by us (uid ${uid})`
    : (mode & 0o077) !== 0
    ? `is reachable by group or others (mode ${mode.toString(8)}; it must be 700)`
    : null;
  if (why !== null) throw new SocketDirError(dir, why);
}

/**
 * Why a fallback directory must not be read (a symlink, not ours, open to others), or null if it
 * is fine or absent. Another user could have made `/tmp/tunslab-$UID` to serve us its sockets.
 */
export function untrusted(dir: string, uid = Deno.uid() ?? 0): string | null {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(dir);
  } catch {
    return null; // absent: nothing to read
  }
  const mode = (st.mode ?? 0) & 0o7777;
  if (st.isSymlink) return "is a symlink";
  if (!st.isDirectory) return "is not a directory";
  if (uid !== 0 && st.uid !== uid) return `is owned by uid ${st.uid}`;
  if (uid !== 0 && (mode & 0o077) !== 0) return `has mode ${mode.toString(8)}`;
  return null;
}

/** The directory holding `<name>.sock` among {@link socketDirs}, or null. */
export function findSocketDir(name: string, dirs: readonly string[] = socketDirs()): string | null {
  for (const dir of dirs) {
    if (dir !== dirs[0] && untrusted(dir) !== null) continue;
    try {
      if (Deno.lstatSync(`${dir}/${name}.sock`).isSocket) return dir;
    } catch { /* not there */ }
  }
  return null;
}
