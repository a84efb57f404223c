/**
 * A device's figures in the Prometheus text exposition format (version 0.0.4). The peer metrics
 * carry the names, help texts and labels of MindFlavor/prometheus_wireguard_exporter, so its
 * dashboards work unchanged: `wireguard_sent_bytes_total`, `wireguard_received_bytes_total`,
 * `wireguard_latest_handshake_seconds` (a Unix timestamp, as that exporter reports it), labels
 * `interface`, `public_key`, `allowed_ips` (comma-joined). tunslab's own are `tunslab_*`: pool
 * slots, drops by reason, handshake messages and rejections by kind, offload fallbacks, the
 * loop's longest turn.
 *
 * @example
 * ```ts
 * import { escapeLabel } from "./prometheus_text.ts";
 * console.log(escapeLabel('a "b"\n')); // a \"b\"\n
 * ```
 * @module
 */
import type { DeviceStats } from "../device/device_stats.ts";

/** A label value as the format wants it: `\`, `"` and newlines escaped. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  return `{${Object.entries(l).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** Builds one exposition: families in order, each with its HELP and TYPE lines once. */
export class Exposition {
  readonly #out: string[] = [];
  #family = "";

  /** A sample of family `name` (HELP/TYPE written on the family's first sample). */
  sample(
    name: string,
    type: "counter" | "gauge",
    help: string,
    l: Record<string, string>,
    v: number,
  ): void {
    if (name !== this.#family) {
      this.#family = name;
      this.#out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    }
    this.#out.push(`${name}${labels(l)} ${Number.isFinite(v) ? v : 0}`);
  }

  toString(): string {
    return this.#out.join("\n") + "\n";
  }
}

/** Loop figures the device keeps for the metrics. */
export interface LoopStats {
  /** Longest turn of the loop since the last scrape (ms). */
  maxTurnMs: number;
  /** Turns of the loop so far. */
  turns: number;
}

/** Everything the metrics endpoint serves for `s`. */
export function formatMetrics(s: DeviceStats, loop: LoopStats): string {
  const e = new Exposition();
  const iface = s.interface;
  const peer = (p: DeviceStats["peers"][number]) => ({
    interface: iface,
    public_key: p.publicKey,
    allowed_ips: p.allowedIps.join(","),
  });
  for (const p of s.peers) {
    e.sample("wireguard_sent_bytes_total", "counter", "Bytes sent to the peer", peer(p), p.txBytes);
  }
  for (const p of s.peers) {
    e.sample(
      "wireguard_received_bytes_total",
      "counter",
      "Bytes received from the peer",
      peer(p),
      p.rxBytes,
    );
  }
  for (const p of s.peers) {
    e.sample(
      "wireguard_latest_handshake_seconds",
      "gauge",
      "Seconds from the last handshake",
      peer(p),
      Math.floor(p.lastHandshakeWallMs / 1000),
    );
  }
  const i = { interface: iface };
  e.sample("tunslab_pool_capacity_slots", "gauge", "Packet slots the pool has", i, s.pool.capacity);
  e.sample("tunslab_pool_in_use_slots", "gauge", "Packet slots in use now", i, s.pool.inUse);
  e.sample(
    "tunslab_pool_high_water_slots",
    "gauge",
    "Most packet slots in use at once",
    i,
    s.pool.highWater,
  );
  e.sample(
    "tunslab_pool_refused_allocations_total",
    "counter",
    "Slot allocations the pool refused (at its cap)",
    i,
    s.pool.refusedAllocs,
  );
  for (const [reason, n] of Object.entries(s.dropped)) {
    e.sample(
      "tunslab_dropped_packets_total",
      "counter",
      "Packets dropped by the data plane, by reason",
      { ...i, reason },
      n,
    );
  }
  e.sample(
    "tunslab_received_datagrams_total",
    "counter",
    "Datagrams received",
    i,
    s.received.datagrams,
  );
  const hs = s.handshake;
  for (
    const [kind, n] of [
      ["initiation_sent", hs.initiationsSent],
      ["initiation_received", hs.initiationsReceived],
      ["response_sent", hs.responsesSent],
      ["response_received", hs.responsesReceived],
      ["cookie_sent", hs.cookiesSent],
      ["cookie_received", hs.cookiesReceived],
    ] as const
  ) {
    e.sample(
      "tunslab_handshake_messages_total",
      "counter",
      "Handshake messages by kind",
      { ...i, kind },
      n,
    );
  }
  for (const [reason, n] of Object.entries(hs.rejected)) {
    e.sample(
      "tunslab_handshake_rejected_total",
      "counter",
      "Handshake messages rejected (or not sent), by reason",
      { ...i, reason },
      n,
    );
  }
  e.sample(
    "tunslab_handshakes_completed_total",
    "counter",
    "Handshakes completed",
    i,
    s.peers.reduce((a, p) => a + p.handshakes, 0),
  );
  e.sample(
    "tunslab_offload_fallbacks_total",
    "counter",
    "Offloads the kernel refused at run time (each then off)",
    i,
    s.data.offloadFallbacks,
  );
  e.sample(
    "tunslab_loop_turn_max_seconds",
    "gauge",
    "Longest turn of the event loop since the last scrape",
    i,
    loop.maxTurnMs / 1000,
  );
  e.sample("tunslab_loop_turns_total", "counter", "Turns of the event loop", i, loop.turns);
  e.sample("tunslab_peers", "gauge", "Peers configured", i, s.peers.length);
  return e.toString();
}
