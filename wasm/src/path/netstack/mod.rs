//! The netstack: a TCP/IP stack at the tunnel's own addresses, over the slab pool. Decrypted
//! packets come in their slots ([`input`]); each slot is answered in place (an ICMP echo, a
//! RST), kept in a socket's queue (a datagram, TCP data), or freed. What the stack sends
//! ([`output`]) is IP packets at `off + HEADROOM`, ready for `ts_encrypt_batch`.
//!
//! - `icmp`: echo requests answered in place (ICMP, ICMPv6); `icmp_error`: destination
//!   unreachable and packet too big for our TCP connections (`pmtu`: the path MTUs learnt);
//!   `ping`: our echo requests and the replies to them.
//! - `udp`: datagrams queued per socket as slots, sent from a slot.
//! - `tcb`: TCP segment arrival (RFC 9293 §3.10.7); `reassembly`: in-order data, the
//!   out-of-order queue and its SACK blocks, the receive window; `output`: segments out; `rto`: the retransmission timeout (RFC
//!   6298) and arming timers, `timers`: what expiring ones do (retransmission, delayed ACK,
//!   persist, TIME_WAIT; `keepalive`: RFC 9293 §3.8.4's probes); `congestion`: NewReno (RFC 5681, RFC 6582); `conn`: a
//!   connection's end; `user`: the user calls of RFC 9293 §3.10.1-6 (open, send, receive,
//!   close, abort).
//! - `queue`: slot queues linked through the slots' headroom.
//!
//! The tables are `tables/sockets.rs` and `tables/tcb.rs`. Slots come from a [`Slots`] and packets go to an
//! [`Out`], generic parameters the exports implement over the pool and TypeScript's arrays.
//! The stack knows nothing of JavaScript; its clock is the caller's milliseconds.

pub mod congestion;
pub mod conn;
pub mod icmp;
pub mod icmp_error;
pub mod keepalive;
pub mod output;
pub mod ping;
pub mod pmtu;
pub mod queue;
pub mod reassembly;
pub mod rto;
pub mod tcb;
pub mod timers;
pub mod udp;
pub mod user;

