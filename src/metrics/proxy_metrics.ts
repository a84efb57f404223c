/**
 * The proxy's own families after the device's (src/metrics/prometheus_text.ts): the stack's
 * counters and, per front end, its connections.
 * @module
 */
import type { NetstackStats } from "../netstack/netstack.ts";
import { Exposition } from "./prometheus_text.ts";

/** One front end as the metrics see it. */
export interface FrontEndStats {
  kind: string;
  addr: string;
  stats: { accepted: number; open: number; failed: number };
}

const STACK: [keyof NetstackStats, string, "counter" | "gauge", string][] = [
  ["packetsIn", "tunslab_netstack_packets_in_total", "counter", "IP packets given to the stack."],
  ["accepted", "tunslab_netstack_packets_accepted_total", "counter", "IP packets it took."],
  ["tcpIn", "tunslab_netstack_tcp_segments_in_total", "counter", "TCP segments received."],
  ["tcpOut", "tunslab_netstack_tcp_segments_out_total", "counter", "TCP segments sent."],
  ["retransmits", "tunslab_netstack_tcp_retransmits_total", "counter", "Segments sent again."],
  ["timeouts", "tunslab_netstack_tcp_timeouts_total", "counter", "Retransmission timeouts."],
  ["rstsSent", "tunslab_netstack_tcp_rsts_sent_total", "counter", "RSTs sent."],
  ["activeOpens", "tunslab_netstack_tcp_active_opens_total", "counter", "Connects made."],
  ["passiveOpens", "tunslab_netstack_tcp_passive_opens_total", "counter", "Connections accepted."],
  ["connections", "tunslab_netstack_tcp_connections", "gauge", "Connections in the table."],
  ["udpSockets", "tunslab_netstack_udp_sockets", "gauge", "UDP sockets open."],
  ["icmpErrors", "tunslab_netstack_icmp_errors_total", "counter", "ICMP errors acted on."],
];

const FRONT: [keyof FrontEndStats["stats"], string, "counter" | "gauge", string][] = [
  ["accepted", "tunslab_proxy_connections_total", "counter", "Connections a front end accepted."],
  ["open", "tunslab_proxy_connections_open", "gauge", "Connections open now."],
  [
    "failed",
    "tunslab_proxy_connections_failed_total",
    "counter",
    "Connections refused or not made through the tunnel.",
  ],
];

/** The stack's and the front ends' families, for `name`'s tunnel. */
export function formatProxyMetrics(
  name: string,
  stack: NetstackStats,
  fronts: readonly FrontEndStats[],
): string {
  const e = new Exposition();
  for (const [key, family, type, help] of STACK) {
    e.sample(family, type, help, { interface: name }, stack[key]);
  }
  const per = (f: FrontEndStats) => ({ interface: name, frontend: f.kind, address: f.addr });
  for (const [key, family, type, help] of FRONT) {
    for (const f of fronts) e.sample(family, type, help, per(f), f.stats[key]);
  }
  return e.toString();
}
