/**
 * The host side of a tunnel `up` brings up, in wg-quick's order:
 * - up: PreUp hooks, then (the caller creates the device), DNS, PostUp hooks. A failing hook or
 *   DNS step aborts: what was set up is undone and the interface removed, and PreDown/PostDown do
 *   not run (wg-quick's `trap del_if`);
 * - down (SIGTERM, SIGINT, `tunslab down`, the interface deleted from outside): PreDown hooks,
 *   SaveConfig, the device closed (the interface goes with it), DNS undone, PostDown hooks;
 * - reload (SIGHUP, `tunslab reload`): the changed file applied without dropping the sessions of
 *   unchanged peers (peers as `wg syncconf`, through the device's UAPI semantics), and Address,
 *   MTU and DNS too, which `syncconf` leaves alone.
 *
 * @example
 * ```ts ignore
 * import { TunnelHost } from "./tunnel_host.ts";
 * const host = new TunnelHost("wg0", "/etc/wireguard/wg0.conf", config);
 * await host.beforeCreate();
 * const dev = await Device.create({ name: "wg0", config });
 * await host.afterCreate(dev);
 * // … run … then:
 * await host.down(dev);
 * ```
 * @module
 */
import { type Cidr, cidrEqual, formatCidr, parseIp } from "../wg/cidr.ts";
import { type Config, parseConfigFile } from "../wg/config.ts";
import { logger } from "../log.ts";
import type { Device } from "../device/device.ts";
import { uapiFor } from "../device/device_uapi.ts";
import { getMtu, setMtu } from "../net_config.ts";
import { defaultSignals } from "../process/inspector_guard.ts";
import type { UapiPeerChange, UapiSetRequest } from "../uapi/uapi_types.ts";
import { resolveAtStart } from "../resolve/endpoint_resolution.ts";
import { applyDns } from "./dns.ts";
import { runHooks } from "./hooks.ts";
import { formatSavedConfig, writeAtomically } from "./save_config.ts";

const log = logger("host");

/** A config routes everything through the tunnel (a /0 in some peer's AllowedIPs). */
export function isFullTunnel(config: Config): boolean {
  return config.peers.some((p) => p.allowedIps.some((c) => c.cidr === 0));
}

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What a reload changed. */
export interface ReloadResult {
  peers: { added: number; removed: number; kept: number };
  addresses: { added: string[]; removed: string[] };
  mtu: number | null;
  dns: boolean;
}

/** Hooks, DNS, SaveConfig and reload around one device. */
export class TunnelHost {
  #config: Config;
  #undoDns: (() => Promise<void>) | null = null;
  /** Reloads done, and the error of the last one that failed (for `tunslab reload`). */
  reloads = 0;
  reloadError = "";
  /** Saves done on request (`tunslab save`), and the error of the last one that failed. */
  saves = 0;
  saveError = "";

  constructor(readonly name: string, readonly path: string | undefined, config: Config) {
    this.#config = config;
  }

  /** The configuration in force (the file as of the last start or reload). */
  get config(): Config {
    return this.#config;
  }

  /** PreUp hooks (before the interface exists). */
  async beforeCreate(): Promise<void> {
    await runHooks("PreUp", this.#config.interface.preUp, this.name);
  }

  /** DNS, then PostUp hooks. On failure undoes DNS and throws (the caller closes the device). */
  async afterCreate(_dev: Device): Promise<void> {
    try {
      await this.#applyDns();
      await runHooks("PostUp", this.#config.interface.postUp, this.name);
    } catch (e) {
      await this.#removeDns();
      throw e;
    }
  }

  /**
   * After a failed start (the device already closed): undoes what {@link afterCreate} did, runs
   * no hook.
   */
  async abort(): Promise<void> {
    await this.#removeDns();
  }

  async #applyDns(): Promise<void> {
    const i = this.#config.interface;
    this.#undoDns = await applyDns(this.name, i.dns, i.dnsSearch, {
      fullTunnel: isFullTunnel(this.#config),
    });
  }

