//! Level 4: one tunnel device's data plane, every table the exports share. All fields are
//! valid when zeroed, so the one static that holds it (in `exports/`) is `.bss` (no file
//! size) and a fresh instance needs no init.
//!
//! The borrows `path/` needs are split off here, so an export writes
//! `tunnel.send_ctx()` instead of naming fields.

use crate::consts::OFFLOAD_STATS_LEN;
use crate::path::gro::{GroStats, Plan};
use crate::path::gso::GsoStats;
use crate::path::netstack::{Ctx, Netstack};
use crate::path::transport::{RecvCtx, SendCtx};
use crate::tables::allowed_ips::AllowedIps;
use crate::tables::drops::Drops;
use crate::tables::keypairs::Keypairs;
use crate::tables::peers::Peers;
use crate::tables::pool::Pool;
use crate::tables::sockets::Sockets;

pub struct Tunnel {
    pub pool: Pool,
    pub drops: Drops,
    pub peers: Peers,
    pub keypairs: Keypairs,
    pub routes: AllowedIps,
    pub gso: GsoStats,
    pub gro: GroStats,
    /// `ts_tun_plan`'s working tables.
    pub plan: Plan,
    /// The TCP/IP stack at the tunnel's own addresses (`tunslab proxy`) and its sockets.
    pub net: Netstack,
    pub sockets: Sockets,
}

impl Tunnel {
    pub const ZERO: Tunnel = Tunnel {
        pool: Pool::ZERO,
        drops: Drops::ZERO,
        peers: Peers::ZERO,
        keypairs: Keypairs::ZERO,
        routes: AllowedIps::ZERO,
        gso: GsoStats::ZERO,
        gro: GroStats::ZERO,
        plan: Plan::ZERO,
        net: Netstack::ZERO,
        sockets: Sockets::ZERO,
    };

    /// What encryption borrows, and the pool (read only: it says how big each slot is).
    pub fn send_ctx(&mut self) -> (SendCtx<'_>, &Pool) {
        let cx = SendCtx {
            routes: &self.routes,
            peers: &mut self.peers,
            keypairs: &mut self.keypairs,
            drops: &mut self.drops,
        };
        (cx, &self.pool)
    }

    /// What decryption borrows, and the pool (read only).
    pub fn recv_ctx(&mut self) -> (RecvCtx<'_>, &Pool) {
        let cx = RecvCtx {
            routes: &self.routes,
            peers: &mut self.peers,
            keypairs: &mut self.keypairs,
            drops: &mut self.drops,
        };
        (cx, &self.pool)
    }

    /// What the netstack borrows, and the pool its slots come from.
    pub fn net_ctx(&mut self) -> (Ctx<'_>, &mut Pool) {
        let cx = Ctx { net: &mut self.net, sk: &mut self.sockets, drops: &mut self.drops };
        (cx, &mut self.pool)
    }

    /// Sets the tables' limits (0 = keep the default) while they are all still empty of
    /// pages. 0, or E_BAD_ARG (nothing changed) if a limit is too large or a table grew.
    pub fn set_limits(&mut self, peers: u32, keypairs: u32, prefixes: u32) -> i32 {
        use crate::consts::{MAX_KEYPAIRS, MAX_PEERS, MAX_PREFIXES};
        let grown = self.peers.pages() + self.keypairs.pages() + self.routes.pages() > 0;
        if grown || peers as usize > MAX_PEERS || keypairs as usize > MAX_KEYPAIRS || prefixes as usize > MAX_PREFIXES {
            return crate::errors::E_BAD_ARG;
        }
        // Checked above: each either keeps its default (0) or takes its limit.
        if peers > 0 {
            self.peers.set_limit(peers);
        }
        if keypairs > 0 {
            self.keypairs.set_limit(keypairs);
        }
        if prefixes > 0 {
            self.routes.set_limit(prefixes);
        }
        0
    }

    /// max_peers, peer slots existing, max_keypairs, keypair slots existing, live keypairs,
    /// index buckets, max_prefixes, prefixes, nodes in use, nodes existing; then the page
    /// counts the caller adds.
    pub fn table_stats(&self) -> [f64; 10] {
        let (kp_slots, live, buckets) = self.keypairs.counts();
        let (used, nodes) = self.routes.node_counts();
        [
            self.peers.limit() as f64,
            self.peers.capacity() as f64,
            self.keypairs.limit() as f64,
            kp_slots as f64,
            live as f64,
            buckets as f64,
            self.routes.limit() as f64,
            self.routes.len() as f64,
            used as f64,
            nodes as f64,
        ]
    }

    /// super-packets cut, segments produced from them, partial checksums completed, units
    /// merged, packets in them, packets not merged because a TCP checksum did not verify.
    pub fn offload_stats(&self) -> [f64; OFFLOAD_STATS_LEN] {
        [
            self.gso.tso_super as f64,
            self.gso.tso_segments as f64,
            self.gso.csum_completed as f64,
            self.gro.units_coalesced as f64,
            self.gro.packets_coalesced as f64,
            self.gro.bad_checksum as f64,
        ]
    }
}
