//! ABI.md "Netstack": the TCP/IP stack at the tunnel's addresses (`path/netstack/`,
//! `tables/sockets.rs`, `tables/tcb.rs`): configuration, packets in and out, events, UDP
//! sockets and TCP listeners and connections, all by handle.

use super::{parts, written, LinearMemory, Parts};
use crate::consts::{
    HEADROOM, LARGE_SLOT_SIZE, NET_ADDR_LEN, NET_DGRAM_LEN, NET_EVENT_LEN, NET_PING_LEN, NET_SECRET_LEN, NET_SEG_LEN,
    SLOT_SIZE, SLOT_TAILROOM,
};
use crate::errors::*;
use crate::mem::{Mem, Words};
use crate::path::netstack::{self, keepalive, ping, udp, user, Out, Slots};
use crate::tables::pool::{Pool, LARGE, SMALL};
use crate::tables::tcb::SockAddr;

/// Slots from the pool, their bytes from linear memory.
struct NetSlots<'a> {
    pool: &'a mut Pool,
    mem: Mem,
}

impl Slots<'static> for NetSlots<'_> {
    #[inline]
    fn take(&mut self, len: usize) -> Option<(u32, &'static mut [u8])> {
        let (class, size) =
            if HEADROOM + len + SLOT_TAILROOM <= SLOT_SIZE { (SMALL, SLOT_SIZE) } else { (LARGE, LARGE_SLOT_SIZE) };
        let off = self.pool.alloc(class, &mut LinearMemory);
        match self.mem.bytes_mut(off, size) {
            Some(b) if off != 0 => Some((off, b)),
            _ => None,
        }
    }
    #[inline]
    fn get(&self, off: u32) -> Option<&'static mut [u8]> {
        self.mem.bytes_mut(off, self.pool.slot_size_at(off)?)
    }
    #[inline]
    fn free(&mut self, off: u32) {
        self.pool.free(off);
    }
}

/// `offs`/`lens` arrays the packets out are written to.
struct ArrayOut {
    offs: Words,
    lens: Words,
    n: usize,
}

impl Out for ArrayOut {
    #[inline]
    fn full(&self) -> bool {
        self.n >= self.offs.count()
    }
    #[inline]
    fn push(&mut self, off: u32, len: usize) {
        self.offs.set(self.n, off);
        self.lens.set(self.n, len as u32);
        self.n += 1;
    }
}

/// The stack's borrows and its slots, from one `parts()`.
macro_rules! stack {
    ($p:ident, $cx:ident, $slots:ident) => {
        let Parts { mem, tunnel, .. } = $p;
        #[allow(unused_mut)]
        let (mut $cx, pool) = tunnel.net_ctx();
        #[allow(unused_mut)]
        let mut $slots = NetSlots { pool, mem };
    };
}

/// An address record at `ptr` (0: the unspecified address of no family, port 0).
fn record(mem: Mem, ptr: u32) -> Result<SockAddr, i32> {
    if ptr == 0 {
        return Ok(SockAddr::NONE);
    }
    let r = mem.read::<NET_ADDR_LEN>(ptr).ok_or(E_BAD_ARG)?;
    SockAddr::from_record(&r).ok_or(E_BAD_ARG)
}

fn code(r: Result<(), i32>) -> i32 {
    r.map_or_else(|e| e, |_| 0)
}

// ---------------------------------------------------------------- the stack

/// Once: the 32-byte secret at `secret`, the tunnel MTU, receive and send buffer bytes per
/// connection. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_init(secret: u32, mtu: u32, rcv_buf: u32, snd_buf: u32) -> i32 {
    let p = parts();
    let s = match p.mem.read::<NET_SECRET_LEN>(secret) {
        Some(s) => s,
        None => return E_BAD_ARG,
    };
    let t = p.tunnel;
    t.net.init(&mut t.sockets, &s, mtu, rcv_buf, snd_buf)
}

/// Adds a local address (family 4 or 6, 4 or 16 bytes at `addr`). 0, E_BAD_ARG, E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_netstack_add_address(family: u32, addr: u32) -> i32 {
    let p = parts();
    let n = match family {
        4 => 4,
        6 => 16,
        _ => return E_BAD_ARG,
    };
    match p.mem.bytes(addr, n).and_then(|a| SockAddr::new(a, 0)) {
        Some(a) => p.tunnel.net.add_address(a),
        None => E_BAD_ARG,
    }
}

