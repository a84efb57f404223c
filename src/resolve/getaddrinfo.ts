/**
 * Host names resolved as `wg` resolves them: the system resolver through `getaddrinfo` (so
 * /etc/hosts, nsswitch and gai.conf apply, unlike `Deno.resolveDns`), `AF_UNSPEC`, the first
 * answer. The call may block on DNS, so it runs as a `nonblocking` FFI call on a worker thread
 * and never stalls the event loop. Link-local names with a zone (`fe80::1%eth0`) come back with
 * their numeric scope id.
 *
 * @example
 * ```ts ignore
 * import { resolveHost } from "./getaddrinfo.ts";
 * console.log(await resolveHost("localhost", 51820)); // "127.0.0.1:51820" (or "[::1]:51820")
 * ```
 * @module
 */
import { cString, libc } from "../ffi/libc.ts";
import { formatEndpoint } from "../endpoint.ts";

/** `EAI_*` codes of glibc (negative, as getaddrinfo returns them). */
export const EAI = {
  AGAIN: -3,
  FAIL: -4,
  NONAME: -2,
  NODATA: -5,
  SYSTEM: -11,
} as const;

/** A resolution failure, with the resolver's own words. */
export class ResolveError extends Error {
  override name = "ResolveError";
  constructor(readonly host: string, readonly code: number, reason: string) {
    super(`cannot resolve "${host}": ${reason}`);
  }
  /** `wg`'s permanent failures (no point in trying again): EAI_NONAME, EAI_FAIL, EAI_NODATA. */
  get permanent(): boolean {
    return this.code === EAI.NONAME || this.code === EAI.FAIL || this.code === EAI.NODATA;
  }
}

const AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10, SOCK_DGRAM = 2, IPPROTO_UDP = 17;

/** The resolver's message for `code`. */
function reason(code: number): string {
  const p = libc().gai_strerror(code);
  return p === null ? `error ${code}` : new Deno.UnsafePointerView(p).getCString();
}

/**
 * Resolves `host` (a name, or an address with a zone) for UDP to `port`; returns the endpoint as
 * text (`192.0.2.1:51820`, `[2001:db8::1]:51820`, `[fe80::1%2]:51820`). Throws
 * {@link ResolveError}.
 */
export async function resolveHost(host: string, port: number): Promise<string> {
  const hints = new Uint8Array(48); // struct addrinfo
  const dv = new DataView(hints.buffer);
  dv.setInt32(4, AF_UNSPEC, true);
  dv.setInt32(8, SOCK_DGRAM, true);
  dv.setInt32(12, IPPROTO_UDP, true);
  const res = new BigUint64Array(1);
  const node = cString(host), service = cString(String(port));
  const rc = await libc().getaddrinfo(node, service, hints, new Uint8Array(res.buffer));
  if (rc !== 0) {
    // errno belongs to the worker thread that ran the call: EAI_SYSTEM cannot say more here.
    throw new ResolveError(host, rc, rc === EAI.SYSTEM ? "system error" : reason(rc));
  }
  const head = Deno.UnsafePointer.create(res[0]);
  try {
    for (let ai = head; ai !== null;) {
      const v = new Deno.UnsafePointerView(ai);
      const family = v.getInt32(4), addrlen = v.getUint32(16);
      const sa = v.getPointer(24);
      if (sa !== null && family === AF_INET && addrlen >= 16) {
        const b = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(sa, 16)).slice();
        return formatEndpoint({ addr: b.slice(4, 8), port, scopeId: 0 });
      }
      if (sa !== null && family === AF_INET6 && addrlen >= 28) {
        const b = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(sa, 28)).slice();
        const scopeId = new DataView(b.buffer).getUint32(24, true);
        return formatEndpoint({ addr: b.slice(8, 24), port, scopeId });
      }
      ai = v.getPointer(40);
    }
    throw new ResolveError(host, EAI.NODATA, "neither an IPv4 nor an IPv6 address found");
  } finally {
    libc().freeaddrinfo(head);
  }
}