use crate::consts::{HEADROOM, LARGE_SLOT_SIZE, NET_MAX_ADDRS, NET_SECRET_LEN, NET_STATS_LEN, SLOT_TAILROOM};
use crate::crypto::blake2s::Blake2s;
use crate::errors::*;
use crate::tables::drops::Drops;
use crate::tables::sockets::{Sockets, KIND_LISTENER, KIND_TCP, KIND_UDP};
use crate::tables::tcb::SockAddr;
use crate::wire::checksum;
use crate::wire::ip::{self, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// Where the stack gets slots and their bytes: the pool. Views live as long as `'m`.
pub trait Slots<'m> {
    /// A fresh slot for an IP packet of `len` bytes at `HEADROOM` (a small slot if it fits
    /// with the tailroom, else a large one): its offset and all its bytes.
    fn take(&mut self, len: usize) -> Option<(u32, &'m mut [u8])>;
    /// All the bytes of a slot the stack holds.
    fn get(&self, off: u32) -> Option<&'m mut [u8]>;
    /// Returns a slot to the pool.
    fn free(&mut self, off: u32);
}

/// Where packets the stack sends go: IP packets of `len` bytes at `off + HEADROOM`.
pub trait Out {
    fn full(&self) -> bool;
    fn push(&mut self, off: u32, len: usize);
}

/// What the stack answers as: its addresses, the tunnel MTU, buffer sizes, the secret.
pub struct Config {
    pub inited: bool,
    pub addrs: [SockAddr; NET_MAX_ADDRS],
    pub n_addrs: usize,
    pub mtu: u32,
    /// Bytes of in-order data a connection holds for the reader (its receive window).
    pub rcv_buf: u32,
    /// Bytes of data a connection holds to send (and until acknowledged).
    pub snd_buf: u32,
    pub secret: [u8; NET_SECRET_LEN],
}

impl Config {
    pub const ZERO: Config = Config {
        inited: false,
        addrs: [SockAddr::NONE; NET_MAX_ADDRS],
        n_addrs: 0,
        mtu: 0,
        rcv_buf: 0,
        snd_buf: 0,
        secret: [0; NET_SECRET_LEN],
    };

    pub fn is_local(&self, family: u8, addr: &[u8; 16]) -> bool {
        self.addrs[..self.n_addrs].iter().any(|a| a.family == family && a.addr == *addr)
    }

    /// The first local address of `family`.
    pub fn first_addr(&self, family: u8) -> Option<SockAddr> {
        self.addrs[..self.n_addrs].iter().find(|a| a.family == family).copied()
    }

    /// The MSS we announce: the MTU less the IP and TCP headers (RFC 9293 §3.7.1), so a
    /// segment of it fits the tunnel (and a large slot).
    pub fn mss(&self, family: u8) -> u16 {
        let ip = if family == 4 { ip::V4_HEADER_LEN } else { ip::V6_HEADER_LEN };
        let mtu = (self.mtu as usize).min(LARGE_SLOT_SIZE - HEADROOM - SLOT_TAILROOM);
        mtu.saturating_sub(ip + 20).clamp(64, u16::MAX as usize) as u16
    }

    /// A keyed hash of `parts` (RFC 6528's F for initial sequence numbers, RFC 6056's for
    /// ephemeral ports).
    pub fn keyed(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Blake2s::new(32, &self.secret);
        for p in parts {
            h.update(p);
        }
        h.finish()
    }
}

/// Counters (`ts_netstack_stats`), in this order.
#[derive(Clone, Copy, Default)]
pub struct Stats {
    pub ip_in: u64,
    pub ip_accepted: u64,
    pub echo_replies: u64,
    pub udp_in: u64,
    pub udp_out: u64,
    pub tcp_in: u64,
    pub tcp_out: u64,
    pub retransmits: u64,
    pub timeouts: u64,
    pub rsts_sent: u64,
    pub rsts_received: u64,
    pub active_opens: u64,
    pub passive_opens: u64,
    pub fast_retransmits: u64,
    /// ICMP errors that matched a connection and were acted on (after `udp sockets` in the
    /// stats), of them the ones that lowered a path MTU, echo replies to our pings, keepalive
    /// probes sent, connections ended by unanswered keepalives.
    pub icmp_errors: u64,
    pub pmtu_lowered: u64,
    pub ping_replies: u64,
    pub keepalives: u64,
    pub keepalive_timeouts: u64,
}

/// Packets made while input ran (echo replies, RSTs), by a UDP send or an abort, waiting
/// for the next output.
pub struct Pending {
    off: [u32; PENDING],
    len: [u32; PENDING],
    head: usize,
    n: usize,
}

const PENDING: usize = 512;

impl Pending {
    pub const ZERO: Pending = Pending { off: [0; PENDING], len: [0; PENDING], head: 0, n: 0 };

    fn drain<O: Out>(&mut self, out: &mut O) {
        while self.n > 0 && !out.full() {
            out.push(self.off[self.head], self.len[self.head] as usize);
            self.head = (self.head + 1) % PENDING;
            self.n -= 1;
        }
    }
}

impl Out for Pending {
    fn full(&self) -> bool {
        self.n >= PENDING
    }
    /// Queues a packet (callers check `full` first; a push to a full ring is ignored).
    fn push(&mut self, off: u32, len: usize) {
        if self.n < PENDING {
            let at = (self.head + self.n) % PENDING;
            self.off[at] = off;
            self.len[at] = len as u32;
            self.n += 1;
        }
    }
}

pub struct Netstack {
    pub cfg: Config,
    pub stats: Stats,
    pub pending: Pending,
    /// The earliest timer deadline known (`timers_armed`): no connection's timer is due
    /// before it.
    pub next_timer: u32,
    pub timers_armed: bool,
    /// RFC 6056's counter (ephemeral ports).
    pub port_counter: u32,
    /// Our echo requests waiting for replies, and the replies.
    pub pings: ping::Pings,
    /// Path MTUs learnt from ICMP.
    pub pmtu: pmtu::PathMtus,
}

impl Netstack {
    pub const ZERO: Netstack = Netstack {
        cfg: Config::ZERO,
        stats: Stats {
            ip_in: 0,
            ip_accepted: 0,
            echo_replies: 0,
            udp_in: 0,
            udp_out: 0,
            tcp_in: 0,
            tcp_out: 0,
            retransmits: 0,
            timeouts: 0,
            rsts_sent: 0,
            rsts_received: 0,
            active_opens: 0,
            passive_opens: 0,
            fast_retransmits: 0,
            icmp_errors: 0,
            pmtu_lowered: 0,
            ping_replies: 0,
            keepalives: 0,
            keepalive_timeouts: 0,
        },
        pending: Pending::ZERO,
        next_timer: 0,
        timers_armed: false,
        port_counter: 0,
        pings: ping::Pings::ZERO,
        pmtu: pmtu::PathMtus::ZERO,
    };

    /// Sets the secret, the tunnel MTU and the buffer sizes (ABI.md `ts_netstack_init`):
    /// once; the MTU 576..=65535 (IPv4's minimum datagram; an IPv6 address needs 1280),
    /// buffers 4 KiB..=64 MiB. 0 or E_BAD_ARG.
    pub fn init(
        &mut self,
        sk: &mut Sockets,
        secret: &[u8; NET_SECRET_LEN],
        mtu: u32,
        rcv_buf: u32,
        snd_buf: u32,
    ) -> i32 {
        let buf_ok = |b: u32| (4096..=64 << 20).contains(&b);
        if self.cfg.inited || !(576..=65535).contains(&mtu) || !buf_ok(rcv_buf) || !buf_ok(snd_buf) {
            return E_BAD_ARG;
        }
        self.cfg.secret = *secret;
        self.cfg.mtu = mtu;
        self.cfg.rcv_buf = rcv_buf;
        self.cfg.snd_buf = snd_buf;
        self.cfg.inited = true;
        let h = self.cfg.keyed(&[b"hash key"]);
        let mut k = [0u8; 8];
        k.copy_from_slice(&h[..8]);
        sk.hash_key = u64::from_le_bytes(k);
        0
    }

    /// Adds a local address (after `init`; an IPv6 one needs an MTU of 1280). 0, E_BAD_ARG
    /// (not initialized, unspecified, MTU too small for IPv6, already there), E_TABLE_FULL.
    pub fn add_address(&mut self, a: SockAddr) -> i32 {
        let c = &mut self.cfg;
        if !c.inited || a.is_unspecified() || (a.family == 6 && c.mtu < 1280) || c.is_local(a.family, &a.addr) {
            return E_BAD_ARG;
        }
        if c.n_addrs >= NET_MAX_ADDRS {
            return E_TABLE_FULL;
        }
        c.addrs[c.n_addrs] = SockAddr { port: 0, ..a };
        c.n_addrs += 1;
        0
    }

    /// A connection's timer runs until `at`.
    pub fn note_timer(&mut self, at: u32) {
        if !self.timers_armed || before(at, self.next_timer) {
            self.next_timer = at;
            self.timers_armed = true;
        }
    }

    /// Counters in `ts_netstack_stats` order, with the connections and sockets in use.
    pub fn stats(&self, sk: &Sockets) -> [f64; NET_STATS_LEN] {
        let s = &self.stats;
        [
            s.ip_in as f64,
            s.ip_accepted as f64,
            s.echo_replies as f64,
            s.udp_in as f64,
            s.udp_out as f64,
            s.tcp_in as f64,
            s.tcp_out as f64,
            s.retransmits as f64,
            s.timeouts as f64,
            s.rsts_sent as f64,
            s.rsts_received as f64,
            s.active_opens as f64,
            s.passive_opens as f64,
            s.fast_retransmits as f64,
            sk.tcp_ids.in_use() as f64,
            sk.udp_ids.in_use() as f64,
            s.icmp_errors as f64,
            s.pmtu_lowered as f64,
            s.ping_replies as f64,
            s.keepalives as f64,
            s.keepalive_timeouts as f64,
        ]
    }
}

/// What the stack borrows from the tunnel.
pub struct Ctx<'a> {
    pub net: &'a mut Netstack,
    pub sk: &'a mut Sockets,
    pub drops: &'a mut Drops,
}