/// Packets for the stack: IP at `offs[i] + HEADROOM`, `lens[i]` bytes, each in a live pool
/// slot that becomes the stack's (one that is not is counted as E_NOT_LIVE and left alone).
/// Returns how many were accepted (not dropped); 0 if an array is out of bounds.
#[no_mangle]
pub extern "C" fn ts_netstack_input(offs: u32, lens: u32, n: u32, now: u32) -> u32 {
    let p = parts();
    let (o, l) = match (p.mem.words(offs, n), p.mem.words(lens, n)) {
        (Some(o), Some(l)) => (o, l),
        _ => return 0,
    };
    stack!(p, cx, slots);
    let mut accepted = 0;
    for i in 0..o.count() {
        let off = o.get(i);
        if !slots.pool.is_live(off) {
            cx.drops.count(E_NOT_LIVE);
            continue;
        }
        accepted += netstack::input(&mut cx, &mut slots, off, l.get(i) as usize, now) as u32;
    }
    accepted
}

/// What the stack sends now (timers due at `now` run first): up to `cap` IP packets at
/// `offs[i] + HEADROOM`, `lens[i]` bytes, each slot now the caller's (for
/// `ts_encrypt_batch`). Returns how many; 0 if an array is out of bounds. May grow memory.
#[no_mangle]
pub extern "C" fn ts_netstack_output(now: u32, offs: u32, lens: u32, cap: u32) -> u32 {
    let p = parts();
    let mut out = match (p.mem.words(offs, cap), p.mem.words(lens, cap)) {
        (Some(o), Some(l)) => ArrayOut { offs: o, lens: l, n: 0 },
        _ => return 0,
    };
    stack!(p, cx, slots);
    netstack::output(&mut cx, &mut slots, &mut out, now);
    out.n as u32
}

/// Milliseconds from `now` to the stack's next timer (0: due now), or -1 if none runs.
#[no_mangle]
pub extern "C" fn ts_netstack_next_timer(now: u32) -> i32 {
    let (cx, _) = parts().tunnel.net_ctx();
    netstack::next_timeout(&cx, now).map_or(-1, |ms| ms.min(i32::MAX as u32) as i32)
}

/// The stack ends: listeners closed, every connection reset (a RST queued to the peer of a
/// synchronized one: collect it with `ts_netstack_output`), every socket freed with the slots
/// it held. Every handle is stale afterwards. Returns 0.
#[no_mangle]
pub extern "C" fn ts_netstack_close(now: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    user::close_all(&mut cx, &mut slots, now);
    0
}

/// Up to `max` sockets with news: records of NET_EVENT_LEN bytes (handle u32, readiness
/// u32) at `out`. Returns how many; 0 if `out` is out of bounds.
#[no_mangle]
pub extern "C" fn ts_netstack_events(out: u32, max: u32) -> u32 {
    let p = parts();
    let w = match p.mem.words(out, max.saturating_mul((NET_EVENT_LEN / 4) as u32)) {
        Some(w) => w,
        None => return 0,
    };
    let (mut cx, _) = p.tunnel.net_ctx();
    let mut n = 0;
    while n < max as usize {
        match netstack::next_event(&mut cx) {
            Some((h, flags)) => {
                w.set(2 * n, h);
                w.set(2 * n + 1, flags);
                n += 1;
            }
            None => break,
        }
    }
    n as u32
}

/// Writes f64[NET_STATS_LEN] (see `Netstack::stats`). 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_stats(out: u32) -> i32 {
    let p = parts();
    let t = p.tunnel;
    written(p.mem.write_f64s(out, &t.net.stats(&t.sockets)))
}

