/**
 * The `[Socks5]` front end of `tunslab proxy` (RFC 1928; username and password per RFC 1929 when
 * the section sets them): CONNECT to an IPv4 or IPv6 address or a domain name, which is resolved
 * through the tunnel ({@link TunnelDns}); the connection is then joined to the client's. Refusals
 * use the protocol's codes: 0x01 general failure, 0x02 not allowed (the client's limit), 0x04 host
 * unreachable (no such name, no answer, a timeout), 0x05 connection refused (and the proxy's total
 * limit), 0x07 command not supported (BIND), 0x08 address type. UDP ASSOCIATE: ./socks5_udp.ts.
 *
 * @example
 * ```ts ignore
 * const fwd = startSocks5(tunnel, { bind: { hostname: "127.0.0.1", port: 1080 }, line: 9 });
 * // curl --socks5-hostname 127.0.0.1:1080 http://example.com/
 * ```
 * @module
 */

import { logger } from "../log.ts";
import { ConnectionNotAllowed, HostUnreachable } from "../netstack/tcp_conn.ts";
import { DnsError } from "../netstack/tunnel_dns.ts";
import type { UserspaceTunnel } from "../netstack/userspace_tunnel.ts";
import { formatIp } from "../wg/cidr.ts";
import { ConnReader as Reader } from "./conn_reader.ts";
import { type Forward, listenLocal, serveHandshakes, show } from "./forwards.ts";
import type { Socks5 } from "./proxy_config.ts";
import { udpAssociate } from "./socks5_udp.ts";

const log = logger("proxy");

/** Longest the client may take to say where it wants to go (ms). */
const HANDSHAKE_MS = 10_000;

/** 1 if equal, else 0; the time does not depend on where the texts differ. */
export function sameText(a: string, b: string): number {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  let d = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) d |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return d === 0 ? 1 : 0;
}

/**
 * The SOCKS reply code for a failed connect (an ICMP error on the way: 0x03 network unreachable,
 * 0x04 host unreachable, 0x02 not allowed by a ruleset for administratively prohibited).
 */
function replyFor(e: unknown): number {
  if (e instanceof DnsError || e instanceof Deno.errors.TimedOut) return 0x04;
  if (e instanceof HostUnreachable) return 0x04;
  if (e instanceof Deno.errors.NetworkUnreachable) return 0x03;
  if (e instanceof ConnectionNotAllowed) return 0x02;
  if (e instanceof Deno.errors.ConnectionRefused) return 0x05;
  return 0x01;
}

const reply = (code: number) => new Uint8Array([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);

/** One client: the handshake, the connect through the tunnel, the join. */
async function serveClient(tunnel: UserspaceTunnel, spec: Socks5, local: Deno.Conn) {
  const r = new Reader(local);
  const [ver, nMethods] = await r.take(2);
  if (ver !== 5) throw new Error(`not SOCKS5 (version ${ver})`);
  const methods = await r.take(nMethods);
  const auth = spec.username !== undefined;
  const want = auth ? 2 : 0;
  if (!methods.includes(want)) {
    await local.write(new Uint8Array([5, 0xff]));
    throw new Error(
      auth ? "the client offers no username/password" : "the client offers no method we take",
    );
  }
  await local.write(new Uint8Array([5, want]));
  if (auth) {
    const [, ulen] = await r.take(2);
    const user = new TextDecoder().decode(await r.take(ulen));
    const [plen] = await r.take(1);
    const pass = new TextDecoder().decode(await r.take(plen));
    const ok = sameText(user, spec.username!) & sameText(pass, spec.password!);
    await local.write(new Uint8Array([1, ok ? 0 : 1]));
    if (!ok) throw new Error(`wrong username or password (user "${user}")`);
  }
  const [v, cmd, , atyp] = await r.take(4);
  if (v !== 5) throw new Error("bad request");
  let hostname: string;
  if (atyp === 1) hostname = formatIp(await r.take(4));
  else if (atyp === 4) hostname = formatIp(await r.take(16));
  else if (atyp === 3) hostname = new TextDecoder().decode(await r.take((await r.take(1))[0]));
  else {
    await local.write(reply(0x08));
    throw new Error(`address type ${atyp} not supported`);
  }
  const pb = await r.take(2);
  const port = (pb[0] << 8) | pb[1];
  if (cmd === 3) return await udpAssociate(tunnel, local, { hostname, port });
  if (cmd !== 1) {
    await local.write(reply(0x07));
    throw new Error(`command ${cmd} not supported (CONNECT and UDP ASSOCIATE only)`);
  }
  let remote: Deno.Conn;
  try {
    remote = await tunnel.connect({ hostname, port, timeoutMs: spec.tuning.connectTimeoutMs });
  } catch (e) {
    await local.write(reply(replyFor(e))).catch(() => {});
    throw new Error(`CONNECT ${hostname}:${port}: ${(e as Error).message}`);
  }
  const ok = reply(0); // BND: the tunnel side's address (IPv4), else zeros
  const bound = remote.localAddr as Deno.NetAddr;
  if (!bound.hostname.includes(":")) ok.set(bound.hostname.split(".").map(Number), 4);
  const lp = bound.port;
  ok[8] = lp >> 8;
  ok[9] = lp & 0xff;
  await local.write(ok);
  const first = r.rest();
  if (first.length > 0) await remote.write(first);
  return remote;
}

/** `[Socks5]`: a SOCKS5 listener on `bind` whose CONNECTs go through the tunnel. */
export function startSocks5(tunnel: UserspaceTunnel, spec: Socks5): Forward {
  const addr = show(spec.bind);
  log.info("Socks5 on {bind}{auth}", {
    bind: addr,
    auth: spec.username ? " (username/password)" : "",
  });
  return serveHandshakes(
    "Socks5",
    addr,
    listenLocal("Socks5", spec),
    spec.tuning,
    HANDSHAKE_MS,
    // Over a limit: the request is refused (0x02 the client's limit, 0x05 the total).
    async (local, clientFull) => {
      await local.write(new Uint8Array([5, 0])).catch(() => {});
      await local.write(reply(clientFull ? 0x02 : 0x05)).catch(() => {});
    },
    (local) => serveClient(tunnel, spec, local),
  );
}