/// `a` comes before `b` on a wrapping clock or sequence space.
#[inline]
pub fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a <= b` in sequence space.
#[inline]
pub fn before_eq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

/// The IP header of a packet for the stack, copied out of its slot.
#[derive(Clone, Copy)]
pub struct Ip {
    pub family: u8,
    pub hl: usize,
    pub total: usize,
    pub proto: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

impl Ip {
    pub fn src(&self) -> &[u8] {
        &self.src[..if self.family == 4 { 4 } else { 16 }]
    }
    pub fn dst(&self) -> &[u8] {
        &self.dst[..if self.family == 4 { 4 } else { 16 }]
    }
    /// Offset of the L4 header in the slot.
    pub fn l4_at(&self) -> usize {
        HEADROOM + self.hl
    }
    pub fn l4_len(&self) -> usize {
        self.total - self.hl
    }
    /// The L4 checksum of `l4` (the whole segment or datagram, its checksum field in place)
    /// verifies against the pseudo-header.
    pub fn l4_checksum_ok(&self, l4: &[u8]) -> bool {
        let acc = checksum::pseudo_header(self.src(), self.dst(), self.proto, l4.len() as u32);
        checksum::verifies(checksum::add(acc, l4))
    }
}

/// The checksum field for the L4 bytes `l4` (field zeroed) from `src` to `dst`; 0 is sent as
/// `ffff` (RFC 768; for TCP and ICMPv6 the same value).
pub fn l4_checksum(src: &[u8], dst: &[u8], proto: u8, l4: &[u8]) -> [u8; 2] {
    let c = checksum::finish(checksum::add(checksum::pseudo_header(src, dst, proto, l4.len() as u32), l4));
    if c == [0, 0] {
        [0xff, 0xff]
    } else {
        c
    }
}

/// What became of a packet's slot.
pub enum Fate {
    /// Kept: queued on a socket or sent back.
    Kept,
    /// Done with (a pure ACK, a SYN): to be freed.
    Done,
    /// Dropped for this reason: to be freed.
    Dropped(i32),
    /// Dropped for this reason, and the slot reused for the answer (a RST).
    Answered(i32),
}

impl From<Result<bool, i32>> for Fate {
    fn from(r: Result<bool, i32>) -> Fate {
        match r {
            Ok(true) => Fate::Kept,
            Ok(false) => Fate::Done,
            Err(c) => Fate::Dropped(c),
        }
    }
}

/// One packet for the stack: IP at `off + HEADROOM`, `len` bytes. The slot is the stack's
/// now: kept, sent back, or freed (a drop counted by its reason). Returns whether the packet
/// was accepted (not dropped).
pub fn input<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, off: u32, len: usize, now: u32) -> bool {
    cx.net.stats.ip_in += 1;
    let fate = match slots.get(off) {
        Some(slot) => dispatch(cx, slots, off, slot, len, now),
        None => Fate::Dropped(E_BAD_ARG),
    };
    match fate {
        Fate::Kept | Fate::Done => {
            if let Fate::Done = fate {
                slots.free(off);
            }
            cx.net.stats.ip_accepted += 1;
            true
        }
        Fate::Dropped(code) => {
            cx.drops.count(code);
            slots.free(off);
            false
        }
        Fate::Answered(code) => {
            cx.drops.count(code);
            false
        }
    }
}

/// Parses the IP header and hands the packet to its protocol.
fn dispatch<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, off: u32, slot: &'m mut [u8], len: usize, now: u32) -> Fate {
    let ip = match parse(cx, slot, len) {
        Ok(ip) => ip,
        Err(code) => return Fate::Dropped(code),
    };
    match (ip.family, ip.proto) {
        (4, PROTO_ICMP) | (6, PROTO_ICMPV6) => icmp::input(cx, slots, off, slot, &ip, now).into(),
        (_, PROTO_UDP) => udp::input(cx, slots, off, slot, &ip).into(),
        (_, PROTO_TCP) => tcb::input(cx, slots, off, slot, &ip, now),
        _ => Fate::Dropped(E_UNSUPPORTED),
    }
}

/// The IP header of a packet to one of the stack's addresses, checked.
fn parse(cx: &Ctx, slot: &[u8], len: usize) -> Result<Ip, i32> {
    let bytes = slot.get(HEADROOM..HEADROOM + len).ok_or(E_TOO_BIG)?;
    let p = ip::Packet::new_checked(bytes)?;
    if !p.header_checksum_ok() {
        return Err(E_CHECKSUM);
    }
    if p.version() == 4 && p.is_fragment() {
        return Err(E_UNSUPPORTED);
    }
    let (family, hl, total, proto) = (p.version(), p.header_len(), p.total_len(), p.protocol());
    let mut ip = Ip { family, hl, total, proto, src: [0; 16], dst: [0; 16] };
    ip.src[..p.src_addr().len()].copy_from_slice(p.src_addr());
    ip.dst[..p.dst_addr().len()].copy_from_slice(p.dst_addr());
    if !cx.net.cfg.is_local(ip.family, &ip.dst) {
        return Err(E_NOT_LOCAL);
    }
    Ok(ip)
}

/// Everything the stack has to send now, into `out` until it is full: packets made during
/// input, then what due timers ask for, then the connections with output to make. What does
/// not fit waits for the next call.
pub fn output<'m, S: Slots<'m>, O: Out>(cx: &mut Ctx, slots: &mut S, out: &mut O, now: u32) {
    cx.net.pending.drain(out);
    if cx.net.timers_armed && before_eq(cx.net.next_timer, now) {
        timers::run(cx, slots, now);
        cx.net.pending.drain(out);
    }
    for _ in 0..cx.sk.dirty.len() {
        if out.full() {
            break;
        }
        let i = match cx.sk.take_dirty() {
            Some(i) => i,
            None => break,
        };
        if !cx.sk.tcp[i].used {
            continue;
        }
        if !output::tcp_output(cx, slots, out, i, now) {
            cx.sk.mark_dirty(i);
            break;
        }
    }
    cx.net.pending.drain(out);
}

/// Milliseconds from `now` until the stack's next timer (0: due), or `None` if none runs.
pub fn next_timeout(cx: &Ctx, now: u32) -> Option<u32> {
    if !cx.net.timers_armed {
        return None;
    }
    Some(if before_eq(cx.net.next_timer, now) { 0 } else { cx.net.next_timer.wrapping_sub(now) })
}

/// Readiness flags (ABI.md, `ts_netstack_events`).
pub mod ready {
    pub const READABLE: u32 = 1;
    pub const WRITABLE: u32 = 2;
    pub const ACCEPTABLE: u32 = 4;
    pub const CONNECTED: u32 = 8;
    pub const EOF: u32 = 16;
    pub const CLOSED: u32 = 32;
    pub const ERROR: u32 = 64;
}

/// The next socket with news and its readiness now: (handle, flags). Sockets freed since
/// they were queued are skipped.
pub fn next_event(cx: &mut Ctx) -> Option<(u32, u32)> {
    while let Some((kind, i)) = cx.sk.next_event() {
        match kind {
            KIND_UDP if cx.sk.udp[i].used => {
                let r = if cx.sk.udp[i].queue.head != 0 { ready::READABLE } else { 0 };
                return Some((cx.sk.udp_handle(i), r | ready::WRITABLE));
            }
            KIND_LISTENER if cx.sk.listeners[i].used => {
                let r = if cx.sk.listeners[i].accept_head != 0 { ready::ACCEPTABLE } else { 0 };
                return Some((cx.sk.listener_handle(i), r));
            }
            KIND_TCP if cx.sk.tcp_index(cx.sk.tcp_handle(i)).is_some() => {
                return Some((cx.sk.tcp_handle(i), user::readiness(cx, i)));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod testing_icmp;
#[cfg(test)]
mod testing_syn_sent;