/// An echo request to the address record at `to` (port ignored) with identifier `id` and
/// sequence number `seq` (16 bits each), from the stack's first address of the family, sent at
/// the next output. 0, E_BAD_ARG, E_AGAIN (output ring full), E_EXHAUSTED.
#[no_mangle]
pub extern "C" fn ts_netstack_ping(to: u32, id: u32, seq: u32, now: u32) -> i32 {
    let p = parts();
    let to = match record(p.mem, to) {
        Ok(a) if id <= 0xffff && seq <= 0xffff => a,
        _ => return E_BAD_ARG,
    };
    stack!(p, cx, slots);
    code(ping::send(&mut cx, &mut slots, to, id as u16, seq as u16, now))
}

/// Takes up to `max` replies to our echo requests, oldest first: records of NET_PING_LEN bytes
/// at `out` (the replier's address record, id u16, seq u16, round trip ms u32, arrival u32).
/// Returns how many; 0 if none or `out` is out of bounds.
#[no_mangle]
pub extern "C" fn ts_netstack_ping_replies(out: u32, max: u32) -> u32 {
    let p = parts();
    if !p.mem.valid(out, max as u64 * NET_PING_LEN as u64) {
        return 0;
    }
    let pings = &mut p.tunnel.net.pings;
    let mut n = 0;
    while n < max {
        let r = match pings.take() {
            Some(r) => r,
            None => break,
        };
        let mut b = [0u8; NET_PING_LEN];
        b[..NET_ADDR_LEN].copy_from_slice(&r.from.record());
        b[NET_ADDR_LEN..NET_ADDR_LEN + 2].copy_from_slice(&r.id.to_le_bytes());
        b[NET_ADDR_LEN + 2..NET_ADDR_LEN + 4].copy_from_slice(&r.seq.to_le_bytes());
        b[NET_ADDR_LEN + 4..NET_ADDR_LEN + 8].copy_from_slice(&r.rtt.to_le_bytes());
        b[NET_ADDR_LEN + 8..].copy_from_slice(&r.at.to_le_bytes());
        p.mem.write(out + n * NET_PING_LEN as u32, &b);
        n += 1;
    }
    n
}

// ---------------------------------------------------------------- UDP

/// Binds the address record at `local` (address zero: any of the family's; port 0: an
/// ephemeral one). A handle, or E_BAD_ARG / E_ADDR_IN_USE / E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_netstack_udp_bind(local: u32) -> i32 {
    let p = parts();
    let a = match record(p.mem, local) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let (mut cx, _) = p.tunnel.net_ctx();
    match udp::bind(&mut cx, a) {
        Ok(i) => cx.sk.udp_handle(i) as i32,
        Err(e) => e,
    }
}

/// Closes a UDP socket; its queued datagrams go back to the pool. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_udp_close(h: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    match cx.sk.udp_index(h) {
        Some(s) => {
            udp::close(&mut cx, &mut slots, s);
            0
        }
        None => E_BAD_ARG,
    }
}

/// Takes up to `max` queued datagrams: records of NET_DGRAM_LEN bytes at `out` (slot u32,
/// data pointer u32, data length u32, 0 u32, the sender's address record); each slot is now
/// the caller's. Returns how many, E_AGAIN if none is queued, E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_udp_recv(h: u32, out: u32, max: u32) -> i32 {
    let p = parts();
    if !p.mem.valid(out, max as u64 * NET_DGRAM_LEN as u64) {
        return E_BAD_ARG;
    }
    let mem = p.mem;
    stack!(p, cx, slots);
    let s = match cx.sk.udp_index(h) {
        Some(s) => s,
        None => return E_BAD_ARG,
    };
    let mut n = 0;
    while n < max {
        let d = match udp::recv(&mut cx, &slots, s) {
            Some(d) => d,
            None => break,
        };
        let mut r = [0u8; NET_DGRAM_LEN];
        r[0..4].copy_from_slice(&d.off.to_le_bytes());
        r[4..8].copy_from_slice(&(d.off + d.start).to_le_bytes());
        r[8..12].copy_from_slice(&d.len.to_le_bytes());
        r[16..].copy_from_slice(&d.from.record());
        mem.write(out + n * NET_DGRAM_LEN as u32, &r);
        n += 1;
    }
    if n == 0 {
        E_AGAIN
    } else {
        n as i32
    }
}