  async #removeDns(): Promise<void> {
    const undo = this.#undoDns;
    this.#undoDns = null;
    await undo?.();
  }

  /**
   * The tunnel ends: PreDown hooks, SaveConfig, the device closed, DNS undone, PostDown hooks.
   * A failing hook is logged and the rest still runs (the interface must go).
   */
  async down(
    dev: Device,
    beforeClose: () => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    const i = this.#config.interface;
    await runHooks("PreDown", i.preDown, this.name).catch((e) =>
      log.error("{error}", { error: e.message })
    );
    if (i.saveConfig) await this.save(dev).catch((e) => log.error("{error}", { error: e.message }));
    await beforeClose().catch((e) => log.error("{error}", { error: e.message }));
    dev.close();
    await this.#removeDns();
    await runHooks("PostDown", i.postDown, this.name).catch((e) =>
      log.error("{error}", { error: e.message })
    );
  }

  /** {@link save} on request (`tunslab save`), counted for the requester to see. */
  async saveRequested(dev: Device): Promise<void> {
    try {
      await this.save(dev);
      this.saveError = "";
    } catch (e) {
      this.saveError = (e as Error).message;
      log.error("Save of {interface} failed: {error}", {
        interface: this.name,
        error: this.saveError,
      });
    } finally {
      this.saves++;
    }
  }

  /** Writes the running configuration back to the file (SaveConfig, `tunslab save`). */
  async save(dev: Device): Promise<void> {
    if (this.path === undefined) throw new Error("this interface was not started from a file");
    let mtu: number | null = null;
    try {
      mtu = getMtu(this.name);
    } catch { /* the interface is not in our namespace */ }
    const state = await uapiFor(dev).uapiGet();
    const text = formatSavedConfig(this.#config.interface, { ...state, peers: [...state.peers] }, {
      addresses: this.#config.interface.addresses.map(formatCidr),
      mtu,
    });
    await writeAtomically(this.path, text);
    log.info("Configuration of {interface} saved to {path}", {
      interface: this.name,
      path: this.path,
    });
  }

  /** Re-reads the file and applies what changed (see the module doc). */
  async reload(dev: Device): Promise<ReloadResult> {
    try {
      if (this.path === undefined) throw new Error("this interface was not started from a file");
      const { config: next } = await parseConfigFile(this.path);
      const r = await this.#apply(dev, next);
      this.#config = next;
      this.reloads++;
      this.reloadError = "";
      log.info(
        "Reloaded {path}: {added} peer(s) added, {removed} removed, {kept} kept with their sessions",
        { path: this.path, ...r.peers, addresses: r.addresses, mtu: r.mtu, dns: r.dns },
      );
      return r;
    } catch (e) {
      this.reloads++;
      this.reloadError = (e as Error).message;
      log.error("Reload of {interface} failed: {error}", {
        interface: this.name,
        error: this.reloadError,
      });
      throw e;
    }
  }

  async #apply(dev: Device, next: Config): Promise<ReloadResult> {
    const prev = this.#config, ni = next.interface, pi = prev.interface;
    // Peers as `wg syncconf`: the peers the file no longer has go; the rest are updated in place.
    const req: UapiSetRequest = { replacePeers: false, peers: [] };
    if (!sameKey(pi.privateKey, ni.privateKey)) req.privateKey = ni.privateKey;
    if ((pi.listenPort ?? 0) !== (ni.listenPort ?? 0)) req.listenPort = ni.listenPort ?? 0;
    if ((pi.fwMark ?? 0) !== (ni.fwMark ?? 0)) req.fwmark = ni.fwMark ?? 0;
    const wanted = new Set(next.peers.map((p) => formatKey(p.publicKey)));
    let removed = 0, added = 0, kept = 0;
    for (const peer of dev.peers()) {
      if (!wanted.has(formatKey(peer.publicKey))) {
        req.peers.push({
          publicKey: peer.publicKey,
          remove: true,
          updateOnly: false,
          allowedIpOps: [],
        });
        removed++;
      }
    }
    for (const p of next.peers) {
      const existing = dev.peerByKey(p.publicKey);
      if (existing === undefined) added++;
      else kept++;
      const change: UapiPeerChange = {
        publicKey: p.publicKey,
        remove: false,
        updateOnly: false,
        presharedKey: p.presharedKey ?? new Uint8Array(32),
        persistentKeepaliveInterval: p.persistentKeepalive,
        allowedIpOps: [
          { kind: "replace" },
          ...p.allowedIps.map((cidr: Cidr) => ({ kind: "add" as const, cidr })),
        ],
      };
      if (p.endpoint !== null) {
        const host = p.endpoint.host;
        change.endpoint = parseIp(host) !== null
          ? (host.includes(":") ? `[${host}]:${p.endpoint.port}` : `${host}:${p.endpoint.port}`)
          : await resolveAtStart(
            host,
            p.endpoint.port,
            `${this.path}:${p.endpointLine || p.line}`,
            {
              retries: 0,
            },
          );
      }
      req.peers.push(change);
    }
    const rc = await uapiFor(dev).uapiSet(req);
    if (rc < 0) throw new Error(`applying the peers failed (errno ${-rc})`);
    // Addresses, MTU, DNS: what syncconf leaves alone.
    const addresses = { added: [] as string[], removed: [] as string[] };
    for (const a of pi.addresses) {
      if (!ni.addresses.some((b) => cidrEqual(a, b))) {
        await ipAddress("del", this.name, formatCidr(a));
        addresses.removed.push(formatCidr(a));
      }
    }
    for (const a of ni.addresses) {
      if (!pi.addresses.some((b) => cidrEqual(a, b))) {
        await ipAddress("add", this.name, formatCidr(a));
        addresses.added.push(formatCidr(a));
      }
    }
    let mtu: number | null = null;
    if (ni.mtu !== pi.mtu) {
      setMtu(this.name, ni.mtu);
      mtu = ni.mtu;
    }
    const dnsChanged = ni.dns.join() !== pi.dns.join() ||
      ni.dnsSearch.join() !== pi.dnsSearch.join() ||
      isFullTunnel(next) !== isFullTunnel(prev);
    if (dnsChanged) {
      await this.#removeDns();
      this.#config = next; // #applyDns reads the new servers
      await this.#applyDns();
    }
    return { peers: { added, removed, kept }, addresses, mtu, dns: dnsChanged };
  }
}

/**
 * `ip address add|del` (as wg-quick changes addresses): the ioctl path of net_config.ts holds one
 * IPv4 address per label and cannot remove a secondary one.
 */
async function ipAddress(op: "add" | "del", iface: string, cidr: string): Promise<void> {
  const cmd = defaultSignals(["ip", "address", op, cidr, "dev", iface]);
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) {
    throw new Error(
      `ip address ${op} ${cidr} dev ${iface}: ${new TextDecoder().decode(o.stderr).trim()}`,
    );
  }
}

function formatKey(k: Uint8Array): string {
  return Array.from(k, (b) => b.toString(16).padStart(2, "0")).join("");
}
