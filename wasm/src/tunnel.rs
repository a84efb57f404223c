//! Level 4: one tunnel device's data plane, every table the exports share. All fields are
//! valid when zeroed, so the one static that holds it (in `exports/`) is `.bss` (no file
//! size) and a fresh instance needs no init.
//!
//! The borrows `path/` needs are split off here, so an export writes
//! `tunnel.send_ctx()` instead of naming fields.

use crate::consts::{ENDPOINT_LEN, MAX_PEERS, OFFLOAD_STATS_LEN};
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

    /// What decryption borrows, with the peers' endpoint storage from the shared region, and
    /// the pool (read only).
    pub fn recv_ctx<'a>(&'a mut self, endpoints: &'a mut [[u8; ENDPOINT_LEN]; MAX_PEERS]) -> (RecvCtx<'a>, &'a Pool) {
        let cx = RecvCtx {
            routes: &self.routes,
            peers: &mut self.peers,
            keypairs: &mut self.keypairs,
            endpoints,
            drops: &mut self.drops,
        };
        (cx, &self.pool)
    }

    /// What the netstack borrows, and the pool its slots come from.
    pub fn net_ctx(&mut self) -> (Ctx<'_>, &mut Pool) {
        let cx = Ctx { net: &mut self.net, sk: &mut self.sockets, drops: &mut self.drops };
        (cx, &mut self.pool)
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