/// Sends the `len` bytes at `data_off` of slot `off` to the address record at `to`. On
/// success (0) the slot is the stack's; else it stays the caller's: E_BAD_ARG, E_TOO_BIG,
/// E_AGAIN (output ring full: after the next output).
#[no_mangle]
pub extern "C" fn ts_netstack_udp_send(h: u32, off: u32, data_off: u32, len: u32, to: u32) -> i32 {
    let p = parts();
    let to = match record(p.mem, to) {
        Ok(a) => a,
        Err(e) => return e,
    };
    stack!(p, cx, slots);
    match cx.sk.udp_index(h) {
        Some(s) if slots.pool.is_live(off) => {
            code(udp::send(&mut cx, &mut slots, s, off, data_off as usize, len as usize, &to))
        }
        _ => E_BAD_ARG,
    }
}

// ---------------------------------------------------------------- TCP

/// A listener on the address record at `local` (address zero: any of the family's) with a
/// backlog of `backlog` connections not yet accepted. A handle, or E_BAD_ARG /
/// E_ADDR_IN_USE / E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_listen(local: u32, backlog: u32) -> i32 {
    let p = parts();
    let a = match record(p.mem, local) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let (mut cx, _) = p.tunnel.net_ctx();
    match user::listen(&mut cx, a, backlog) {
        Ok(l) => cx.sk.listener_handle(l) as i32,
        Err(e) => e,
    }
}

/// Closes a listener; connections it has not handed out are reset. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_unlisten(h: u32, now: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    match cx.sk.listener_index(h) {
        Some(l) => {
            user::unlisten(&mut cx, &mut slots, l, now);
            0
        }
        None => E_BAD_ARG,
    }
}

/// The next established connection of a listener: its handle, E_AGAIN or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_accept(h: u32) -> i32 {
    let (mut cx, _) = parts().tunnel.net_ctx();
    match cx.sk.listener_index(h).map(|l| user::accept(&mut cx, l)) {
        Some(Ok(i)) => cx.sk.tcp_handle(i) as i32,
        Some(Err(e)) => e,
        None => E_BAD_ARG,
    }
}

/// Opens a connection to the address record at `remote` from the one at `local` (0, or
/// address zero: the stack's first of the family; port 0: ephemeral). Its handle (the SYN
/// goes at the next output), or E_BAD_ARG / E_ADDR_IN_USE / E_TABLE_FULL.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_connect(remote: u32, local: u32, now: u32) -> i32 {
    let p = parts();
    let (r, l) = match (record(p.mem, remote), record(p.mem, local)) {
        (Ok(r), Ok(l)) if remote != 0 => (r, l),
        _ => return E_BAD_ARG,
    };
    stack!(p, cx, slots);
    match user::connect(&mut cx, &mut slots, r, l, now) {
        Ok(i) => cx.sk.tcp_handle(i) as i32,
        Err(e) => e,
    }
}

/// Queues the `len` bytes at `data_off` (≥ HEADROOM) of slot `off` to send. `len` (the slot
/// is the stack's), or E_AGAIN (send buffer full), E_NOT_CONNECTED, E_BAD_ARG (the slot
/// stays the caller's).
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_send(h: u32, off: u32, data_off: u32, len: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    match cx.sk.tcp_index(h) {
        Some(i) if slots.pool.is_live(off) => {
            match user::send(&mut cx, &mut slots, i, off, data_off as usize, len as usize) {
                Ok(n) => n as i32,
                Err(e) => e,
            }
        }
        _ => E_BAD_ARG,
    }
}

/// Lists up to `max` pieces of the data received in order (records of NET_SEG_LEN bytes:
/// pointer u32, length u32), oldest first, without taking them. Returns how many; 0 at the
/// end of the data; E_AGAIN if none yet; E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_recv(h: u32, out: u32, max: u32) -> i32 {
    let p = parts();
    let w = match p.mem.words(out, max.saturating_mul((NET_SEG_LEN / 4) as u32)) {
        Some(w) => w,
        None => return E_BAD_ARG,
    };
    stack!(p, cx, slots);
    let i = match cx.sk.tcp_index(h) {
        Some(i) => i,
        None => return E_BAD_ARG,
    };
    let mut k = 0;
    let r = user::recv(&cx, &slots, i, |off, at, len| {
        if k >= max as usize {
            return false;
        }
        w.set(2 * k, off + at);
        w.set(2 * k + 1, len);
        k += 1;
        k < max as usize
    });
    match r {
        Ok(_) => k as i32,
        Err(e) => e,
    }
}

/// The reader is done with `n` bytes of the data listed: bytes consumed, or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_consume(h: u32, n: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    match cx.sk.tcp_index(h) {
        Some(i) => user::consume(&mut cx, &mut slots, i, n).min(i32::MAX as u32) as i32,
        None => E_BAD_ARG,
    }
}

/// Closes for sending (a FIN after the queued data). 0, E_NOT_CONNECTED or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_shutdown(h: u32) -> i32 {
    let (mut cx, _) = parts().tunnel.net_ctx();
    match cx.sk.tcp_index(h) {
        Some(i) => code(user::shutdown(&mut cx, i)),
        None => E_BAD_ARG,
    }
}

/// Resets the connection (a RST if it is synchronized); it is CLOSED until released.
/// 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_abort(h: u32, now: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    match cx.sk.tcp_index(h) {
        Some(i) => {
            user::abort(&mut cx, &mut slots, i, now);
            0
        }
        None => E_BAD_ARG,
    }
}

/// Lets go of the handle (it is invalid afterwards): the close goes on without the caller,
/// or a RST if received data was left unread. 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_release(h: u32, now: u32) -> i32 {
    let p = parts();
    stack!(p, cx, slots);
    match cx.sk.tcp_index(h) {
        Some(i) => {
            user::release(&mut cx, &mut slots, i, now);
            0
        }
        None => E_BAD_ARG,
    }
}

/// Keepalive for a connection: after `idle` ms without an acceptable segment, up to `count`
/// probes `intvl` ms apart, then a reset (error 3, timed out); `idle` 0 turns it off. 0 or
/// E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_keepalive(h: u32, idle: u32, intvl: u32, count: u32, now: u32) -> i32 {
    let (mut cx, _) = parts().tunnel.net_ctx();
    match cx.sk.tcp_index(h) {
        Some(i) => code(keepalive::set(&mut cx, i, idle, intvl, count, now)),
        None => E_BAD_ARG,
    }
}

/// Writes f64[NET_TCP_INFO_LEN] (see `user::info`). 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_info(h: u32, out: u32) -> i32 {
    let p = parts();
    let mem = p.mem;
    let (cx, _) = p.tunnel.net_ctx();
    match cx.sk.tcp_index(h) {
        Some(i) => written(mem.write_f64s(out, &user::info(&cx, i))),
        None => E_BAD_ARG,
    }
}

/// Writes the local, then the remote address record (2 × NET_ADDR_LEN bytes). 0 or E_BAD_ARG.
#[no_mangle]
pub extern "C" fn ts_netstack_tcp_endpoints(h: u32, out: u32) -> i32 {
    let p = parts();
    let t = &p.tunnel.sockets;
    match t.tcp_index(h) {
        Some(i) => {
            let mut r = [0u8; 2 * NET_ADDR_LEN];
            r[..NET_ADDR_LEN].copy_from_slice(&t.tcp[i].local.record());
            r[NET_ADDR_LEN..].copy_from_slice(&t.tcp[i].remote.record());
            written(p.mem.write(out, &r))
        }
        None => E_BAD_ARG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{NET_STATS_LEN, NET_TCP_INFO_LEN};
    use crate::exports::host::*;
    use crate::exports::pool::{ts_pool_alloc, ts_pool_init};
    use crate::path::netstack::testing::{echo_request, tcp_fields, udp_packet, v4};
    use crate::wire::tcp::SYN;

    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];

    /// A fresh instance with a pool and a stack at 10.0.0.1.
    fn setup() -> u32 {
        fresh();
        assert_eq!(ts_pool_init(64, 1024), 0);
        let sp = m().scratch_ptr();
        assert!(m().write(sp, &[7; 32]));
        assert_eq!(ts_netstack_init(sp, 1420, 1 << 18, 1 << 18), 0);
        assert_eq!(ts_netstack_init(sp, 1420, 1 << 18, 1 << 18), E_BAD_ARG); // once
        assert!(m().write(sp, &A));
        assert_eq!(ts_netstack_add_address(4, sp), 0);
        assert_eq!(ts_netstack_add_address(4, sp), E_BAD_ARG); // already there
        assert_eq!(ts_netstack_add_address(5, sp), E_BAD_ARG);
        sp
    }

    /// A slot holding `pkt` at HEADROOM.
    fn slot_with(pkt: &[u8]) -> u32 {
        let off = ts_pool_alloc();
        assert!(m().write(off + HEADROOM as u32, pkt));
        off
    }

    /// Feeds one packet, returns what comes out (offset, bytes).
    fn round(sp: u32, pkt: &[u8], now: u32) -> Vec<(u32, Vec<u8>)> {
        let off = slot_with(pkt);
        let (offs, lens) = (sp + 1024, sp + 2048);
        m().words(offs, 1).unwrap().set(0, off);
        m().words(lens, 1).unwrap().set(0, pkt.len() as u32);
        ts_netstack_input(offs, lens, 1, now);
        let n = ts_netstack_output(now, offs, lens, 64);
        let (o, l) = (m().words(offs, n).unwrap(), m().words(lens, n).unwrap());
        (0..n as usize)
            .map(|i| (o.get(i), m().bytes(o.get(i) + HEADROOM as u32, l.get(i) as usize).unwrap().to_vec()))
            .collect()
    }

    fn in_use() -> f64 {
        tunnel().pool.stats()[2]
    }

    #[test]
    fn ping_through_the_exports() {
        let sp = setup();
        let req = echo_request(&v4(B, 0), &v4(A, 0), 9, 1, b"hi");
        let out = round(sp, &req, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].1[12..20], &[10, 0, 0, 1, 10, 0, 0, 2]);
        assert_eq!(out[0].1[20], 0); // echo reply
        assert_eq!(crate::exports::pool::ts_pool_free(out[0].0), 0);
        // A slot that is not live is refused and counted, not freed.
        let (offs, lens) = (sp + 1024, sp + 2048);
        m().words(offs, 1).unwrap().set(0, 12345);
        assert_eq!(ts_netstack_input(offs, lens, 1, 0), 0);
        assert_eq!(tunnel().drops.get(E_NOT_LIVE), 1);
        assert!(m().write_f64s(sp, &[0.0; NET_STATS_LEN]));
        assert_eq!(ts_netstack_stats(sp), 0);
        assert_eq!(m().read::<8>(sp + 2 * 8), Some(1f64.to_le_bytes())); // echo_replies
        assert_eq!(in_use(), 0.0);
    }

    #[test]
    fn udp_round_trip_through_the_exports() {
        let sp = setup();
        let rec = sp + 4096;
        assert!(m().write(rec, &v4([0; 4], 53).record()));
        let h = ts_netstack_udp_bind(rec);
        assert!(h > 0);
        assert_eq!(ts_netstack_udp_bind(rec), E_ADDR_IN_USE);
        assert_eq!(ts_netstack_udp_recv(h as u32, sp + 8192, 4), E_AGAIN);
        let q = udp_packet(&v4(B, 1234), &v4(A, 53), b"query");
        assert!(round(sp, &q, 0).is_empty());
        assert_eq!(ts_netstack_events(sp + 8192, 8), 1);
        assert_eq!(m().words(sp + 8192, 2).unwrap().get(0), h as u32);
        assert_eq!(ts_netstack_udp_recv(h as u32, sp + 8192, 4), 1);
        let r = m().bytes(sp + 8192, NET_DGRAM_LEN).unwrap().to_vec();
        let w = |k: usize| u32::from_le_bytes([r[k], r[k + 1], r[k + 2], r[k + 3]]);
        let (off, data, len) = (w(0), w(4), w(8));
        assert_eq!(m().bytes(data, len as usize).unwrap(), b"query");
        assert_eq!(&r[16..], &v4(B, 1234).record());
        // The answer from the same slot.
        assert!(m().write(off + 200, b"answer!"));
        assert!(m().write(rec, &v4(B, 1234).record()));
        assert_eq!(ts_netstack_udp_send(h as u32, off, 200, 7, rec), 0);
        let (offs, lens) = (sp + 1024, sp + 2048);
        assert_eq!(ts_netstack_output(0, offs, lens, 8), 1);
        let pkt = m().bytes(off + HEADROOM as u32, 35).unwrap();
        assert_eq!((&pkt[16..20], &pkt[22..24], &pkt[28..]), (&B[..], &[4, 0xd2][..], &b"answer!"[..]));
        assert_eq!(crate::exports::pool::ts_pool_free(off), 0);
        // Hostile lengths and offsets: refused, nothing touched.
        let s = ts_pool_alloc();
        for (d, l) in [(0xffff_fff0, 0x20), (16, u32::MAX), (u32::MAX, 1), (2040, 100)] {
            assert!(ts_netstack_udp_send(h as u32, s, d, l, rec) < 0, "{} {}", d, l);
        }
        assert_eq!(ts_netstack_udp_send(h as u32, 12345, 16, 1, rec), E_BAD_ARG); // not a slot
        assert_eq!(crate::exports::pool::ts_pool_free(s), 0);
        assert_eq!(ts_netstack_udp_close(h as u32), 0);
        assert_eq!(ts_netstack_udp_close(h as u32), E_BAD_ARG);
        assert_eq!(in_use(), 0.0);
    }

    #[test]
    fn tcp_connect_listen_and_handles() {
        let sp = setup();
        let (rec, loc) = (sp + 4096, sp + 4200);
        assert!(m().write(rec, &v4(B, 443).record()));
        assert_eq!(ts_netstack_tcp_connect(0, 0, 0), E_BAD_ARG);
        let c = ts_netstack_tcp_connect(rec, 0, 0);
        assert!(c > 0);
        let (offs, lens) = (sp + 1024, sp + 2048);
        assert_eq!(ts_netstack_output(0, offs, lens, 8), 1);
        let syn_off = m().words(offs, 1).unwrap().get(0);
        let len = m().words(lens, 1).unwrap().get(0) as usize;
        let syn = m().bytes(syn_off + HEADROOM as u32, len).unwrap().to_vec();
        assert_eq!(tcp_fields(&syn).2, SYN);
        assert_eq!(crate::exports::pool::ts_pool_free(syn_off), 0);
        assert_eq!(ts_netstack_next_timer(0), 1000); // the initial RTO
        assert_eq!(ts_netstack_tcp_info(c as u32, sp), 0);
        assert_eq!(m().read::<8>(sp), Some(1f64.to_le_bytes())); // SYN_SENT
        assert_eq!(ts_netstack_tcp_endpoints(c as u32, sp), 0);
        assert_eq!(m().bytes(sp + NET_ADDR_LEN as u32, NET_ADDR_LEN).unwrap(), &v4(B, 443).record());
        assert_eq!(m().bytes(sp, 8).unwrap()[4..8], A);
        assert_eq!(ts_netstack_tcp_recv(c as u32, sp, 4), E_AGAIN);
        let off = ts_pool_alloc();
        assert_eq!(ts_netstack_tcp_send(c as u32, off, 8, 10), E_BAD_ARG); // data in the headroom
        for (d, l) in [(0xffff_fff0, 0x20), (16, u32::MAX), (16, 0), (2040, 100)] {
            assert_eq!(ts_netstack_tcp_send(c as u32, off, d, l), E_BAD_ARG, "{} {}", d, l);
        }
        assert_eq!(ts_netstack_tcp_send(c as u32, off, 16, 10), 10); // queued until established
        assert_eq!(ts_netstack_tcp_release(c as u32, 5), 0);
        assert_eq!(ts_netstack_tcp_release(c as u32, 5), E_BAD_ARG);
        assert_eq!(ts_netstack_tcp_info(c as u32, sp), E_BAD_ARG);
        // A listener; a handle of one kind is no handle of another.
        assert!(m().write(loc, &v4([0; 4], 80).record()));
        let l = ts_netstack_tcp_listen(loc, 8);
        assert!(l > 0);
        assert_eq!(ts_netstack_tcp_listen(loc, 8), E_ADDR_IN_USE);
        assert_eq!(ts_netstack_tcp_accept(l as u32), E_AGAIN);
        assert_eq!(ts_netstack_tcp_accept(c as u32), E_BAD_ARG);
        assert_eq!(ts_netstack_udp_close(l as u32), E_BAD_ARG);
        assert_eq!(ts_netstack_tcp_unlisten(l as u32, 0), 0);
        assert!(m().write_f64s(sp, &[0.0; NET_TCP_INFO_LEN]));
        assert_eq!(in_use(), 0.0);
        // The deadline known may be early (the connection is gone): one output at it learns
        // there is none.
        assert_eq!(ts_netstack_next_timer(10), 990);
        assert_eq!(ts_netstack_output(1000, offs, lens, 8), 0);
        assert_eq!(ts_netstack_next_timer(1000), -1);
    }

    #[test]
    fn pings_and_keepalive_through_the_exports() {
        let sp = setup();
        let (rec, out) = (sp + 4096, sp + 8192);
        assert!(m().write(rec, &v4(B, 0).record()));
        assert_eq!(ts_netstack_ping(rec, 0x1_0000, 1, 0), E_BAD_ARG); // 16 bits
        assert_eq!(ts_netstack_ping(rec, 1, 0x1_0000, 0), E_BAD_ARG);
        assert_eq!(ts_netstack_ping(0, 1, 1, 0), E_BAD_ARG);
        assert_eq!(ts_netstack_ping(rec, 0xabcd, 7, 100), 0);
        let (offs, lens) = (sp + 1024, sp + 2048);
        assert_eq!(ts_netstack_output(100, offs, lens, 8), 1);
        let off = m().words(offs, 1).unwrap().get(0);
        let len = m().words(lens, 1).unwrap().get(0) as usize;
        let mut req = m().bytes(off + HEADROOM as u32, len).unwrap().to_vec();
        assert_eq!(crate::exports::pool::ts_pool_free(off), 0);
        // B answers: the request with the addresses swapped, type 0, checksum fixed.
        req[12..20].copy_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
        req[20] = 0;
        req[22..24].copy_from_slice(&[0, 0]);
        let c = crate::wire::checksum::finish(crate::wire::checksum::add(0, &req[20..]));
        req[22..24].copy_from_slice(&c);
        req[10..12].copy_from_slice(&[0, 0]);
        let c = crate::wire::checksum::finish(crate::wire::checksum::add(0, &req[..20]));
        req[10..12].copy_from_slice(&c);
        assert_eq!(ts_netstack_ping_replies(out, 4), 0);
        assert!(round(sp, &req, 125).is_empty());
        assert_eq!(ts_netstack_ping_replies(u32::MAX - 8, 4), 0); // out of bounds: left queued
        assert_eq!(ts_netstack_ping_replies(out, 4), 1);
        let r = m().bytes(out, NET_PING_LEN).unwrap().to_vec();
        assert_eq!(&r[..NET_ADDR_LEN], &v4(B, 0).record());
        assert_eq!(&r[NET_ADDR_LEN..], &[0xcd, 0xab, 7, 0, 25, 0, 0, 0, 125, 0, 0, 0]);
        assert_eq!(ts_netstack_ping_replies(out, 4), 0);
        // Keepalive: a handle is needed, and sane values.
        assert!(m().write(rec, &v4(B, 443).record()));
        let h = ts_netstack_tcp_connect(rec, 0, 0) as u32;
        assert_eq!(ts_netstack_tcp_keepalive(h, 1000, 100, 3, 0), 0);
        assert_eq!(ts_netstack_tcp_keepalive(h, 1000, 0, 3, 0), E_BAD_ARG);
        assert_eq!(ts_netstack_tcp_keepalive(h ^ 1 << 16, 1000, 100, 3, 0), E_BAD_ARG);
        assert_eq!(ts_netstack_tcp_keepalive(h, 0, 0, 0, 0), 0); // off
        assert_eq!(ts_netstack_tcp_release(h, 0), 0);
        let n = ts_netstack_output(0, offs, lens, 8);
        for i in 0..n as usize {
            assert_eq!(crate::exports::pool::ts_pool_free(m().words(offs, n).unwrap().get(i)), 0);
        }
        assert_eq!(in_use(), 0.0);
    }
}
