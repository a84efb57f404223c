//! Host test helpers for the netstack: slots from a real pool over the thread's fake linear
//! memory, a stack instance ([`Host`]), packets built by hand, and a lossy, reordering,
//! duplicating link between two stacks driven by a seeded PRNG on a virtual clock.

// The whole file is test code (`mod.rs` declares it under cfg(test)); the attribute here
// also tells tests/house_test.ts, which leaves out what follows a `#[cfg(test)]`.
#[cfg(test)]
use super::{input, next_timeout, output, Ctx, Netstack, Out, Slots};
use crate::consts::{HEADROOM, LARGE_SLOT_SIZE, SLOT_SIZE, SLOT_TAILROOM};
use crate::mem::{self, Mem, PageMap, HOST_SHARED, PAGE};
use crate::tables::drops::Drops;
use crate::tables::pool::{Grow, Pool, LARGE, SMALL};
use crate::tables::sockets::Sockets;
use crate::tables::tcb::SockAddr;
use crate::wire::icmp;
use crate::wire::ip::{self, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::wire::tcp::{self, Options};
use crate::wire::udp;

struct HostGrow;

impl Grow for HostGrow {
    fn grow(&mut self, bytes: usize) -> Option<usize> {
        mem::grow((bytes + PAGE - 1) / PAGE)
    }
}

/// A pool over this thread's fresh fake memory, handing out views as the exports do.
pub struct TestSlots {
    pub pool: Box<Pool>,
    mem: Mem,
}

impl TestSlots {
    /// Resets this thread's memory: one per test.
    pub fn new(max_slots: u32) -> TestSlots {
        mem::host_reset();
        let mut pool = crate::testing::boxed(|| Pool::ZERO);
        assert_eq!(pool.init(64, max_slots, &mut HostGrow), 0);
        let map: &'static mut PageMap = Box::leak(crate::testing::boxed(|| PageMap::ZERO));
        // SAFETY: on the host the shared region sits at HOST_SHARED (mem's module doc); the
        // page map is this Mem's only (leaked: one per test); we only hand out views of pool
        // slots, above the heap base.
        let mem = unsafe { Mem::new(HOST_SHARED, map) };
        TestSlots { pool, mem }
    }
    pub fn in_use(&self) -> u32 {
        self.pool.in_use()
    }
    /// A fresh slot holding `bytes` at HEADROOM.
    pub fn with(&mut self, bytes: &[u8]) -> u32 {
        let (off, s) = self.take(bytes.len()).expect("a slot");
        s[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
        off
    }
    /// The IP packet of `len` bytes in slot `off`.
    pub fn packet(&self, off: u32, len: usize) -> Vec<u8> {
        self.get(off).expect("slot")[HEADROOM..HEADROOM + len].to_vec()
    }
}

impl Slots<'static> for TestSlots {
    fn take(&mut self, len: usize) -> Option<(u32, &'static mut [u8])> {
        let (class, size) =
            if HEADROOM + len + SLOT_TAILROOM <= SLOT_SIZE { (SMALL, SLOT_SIZE) } else { (LARGE, LARGE_SLOT_SIZE) };
        let off = self.pool.alloc(class, &mut HostGrow);
        match self.mem.bytes_mut(off, size) {
            Some(b) if off != 0 => Some((off, b)),
            _ => None,
        }
    }
    fn get(&self, off: u32) -> Option<&'static mut [u8]> {
        let size = self.pool.slot_size_at(off)?;
        self.mem.bytes_mut(off, size)
    }
    fn free(&mut self, off: u32) {
        assert_eq!(self.pool.free(off), 0, "free of {:#x}", off);
    }
}

/// Packets out, up to `cap`.
pub struct VecOut {
    pub v: Vec<(u32, usize)>,
    pub cap: usize,
}

impl Out for VecOut {
    fn full(&self) -> bool {
        self.v.len() >= self.cap
    }
    fn push(&mut self, off: u32, len: usize) {
        self.v.push((off, len));
    }
}

/// One stack instance: what the tunnel holds for it.
pub struct Host {
    pub net: Box<Netstack>,
    pub sk: Box<Sockets>,
    pub drops: Drops,
}

impl Host {
    /// A stack at `addrs` with this MTU and buffer sizes; `seed` makes its secret.
    pub fn new(addrs: &[SockAddr], mtu: u32, rcv_buf: u32, snd_buf: u32, seed: u8) -> Host {
        let mut h =
            Host { net: Box::new(Netstack::ZERO), sk: crate::testing::boxed(|| Sockets::ZERO), drops: Drops::ZERO };
        assert_eq!(h.net.init(&mut h.sk, &[seed; 32], mtu, rcv_buf, snd_buf), 0);
        for a in addrs {
            assert_eq!(h.net.add_address(*a), 0);
        }
        h
    }
    pub fn cx(&mut self) -> Ctx<'_> {
        Ctx { net: &mut self.net, sk: &mut self.sk, drops: &mut self.drops }
    }
    /// A packet (copied into a fresh slot) into the stack.
    pub fn inject(&mut self, slots: &mut TestSlots, pkt: &[u8], now: u32) -> bool {
        let off = slots.with(pkt);
        input(&mut self.cx(), slots, off, pkt.len(), now)
    }
    /// What the stack sends now (at most `cap` packets).
    pub fn output(&mut self, slots: &mut TestSlots, now: u32, cap: usize) -> Vec<(u32, usize)> {
        let mut out = VecOut { v: Vec::new(), cap };
        output(&mut self.cx(), slots, &mut out, now);
        out.v
    }
    /// What it sends now, as bytes (the slots freed).
    pub fn sent(&mut self, slots: &mut TestSlots, now: u32) -> Vec<Vec<u8>> {
        let v = self.output(slots, now, 1024);
        v.into_iter()
            .map(|(off, len)| {
                let p = slots.packet(off, len);
                slots.free(off);
                p
            })
            .collect()
    }
    pub fn next_timeout(&mut self, now: u32) -> Option<u32> {
        next_timeout(&self.cx(), now)
    }
    pub fn dropped(&self, code: i32) -> u64 {
        self.drops.get(code)
    }
}

pub fn v4(a: [u8; 4], port: u16) -> SockAddr {
    SockAddr::new(&a, port).expect("v4")
}

pub fn v6(last: u8, port: u16) -> SockAddr {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = last;
    SockAddr::new(&a, port).expect("v6")
}

/// An IP packet `src` → `dst` around `l4` (its checksum filled at `csum_at` if given).
pub fn ip_packet(src: &SockAddr, dst: &SockAddr, proto: u8, l4: &[u8], csum_at: Option<usize>) -> Vec<u8> {
    let hl = if src.family == 4 { 20 } else { 40 };
    let mut p = vec![0u8; hl + l4.len()];
    assert_eq!(ip::write_header(&mut p, src.ip(), dst.ip(), proto, l4.len()), hl);
    p[hl..].copy_from_slice(l4);
    if let Some(at) = csum_at {
        p[hl + at..hl + at + 2].copy_from_slice(&[0, 0]);
        let c = if proto == PROTO_ICMP {
            crate::wire::checksum::finish(crate::wire::checksum::add(0, &p[hl..]))
        } else {
            super::l4_checksum(src.ip(), dst.ip(), proto, &p[hl..])
        };
        p[hl + at..hl + at + 2].copy_from_slice(&c);
    }
    p
}

/// An echo request `src` → `dst` (ICMP or ICMPv6 by family).
pub fn echo_request(src: &SockAddr, dst: &SockAddr, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let (ty, proto) =
        if src.family == 4 { (icmp::V4_ECHO_REQUEST, PROTO_ICMP) } else { (icmp::V6_ECHO_REQUEST, PROTO_ICMPV6) };
    let mut l4 = vec![ty, 0, 0, 0];
    l4.extend_from_slice(&id.to_be_bytes());
    l4.extend_from_slice(&seq.to_be_bytes());
    l4.extend_from_slice(payload);
    ip_packet(src, dst, proto, &l4, Some(2))
}

/// A UDP datagram `src` → `dst`.
pub fn udp_packet(src: &SockAddr, dst: &SockAddr, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; udp::HEADER_LEN];
    {
        let mut h = udp::Header::new_unchecked(&mut l4[..]);
        h.set_src_port(src.port);
        h.set_dst_port(dst.port);
        h.set_len((udp::HEADER_LEN + payload.len()) as u16);
    }
    l4.extend_from_slice(payload);
    ip_packet(src, dst, PROTO_UDP, &l4, Some(6))
}

/// A TCP segment `src` → `dst`.
#[allow(clippy::too_many_arguments)]
pub fn tcp_packet(
    src: &SockAddr,
    dst: &SockAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    wnd: u16,
    opts: &Options,
    payload: &[u8],
) -> Vec<u8> {
    let hl = tcp::MIN_HEADER + opts.len();
    let mut l4 = vec![0u8; hl];
    {
        let mut h = tcp::Header::new_unchecked(&mut l4[..]);
        h.set_src_port(src.port);
        h.set_dst_port(dst.port);
        h.set_seq(seq);
        h.set_ack(ack);
        h.set_header_len(hl);
        h.set_flags(flags);
        h.set_window(wnd);
    }
    opts.write(&mut l4[tcp::MIN_HEADER..]);
    l4.extend_from_slice(payload);
    ip_packet(src, dst, PROTO_TCP, &l4, Some(16))
}

/// A TCP segment's fields, read back: (seq, ack, flags, window, options, payload).
pub fn tcp_fields(pkt: &[u8]) -> (u32, u32, u8, u16, Options, Vec<u8>) {
    let p = ip::Packet::new_checked(pkt).expect("ip");
    let l4 = &pkt[p.header_len()..p.total_len()];
    let h = tcp::Header::new_checked(l4).expect("tcp");
    let opts = Options::parse(h.options()).expect("options");
    (h.seq(), h.ack(), h.flags(), h.window(), opts, l4[h.header_len()..].to_vec())
}

/// xorshift64*: the link's dice.
pub struct Rng(pub u64);

impl Rng {
    pub fn roll(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.roll() % 1000 < per_mille
    }
}

/// One direction of a link: a delay, with loss, extra delay (reordering) and duplication
/// per mille.
pub struct Link {
    pub rng: Rng,
    pub delay: u32,
    pub loss: u64,
    pub reorder: u64,
    pub dup: u64,
    /// (arrival time, slot, length)
    pub queue: Vec<(u32, u32, usize)>,
    pub lost: u64,
}

impl Link {
    pub fn new(seed: u64, delay: u32, loss: u64, reorder: u64, dup: u64) -> Link {
        Link { rng: Rng(seed | 1), delay, loss, reorder, dup, queue: Vec::new(), lost: 0 }
    }

    /// Packets sent at `now` enter the link.
    pub fn send(&mut self, slots: &mut TestSlots, pkts: Vec<(u32, usize)>, now: u32) {
        for (off, len) in pkts {
            if self.rng.chance(self.loss) {
                slots.free(off);
                self.lost += 1;
                continue;
            }
            let extra = if self.rng.chance(self.reorder) {
                1 + (self.rng.roll() % (4 * self.delay as u64 + 4)) as u32
            } else {
                0
            };
            if self.rng.chance(self.dup) {
                let copy = slots.packet(off, len);
                let d = slots.with(&copy);
                self.queue.push((now + self.delay + extra + 1, d, len));
            }
            self.queue.push((now + self.delay + extra, off, len));
        }
    }

    /// Packets that arrive by `now`, in arrival order.
    pub fn arrivals(&mut self, now: u32) -> Vec<(u32, usize)> {
        self.queue.sort_by_key(|p| p.0);
        let n = self.queue.iter().take_while(|p| p.0 <= now).count();
        self.queue.drain(..n).map(|(_, off, len)| (off, len)).collect()
    }

    /// The next arrival time.
    pub fn next_arrival(&self) -> Option<u32> {
        self.queue.iter().map(|p| p.0).min()
    }

    /// Frees what is still in flight.
    pub fn clear(&mut self, slots: &mut TestSlots) {
        for (_, off, _) in self.queue.drain(..) {
            slots.free(off);
        }
    }
}

/// Two stacks over a link, on a virtual clock.
pub struct Pair {
    pub slots: TestSlots,
    pub a: Host,
    pub b: Host,
    pub ab: Link,
    pub ba: Link,
    pub now: u32,
}

impl Pair {
    /// One step: both stacks' output onto the link, arrivals into the stacks; then the clock
    /// jumps to the next thing that happens (at most `max_step` ms).
    pub fn step(&mut self, max_step: u32) {
        let now = self.now;
        let out_a = self.a.output(&mut self.slots, now, 256);
        self.ab.send(&mut self.slots, out_a, now);
        let out_b = self.b.output(&mut self.slots, now, 256);
        self.ba.send(&mut self.slots, out_b, now);
        let busy = self.a.sk.dirty.len() + self.b.sk.dirty.len() > 0;
        for (off, len) in self.ab.arrivals(now) {
            input(&mut self.b.cx(), &mut self.slots, off, len, now);
        }
        for (off, len) in self.ba.arrivals(now) {
            input(&mut self.a.cx(), &mut self.slots, off, len, now);
        }
        if busy || self.a.sk.dirty.len() + self.b.sk.dirty.len() > 0 {
            return; // more to send at this instant
        }
        let mut next = now.wrapping_add(max_step);
        for t in [
            self.ab.next_arrival(),
            self.ba.next_arrival(),
            self.a.next_timeout(now).map(|d| now + d),
            self.b.next_timeout(now).map(|d| now + d),
        ]
        .into_iter()
        .flatten()
        {
            next = next.min(t.max(now + 1));
        }
        self.now = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::*;
    use crate::path::netstack::{next_event, ready, udp, user};
    use crate::tables::tcb::{CLOSED, ERR_ABORTED, ERR_REFUSED, ERR_RESET, ERR_TIMED_OUT, ESTABLISHED, TIME_WAIT};
    use crate::wire::checksum;
    use crate::wire::tcp::{ACK, FIN, RST, SYN};

    const A4: [u8; 4] = [10, 0, 0, 1];
    const B4: [u8; 4] = [10, 0, 0, 2];

    fn host(seed: u8) -> Host {
        Host::new(&[v4(A4, 0), v6(1, 0)], 1420, 256 << 10, 256 << 10, seed)
    }

    /// Every IPv4 header checksum and L4 checksum of `pkt` verifies.
    fn checksums_ok(pkt: &[u8]) -> bool {
        let p = ip::Packet::new_checked(pkt).unwrap();
        let l4 = &pkt[p.header_len()..p.total_len()];
        let l4_ok = if p.protocol() == PROTO_ICMP {
            checksum::verifies(checksum::add(0, l4))
        } else {
            let acc = checksum::pseudo_header(p.src_addr(), p.dst_addr(), p.protocol(), l4.len() as u32);
            checksum::verifies(checksum::add(acc, l4))
        };
        p.header_checksum_ok() && l4_ok
    }

    #[test]
    fn ping_v4_and_v6_answered_in_place() {
        let mut slots = TestSlots::new(256);
        let mut h = host(1);
        for (src, dst) in [(v4(B4, 0), v4(A4, 0)), (v6(2, 0), v6(1, 0))] {
            let req = echo_request(&src, &dst, 0x1234, 7, b"ping payload");
            let off = slots.with(&req);
            assert!(input(&mut h.cx(), &mut slots, off, req.len(), 0));
            let out = h.output(&mut slots, 0, 16);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0], (off, req.len())); // the request's own slot
            let rep = slots.packet(off, req.len());
            slots.free(off);
            let p = ip::Packet::new_checked(&rep[..]).unwrap();
            assert_eq!((p.src_addr(), p.dst_addr(), p.hop_limit()), (dst.ip(), src.ip(), 64));
            let hl = p.header_len();
            let want = if src.family == 4 { icmp::V4_ECHO_REPLY } else { icmp::V6_ECHO_REPLY };
            assert_eq!(rep[hl], want);
            assert_eq!(&rep[hl + 4..], &req[hl + 4..]); // id, seq, payload
            assert!(checksums_ok(&rep));
        }
        assert_eq!(h.net.stats.echo_replies, 2);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn malformed_and_foreign_packets_are_counted_and_freed() {
        let mut slots = TestSlots::new(256);
        let mut h = host(2);
        let (b, a) = (v4(B4, 5000), v4(A4, 53));
        let good = udp_packet(&b, &a, b"x");
        let mut cases: Vec<(Vec<u8>, i32)> = Vec::new();
        let mut bad_ip = good.clone();
        bad_ip[10] ^= 1;
        cases.push((bad_ip, E_CHECKSUM));
        let mut bad_udp = good.clone();
        bad_udp[28] ^= 1; // payload changed, checksum not
        cases.push((bad_udp, E_CHECKSUM));
        let mut bad_tcp = tcp_packet(&b, &v4(A4, 80), 1, 0, SYN, 1000, &Options::default(), b"");
        bad_tcp[25] ^= 1;
        cases.push((bad_tcp, E_CHECKSUM));
        let mut bad_icmp = echo_request(&b, &a, 1, 1, b"abc");
        bad_icmp[30] ^= 1;
        cases.push((bad_icmp, E_CHECKSUM));
        let mut bad_icmp6 = echo_request(&v6(2, 0), &v6(1, 0), 1, 1, b"abc");
        bad_icmp6[50] ^= 1;
        cases.push((bad_icmp6, E_CHECKSUM));
        cases.push((udp_packet(&b, &v4([10, 0, 0, 9], 53), b"x"), E_NOT_LOCAL));
        cases.push((udp_packet(&b, &a, b"x"), E_NO_SOCKET));
        let mut frag = good.clone();
        frag[6] = 0x20; // MF
        frag[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::finish(checksum::add(0, &frag[..20]));
        frag[10..12].copy_from_slice(&c);
        cases.push((frag, E_UNSUPPORTED));
        cases.push((ip_packet(&b, &a, 47, &[0; 8], None), E_UNSUPPORTED)); // GRE
        cases.push((echo_request(&b, &a, 1, 1, b"")[..27].to_vec(), E_BAD_TOTAL_LEN));
        let mut short_udp = ip_packet(&b, &a, PROTO_UDP, &[0; 4], None);
        short_udp[3] = 24;
        cases.push((short_udp, E_TRUNCATED));
        let mut udp_len = good;
        udp_len[25] = 200; // UDP length past the packet
        cases.push((udp_len, E_BAD_TOTAL_LEN));
        let mut tcp_off = tcp_packet(&b, &v4(A4, 80), 1, 0, SYN, 1000, &Options::default(), b"");
        tcp_off[32] = 0x40; // data offset 4 words
        cases.push((tcp_off, E_BAD_HEADER_LEN));
        cases.push((vec![0x50; 40], E_BAD_VERSION));
        let mut udp6_zero = udp_packet(&v6(2, 5000), &v6(1, 53), b"x");
        udp6_zero[46..48].copy_from_slice(&[0, 0]); // IPv6 requires the checksum
        cases.push((udp6_zero, E_CHECKSUM));
        for (k, (pkt, code)) in cases.iter().enumerate() {
            let before = h.dropped(*code);
            assert!(!h.inject(&mut slots, pkt, 0), "case {}", k);
            assert_eq!(h.dropped(*code), before + 1, "case {}: code {}", k, code);
        }
        assert_eq!(h.drops.counts_total(), cases.len() as u64);
        assert!(h.sent(&mut slots, 0).iter().all(|p| tcp_fields(p).2 & RST != 0)); // the SYN to port 80
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn udp_datagrams_in_and_out() {
        let mut slots = TestSlots::new(256);
        let mut h = host(3);
        let s = udp::bind(&mut h.cx(), v4([0; 4], 53)).unwrap();
        assert_eq!(udp::bind(&mut h.cx(), v4(A4, 53)), Err(E_ADDR_IN_USE));
        assert_eq!(udp::bind(&mut h.cx(), v4([10, 9, 9, 9], 54)), Err(E_BAD_ARG));
        let peer = v4(B4, 40000);
        for k in 0..3u8 {
            assert!(h.inject(&mut slots, &udp_packet(&peer, &v4(A4, 53), &[k; 10]), 0));
        }
        let (hd, fl) = next_event(&mut h.cx()).unwrap();
        assert_eq!((hd, fl & ready::READABLE), (h.sk.udp_handle(s), ready::READABLE));
        assert!(next_event(&mut h.cx()).is_none());
        let d = udp::recv(&mut h.cx(), &slots, s).unwrap();
        assert_eq!((d.len, d.from), (10, peer));
        let slot = slots.get(d.off).unwrap();
        assert_eq!(&slot[d.start as usize..d.start as usize + 10], &[0; 10]);
        // Reply from the same slot: the data moved into place behind the headers.
        slot[100..105].copy_from_slice(b"hello");
        udp::send(&mut h.cx(), &mut slots, s, d.off, 100, 5, &peer).unwrap();
        let out = h.sent(&mut slots, 0);
        assert_eq!(out.len(), 1);
        let p = ip::Packet::new_checked(&out[0][..]).unwrap();
        assert_eq!((p.src_addr(), p.dst_addr(), p.total_len()), (&A4[..], &B4[..], 20 + 8 + 5));
        assert_eq!(&out[0][28..], b"hello");
        assert_eq!(&out[0][20..24], &[0, 53, 0x9c, 0x40]);
        assert!(checksums_ok(&out[0]));
        // Too big for the MTU, wrong family: the slot stays the caller's.
        let big = slots.take(1500).unwrap().0;
        assert_eq!(udp::send(&mut h.cx(), &mut slots, s, big, 16, 1400, &peer), Err(E_TOO_BIG));
        assert_eq!(udp::send(&mut h.cx(), &mut slots, s, big, 16, 10, &v6(2, 1)), Err(E_BAD_ARG));
        slots.free(big);
        // A full queue drops (counted); closing frees what is queued.
        for _ in 0..crate::consts::NET_UDP_QUEUE {
            h.inject(&mut slots, &udp_packet(&peer, &v4(A4, 53), b"q"), 0);
        }
        assert_eq!(h.dropped(E_QUEUE_FULL), 2);
        udp::close(&mut h.cx(), &mut slots, s);
        assert_eq!(slots.in_use(), 0);
        // An ephemeral port.
        let e = udp::bind(&mut h.cx(), v6(0, 0)).unwrap_err();
        assert_eq!(e, E_BAD_ARG); // fd00::0 is not ours
        let e = udp::bind(&mut h.cx(), SockAddr { family: 6, addr: [0; 16], port: 0 }).unwrap();
        assert!(h.sk.udp[e].local.port >= udp::EPHEMERAL_FIRST);
    }

    #[test]
    fn rst_for_a_closed_port_and_listener_refusals() {
        let mut slots = TestSlots::new(256);
        let mut h = host(4);
        let (b, a) = (v4(B4, 40001), v4(A4, 81));
        // A SYN: RST|ACK acknowledging it.
        let syn = tcp_packet(&b, &a, 1000, 0, SYN, 8192, &Options::default(), b"");
        assert!(!h.inject(&mut slots, &syn, 0));
        let out = h.sent(&mut slots, 0);
        let (seq, ack, flags, _, _, _) = tcp_fields(&out[0]);
        assert_eq!((seq, ack, flags), (0, 1001, RST | ACK));
        assert!(checksums_ok(&out[0]));
        // An ACK: RST with its ack number as sequence number.
        let seg = tcp_packet(&b, &a, 5, 777, ACK, 8192, &Options::default(), b"data");
        h.inject(&mut slots, &seg, 0);
        let (seq, _, flags, _, _, _) = tcp_fields(&h.sent(&mut slots, 0)[0]);
        assert_eq!((seq, flags), (777, RST));
        // A RST: nothing.
        h.inject(&mut slots, &tcp_packet(&b, &a, 5, 0, RST, 0, &Options::default(), b""), 0);
        assert!(h.sent(&mut slots, 0).is_empty());
        assert_eq!(h.dropped(E_NO_SOCKET), 3);
        assert_eq!(h.net.stats.rsts_sent, 2);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn handshake_by_hand_with_options() {
        let mut slots = TestSlots::new(256);
        let mut h = host(5);
        let l = user::listen(&mut h.cx(), v4(A4, 80), 4).unwrap();
        let b = v4(B4, 40002);
        let opts = Options {
            mss: 1200,
            wscale: Some(2),
            sack_permitted: true,
            timestamp: Some((500, 0)),
            ..Options::default()
        };
        h.inject(&mut slots, &tcp_packet(&b, &v4(A4, 80), 9000, 0, SYN, 30000, &opts, b""), 10);
        let out = h.sent(&mut slots, 10);
        let (iss, ack, flags, wnd, o, _) = tcp_fields(&out[0]);
        assert_eq!((ack, flags, wnd), (9001, SYN | ACK, 65535));
        assert_eq!(o.mss, 1380);
        assert_eq!(o.wscale, Some(3)); // a 256 KiB buffer
        assert_eq!(o.timestamp.map(|t| t.1), Some(500));
        assert_eq!(user::accept(&mut h.cx(), l), Err(E_AGAIN));
        // The ACK completes it; data comes with it.
        let tsval = o.timestamp.unwrap().0;
        let opts = Options { timestamp: Some((510, tsval)), ..Options::default() };
        let seg = tcp_packet(&b, &v4(A4, 80), 9001, iss + 1, ACK, 1000, &opts, b"GET /");
        assert!(h.inject(&mut slots, &seg, 30));
        let c = user::accept(&mut h.cx(), l).unwrap();
        let t = h.sk.tcp[c];
        assert_eq!((t.state, t.snd_mss, t.snd_wnd, t.srtt >> 3), (ESTABLISHED, 1200, 4000, 20));
        let mut got = Vec::new();
        let n = user::recv(&h.cx(), &slots, c, |off, at, len| {
            got.extend_from_slice(&slots.get(off).unwrap()[at as usize..(at + len) as usize]);
            true
        });
        assert_eq!((n, &got[..]), (Ok(1), &b"GET /"[..]));
        assert_eq!(user::consume(&mut h.cx(), &mut slots, c, 5), 5);
        // A retransmitted SYN gets the SYN-ACK again while the connection is SYN-RECEIVED;
        // here it is established, so it is a SYN in the window: challenged with an ACK.
        h.inject(&mut slots, &tcp_packet(&b, &v4(A4, 80), 9000, 0, SYN, 30000, &Options::default(), b""), 40);
        let out = h.sent(&mut slots, 40);
        assert_eq!(out.len(), 1);
        assert_eq!(tcp_fields(&out[0]).2, ACK);
        user::abort(&mut h.cx(), &mut slots, c, 50);
        let out = h.sent(&mut slots, 50);
        assert_eq!(tcp_fields(&out[0]).2, RST | ACK);
        assert_eq!(h.sk.tcp[c].state, CLOSED);
        user::release(&mut h.cx(), &mut slots, c, 50);
        assert_eq!(h.sk.tcp_ids.in_use(), 0);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn connect_refused_by_rst() {
        let mut slots = TestSlots::new(256);
        let mut h = host(6);
        let c = user::connect(&mut h.cx(), &mut slots, v4(B4, 443), v4([0; 4], 0), 0).unwrap();
        let syn = h.sent(&mut slots, 0);
        let (iss, _, flags, _, o, _) = tcp_fields(&syn[0]);
        assert_eq!((flags, o.mss, o.wscale.is_some(), o.timestamp.is_some()), (SYN, 1380, true, true));
        let p = ip::Packet::new_checked(&syn[0][..]).unwrap();
        let lport = u16::from_be_bytes([syn[0][20], syn[0][21]]);
        assert_eq!(p.src_addr(), &A4);
        assert!(lport >= 49152);
        let rst = tcp_packet(&v4(B4, 443), &v4(A4, lport), 0, iss + 1, RST | ACK, 0, &Options::default(), b"");
        h.inject(&mut slots, &rst, 5);
        assert_eq!((h.sk.tcp[c].state, h.sk.tcp[c].error), (CLOSED, ERR_REFUSED));
        let (_, fl) = next_event(&mut h.cx()).unwrap();
        assert_eq!(fl & (ready::CLOSED | ready::ERROR | ready::CONNECTED), ready::CLOSED | ready::ERROR);
        user::release(&mut h.cx(), &mut slots, c, 5);
        assert_eq!(slots.in_use(), 0);
    }

    // ------------------------------------------------------------ two stacks over a link

    fn pair(seed: u64, loss: u64, reorder: u64, dup: u64) -> Pair {
        Pair {
            slots: TestSlots::new(16384),
            a: Host::new(&[v4(A4, 0), v6(1, 0)], 1420, 256 << 10, 256 << 10, 11),
            b: Host::new(&[v4(B4, 0), v6(2, 0)], 1420, 256 << 10, 256 << 10, 12),
            ab: Link::new(seed, 5, loss, reorder, dup),
            ba: Link::new(seed.wrapping_mul(0x9e37_79b9), 5, loss, reorder, dup),
            now: 1000,
        }
    }

    /// The application writing: as much of `data[*sent..]` as connection `c` takes, in
    /// chunks of random sizes (so small writes are coalesced too).
    fn write_some(h: &mut Host, slots: &mut TestSlots, c: usize, data: &[u8], sent: &mut usize, rng: &mut Rng) {
        while *sent < data.len() {
            let n = (data.len() - *sent).min(1 + (rng.roll() % 1900) as usize);
            let (off, s) = slots.take(1950).unwrap();
            s[16..16 + n].copy_from_slice(&data[*sent..*sent + n]);
            match user::send(&mut h.cx(), slots, c, off, 16, n) {
                Ok(k) => *sent += k,
                Err(e) => {
                    assert_eq!(e, E_AGAIN);
                    slots.free(off);
                    break;
                }
            }
        }
    }

    /// The application reading everything there is; true at the end of the data.
    fn read_all(h: &mut Host, slots: &mut TestSlots, c: usize, got: &mut Vec<u8>) -> bool {
        let mut buf = Vec::new();
        let r = user::recv(&h.cx(), slots, c, |off, at, len| {
            buf.extend_from_slice(&slots.get(off).unwrap()[at as usize..(at + len) as usize]);
            true
        });
        let n = buf.len() as u32;
        got.extend_from_slice(&buf);
        assert_eq!(user::consume(&mut h.cx(), slots, c, n), n);
        r == Ok(0)
    }

    fn drain_events(h: &mut Host) {
        while next_event(&mut h.cx()).is_some() {}
    }

    /// A connects to B:80, sends `size` bytes and closes; B reads them all and closes; both
    /// let go; TIME_WAIT passes. Returns the pair for the caller's checks of counters.
    fn transfer(seed: u64, loss: u64, reorder: u64, dup: u64, size: usize, v6: bool) -> Pair {
        let mut p = pair(seed, loss, reorder, dup);
        let mut rng = Rng(seed ^ 0x5555);
        let (any, dst) = if v6 {
            (SockAddr { family: 6, addr: [0; 16], port: 80 }, super::v6(2, 80))
        } else {
            (v4([0; 4], 80), v4(B4, 80))
        };
        let l = user::listen(&mut p.b.cx(), any, 16).unwrap();
        let c = user::connect(&mut p.a.cx(), &mut p.slots, dst, SockAddr { port: 0, ..SockAddr::NONE }, p.now).unwrap();
        let data: Vec<u8> = (0..size).map(|i| (i as u64).wrapping_mul(2654435761).rotate_right(13) as u8).collect();
        let (mut sent, mut got, mut server) = (0usize, Vec::new(), None::<usize>);
        let (mut a_shut, mut b_shut, mut eof) = (false, false, false);
        let start = p.now;
        loop {
            p.step(200);
            if p.now.wrapping_sub(start) >= 1_200_000 {
                let t = &p.a.sk.tcp[c];
                eprintln!(
                    "A: state {} una {} nxt {} max {} tx {} rto {} retries {} flags {:#x} wnd {} cwnd {} at {} rto_at {}",
                    t.state, t.snd_una.wrapping_sub(t.iss), t.snd_nxt.wrapping_sub(t.iss), t.snd_max.wrapping_sub(t.iss),
                    t.tx.bytes, t.rto, t.retries, t.flags, t.snd_wnd, t.cwnd, p.now, t.rto_at
                );
                if let Some(s) = server {
                    let s: usize = s;
                    let u = &p.b.sk.tcp[s];
                    eprintln!(
                        "B: state {} rcv_nxt {} adv {} rx {} ooo {} flags {:#x} timers {} {}",
                        u.state,
                        u.rcv_nxt.wrapping_sub(u.irs),
                        u.rcv_adv.wrapping_sub(u.irs),
                        u.rx.bytes,
                        u.ooo.slots,
                        u.flags,
                        p.a.net.timers_armed,
                        p.a.net.next_timer
                    );
                }
                panic!("transfer stuck: sent {} got {} at {} ms", sent, got.len(), p.now - start);
            }
            if server.is_none() {
                server = user::accept(&mut p.b.cx(), l).ok();
            }
            if p.a.sk.tcp[c].state == ESTABLISHED && !a_shut {
                write_some(&mut p.a, &mut p.slots, c, &data, &mut sent, &mut rng);
                if sent == size {
                    user::shutdown(&mut p.a.cx(), c).unwrap();
                    a_shut = true;
                }
            }
            if let Some(s) = server {
                if !eof && read_all(&mut p.b, &mut p.slots, s, &mut got) {
                    eof = true;
                }
                if eof && !b_shut {
                    user::shutdown(&mut p.b.cx(), s).unwrap();
                    b_shut = true;
                }
            }
            drain_events(&mut p.a);
            drain_events(&mut p.b);
            let done_a = matches!(p.a.sk.tcp[c].state, TIME_WAIT | CLOSED);
            if eof && done_a && server.map_or(false, |s| p.b.sk.tcp[s].state == CLOSED) {
                break;
            }
        }
        assert_eq!(got.len(), size);
        assert!(got == data, "the data arrived changed");
        eprintln!(
            "transfer of {} bytes (seed {}, loss {}‰): {} ms virtual, {} retransmissions, {} timeouts, {} fast",
            size,
            seed,
            loss,
            p.now - start,
            p.a.net.stats.retransmits,
            p.a.net.stats.timeouts,
            p.a.net.stats.fast_retransmits
        );
        let s = server.unwrap();
        assert_eq!((p.a.sk.tcp[c].error, p.b.sk.tcp[s].error), (0, 0));
        user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        user::release(&mut p.b.cx(), &mut p.slots, s, p.now);
        // TIME_WAIT ends; stragglers on the link are answered or dropped.
        let end = p.now + 70_000;
        while p.now < end {
            p.step(5_000);
        }
        p.ab.clear(&mut p.slots);
        p.ba.clear(&mut p.slots);
        p
    }

    fn all_returned(p: &mut Pair) {
        let now = p.now;
        for h in [&mut p.a, &mut p.b] {
            for (off, _) in h.output(&mut p.slots, now, 1024) {
                p.slots.free(off);
            }
            assert_eq!(h.sk.tcp_ids.in_use(), 0, "connections left");
        }
        assert_eq!(p.slots.in_use(), 0, "slots left");
    }

    #[test]
    fn tcp_transfer_lossless() {
        let mut p = transfer(1, 0, 0, 0, 1 << 20, false);
        assert_eq!(p.a.net.stats.retransmits, 0);
        assert_eq!(p.a.net.stats.active_opens, 1);
        assert_eq!(p.b.net.stats.passive_opens, 1);
        all_returned(&mut p);
    }

    #[test]
    fn tcp_transfer_1mib_with_loss_reordering_and_duplicates() {
        for seed in [7u64, 8, 9] {
            let mut p = transfer(seed, 30, 50, 10, 1 << 20, seed % 2 == 0);
            assert!(p.ab.lost + p.ba.lost > 0);
            assert!(p.a.net.stats.retransmits > 0, "seed {}", seed);
            all_returned(&mut p);
        }
    }

    #[test]
    fn tcp_transfer_with_heavy_loss() {
        let mut p = transfer(21, 150, 100, 20, 256 << 10, false);
        assert!(p.a.net.stats.timeouts > 0);
        all_returned(&mut p);
    }

    /// Steps until `done` holds (panics after `max_ms` of virtual time).
    fn drive(p: &mut Pair, max_ms: u32, mut done: impl FnMut(&mut Pair) -> bool) {
        let start = p.now;
        while !done(p) {
            assert!(p.now - start < max_ms, "not done after {} ms", max_ms);
            p.step(100);
            drain_events(&mut p.a);
            drain_events(&mut p.b);
        }
    }

    /// A connects to B:80: (A's connection, B's accepted one).
    fn establish(p: &mut Pair) -> (usize, usize) {
        let l = user::listen(&mut p.b.cx(), v4([0; 4], 80), 4).unwrap();
        let c = user::connect(&mut p.a.cx(), &mut p.slots, v4(B4, 80), SockAddr::NONE, p.now).unwrap();
        let mut s = None;
        drive(p, 5_000, |p| {
            s = s.or_else(|| user::accept(&mut p.b.cx(), l).ok());
            s.is_some() && p.a.sk.tcp[c].state == ESTABLISHED
        });
        (c, s.unwrap())
    }

    /// Lets both go and waits out TIME_WAIT; then nothing may be left.
    fn release_and_settle(p: &mut Pair, c: usize, s: usize) {
        user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        user::release(&mut p.b.cx(), &mut p.slots, s, p.now);
        let end = p.now + 200_000;
        while p.now < end {
            p.step(10_000);
        }
        p.ab.clear(&mut p.slots);
        p.ba.clear(&mut p.slots);
        all_returned(p);
    }

    #[test]
    fn zero_window_is_probed_until_the_reader_reads() {
        let mut p = pair(31, 0, 0, 0);
        p.b = Host::new(&[v4(B4, 0)], 1420, 16 << 10, 256 << 10, 12);
        let (c, s) = establish(&mut p);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let (mut sent, mut rng) = (0, Rng(5));
        // B does not read: A fills B's 16 KiB window and then its own buffer.
        drive(&mut p, 10_000, |p| {
            write_some(&mut p.a, &mut p.slots, c, &data, &mut sent, &mut rng);
            p.a.sk.tcp[c].snd_wnd == 0 && p.a.sk.tcp[c].snd_una == p.a.sk.tcp[c].snd_nxt
        });
        assert_eq!(p.b.sk.tcp[s].rx.bytes, 16 << 10);
        // Persist: probes back off; the connection does not time out however long it waits.
        let probes = p.a.net.stats.tcp_out;
        let until = p.now + 600_000;
        drive(&mut p, 700_000, |p| p.now >= until);
        let t = &p.a.sk.tcp[c];
        assert_eq!((t.state, t.error), (ESTABLISHED, 0));
        let n = p.a.net.stats.tcp_out - probes;
        assert!((5..40).contains(&n), "{} probes in 10 minutes", n);
        // The reader reads: everything arrives.
        let mut got = Vec::new();
        drive(&mut p, 60_000, |p| {
            write_some(&mut p.a, &mut p.slots, c, &data, &mut sent, &mut rng);
            read_all(&mut p.b, &mut p.slots, s, &mut got);
            got.len() == data.len()
        });
        assert!(got == data);
        user::shutdown(&mut p.a.cx(), c).unwrap();
        user::shutdown(&mut p.b.cx(), s).unwrap();
        drive(&mut p, 10_000, |p| [p.a.sk.tcp[c].state, p.b.sk.tcp[s].state].iter().all(|&x| x == TIME_WAIT));
        release_and_settle(&mut p, c, s);
    }

    #[test]
    fn half_close_then_data_back_and_a_simultaneous_close() {
        let mut p = pair(32, 0, 0, 0);
        let (c, s) = establish(&mut p);
        let (mut rng, mut sent_a, mut sent_b) = (Rng(9), 0, 0);
        let (up, down): (Vec<u8>, Vec<u8>) =
            ((0..5000u32).map(|i| i as u8).collect(), (0..200_000u32).map(|i| (i >> 3) as u8).collect());
        write_some(&mut p.a, &mut p.slots, c, &up, &mut sent_a, &mut rng);
        user::shutdown(&mut p.a.cx(), c).unwrap();
        assert_eq!(user::send(&mut p.a.cx(), &mut p.slots, c, 0, 16, 1), Err(E_NOT_CONNECTED));
        let (mut got_b, mut got_a) = (Vec::new(), Vec::new());
        drive(&mut p, 5_000, |p| read_all(&mut p.b, &mut p.slots, s, &mut got_b));
        assert!(got_b == up);
        assert!(user::readiness(&p.b.cx(), s) & ready::EOF != 0);
        // B sends after A's FIN; A still reads.
        drive(&mut p, 20_000, |p| {
            write_some(&mut p.b, &mut p.slots, s, &down, &mut sent_b, &mut rng);
            read_all(&mut p.a, &mut p.slots, c, &mut got_a);
            got_a.len() == down.len()
        });
        assert!(got_a == down);
        user::shutdown(&mut p.b.cx(), s).unwrap();
        drive(&mut p, 5_000, |p| matches!(p.a.sk.tcp[c].state, TIME_WAIT) && p.b.sk.tcp[s].state == CLOSED);
        assert!(read_all(&mut p.a, &mut p.slots, c, &mut got_a));
        release_and_settle(&mut p, c, s);
        // Both close at once: FIN-WAIT-1 → CLOSING → TIME-WAIT on both sides.
        let mut p = pair(33, 0, 0, 0);
        let (c, s) = establish(&mut p);
        user::shutdown(&mut p.a.cx(), c).unwrap();
        user::shutdown(&mut p.b.cx(), s).unwrap();
        drive(&mut p, 5_000, |p| p.a.sk.tcp[c].state == TIME_WAIT && p.b.sk.tcp[s].state == TIME_WAIT);
        release_and_settle(&mut p, c, s);
    }

    #[test]
    fn resets_from_the_peer_and_on_release_with_unread_data() {
        let mut p = pair(34, 0, 0, 0);
        let (c, s) = establish(&mut p);
        let (mut rng, mut sent) = (Rng(3), 0);
        let data = vec![0x5a; 3000];
        write_some(&mut p.a, &mut p.slots, c, &data, &mut sent, &mut rng);
        drive(&mut p, 5_000, |p| p.b.sk.tcp[s].rx.bytes == 3000);
        // B lets go without reading: a RST, A's connection is reset.
        user::release(&mut p.b.cx(), &mut p.slots, s, p.now);
        drive(&mut p, 5_000, |p| p.a.sk.tcp[c].state == CLOSED);
        assert_eq!(p.a.sk.tcp[c].error, ERR_RESET);
        assert_eq!(user::send(&mut p.a.cx(), &mut p.slots, c, 0, 16, 1), Err(E_NOT_CONNECTED));
        assert_eq!(user::recv(&p.a.cx(), &p.slots, c, |_, _, _| true), Ok(0));
        user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        drive(&mut p, 1_000, |p| p.ab.queue.is_empty() && p.ba.queue.is_empty());
        all_returned(&mut p);
        // An abort with data queued both ways.
        let mut p = pair(35, 0, 0, 0);
        let (c, s) = establish(&mut p);
        sent = 0;
        write_some(&mut p.a, &mut p.slots, c, &data, &mut sent, &mut rng);
        user::abort(&mut p.a.cx(), &mut p.slots, c, p.now);
        drive(&mut p, 5_000, |p| p.b.sk.tcp[s].state == CLOSED);
        assert_eq!((p.a.sk.tcp[c].error, p.b.sk.tcp[s].error), (ERR_ABORTED, ERR_RESET));
        user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        user::release(&mut p.b.cx(), &mut p.slots, s, p.now);
        p.ab.clear(&mut p.slots);
        p.ba.clear(&mut p.slots);
        all_returned(&mut p);
    }

    #[test]
    fn close_all_resets_the_peer_and_gives_every_slot_back() {
        let mut p = pair(36, 0, 0, 0);
        // B: one connection with data unread and data unacknowledged, one released and still
        // closing, a listener with a connection not yet accepted, a UDP socket with a datagram.
        let (c1, s1) = establish(&mut p);
        let c2 = user::connect(&mut p.a.cx(), &mut p.slots, v4(B4, 80), SockAddr::NONE, p.now).unwrap();
        let mut s2 = None;
        drive(&mut p, 5_000, |p| {
            s2 = s2.or_else(|| user::accept(&mut p.b.cx(), 0).ok());
            s2.is_some() && p.a.sk.tcp[c2].state == ESTABLISHED
        });
        let s2 = s2.unwrap();
        let (mut rng, mut sent) = (Rng(5), 0);
        let data = vec![0x33; 6000];
        write_some(&mut p.a, &mut p.slots, c1, &data, &mut sent, &mut rng);
        drive(&mut p, 5_000, |p| p.b.sk.tcp[s1].rx.bytes == 6000);
        sent = 0;
        write_some(&mut p.b, &mut p.slots, s1, &data, &mut sent, &mut rng);
        user::shutdown(&mut p.b.cx(), s2).unwrap();
        user::release(&mut p.b.cx(), &mut p.slots, s2, p.now);
        let l = user::listen(&mut p.b.cx(), v4([0; 4], 81), 4).unwrap();
        let c3 = user::connect(&mut p.a.cx(), &mut p.slots, v4(B4, 81), SockAddr::NONE, p.now).unwrap();
        drive(&mut p, 5_000, |p| p.a.sk.tcp[c3].state == ESTABLISHED);
        let u = udp::bind(&mut p.b.cx(), v4([0; 4], 53)).unwrap();
        let dgram = udp_packet(&v4(A4, 4000), &v4(B4, 53), b"held");
        assert!(p.b.inject(&mut p.slots, &dgram, p.now));
        assert!(p.b.sk.udp[u].queue.slots > 0);
        assert!(p.slots.in_use() > 0);
        let rsts = p.b.net.stats.rsts_sent;
        user::close_all(&mut p.b.cx(), &mut p.slots, p.now);
        assert_eq!(p.b.sk.tcp_ids.in_use(), 0, "no connection left");
        assert!(!p.b.sk.udp[u].used && !p.b.sk.listeners[l].used);
        assert!(p.b.net.stats.rsts_sent >= rsts + 2, "the synchronized ones were reset");
        // The RSTs reach A: its connections end as reset.
        drive(&mut p, 5_000, |p| [c1, c3].iter().all(|&c| p.a.sk.tcp[c].state == CLOSED));
        assert_eq!((p.a.sk.tcp[c1].error, p.a.sk.tcp[c3].error), (ERR_RESET, ERR_RESET));
        for c in [c1, c2, c3] {
            user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        }
        user::close_all(&mut p.a.cx(), &mut p.slots, p.now);
        p.ab.clear(&mut p.slots);
        p.ba.clear(&mut p.slots);
        all_returned(&mut p);
    }

    #[test]
    fn retransmission_backs_off_and_the_connection_times_out() {
        // Nobody answers a SYN: 6 retries, 1 + 2 + ... + 64 s, then ERR_TIMED_OUT.
        let mut p = pair(36, 1000, 0, 0);
        let c = user::connect(&mut p.a.cx(), &mut p.slots, v4(B4, 80), SockAddr::NONE, p.now).unwrap();
        let start = p.now;
        drive(&mut p, 200_000, |p| p.a.sk.tcp[c].state == CLOSED);
        assert_eq!(p.a.sk.tcp[c].error, ERR_TIMED_OUT);
        assert_eq!(p.ab.lost, 7);
        let took = p.now - start;
        assert!((123_000..124_500).contains(&took), "{} ms", took); // 1 + 2 + … + 32 + 60 (RTO_MAX) s
        assert!(user::readiness(&p.a.cx(), c) & (ready::CLOSED | ready::ERROR) == ready::CLOSED | ready::ERROR);
        user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        all_returned(&mut p);
        // Data nobody acknowledges: RTO doubles from its floor, 12 retransmissions, then out.
        let mut p = pair(37, 0, 0, 0);
        let (c, s) = establish(&mut p);
        p.ab.loss = 1000;
        let (mut rng, mut sent) = (Rng(1), 0);
        write_some(&mut p.a, &mut p.slots, c, &[1; 100], &mut sent, &mut rng);
        let mut times = Vec::new();
        let mut last = p.ab.lost;
        drive(&mut p, 1_000_000, |p| {
            if p.ab.lost != last {
                times.push(p.now);
                last = p.ab.lost;
            }
            p.a.sk.tcp[c].state == CLOSED
        });
        assert_eq!(p.a.sk.tcp[c].error, ERR_TIMED_OUT);
        assert_eq!(times.len(), 13); // the first transmission and 12 retransmissions
        let gaps: Vec<u32> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps[..3], [200, 400, 800]); // the RTO from its floor, doubled per expiry
        assert!(gaps[9..].iter().all(|&g| g == 60_000), "{:?}", gaps); // capped at RTO_MAX
        user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
        user::abort(&mut p.b.cx(), &mut p.slots, s, p.now);
        user::release(&mut p.b.cx(), &mut p.slots, s, p.now);
        p.ab.clear(&mut p.slots);
        p.ba.clear(&mut p.slots);
        for (off, _) in p.b.output(&mut p.slots, p.now, 16) {
            p.slots.free(off);
        }
        all_returned(&mut p);
    }

    #[test]
    fn a_listener_backlog_refuses_more_syns() {
        let mut slots = TestSlots::new(256);
        let mut h = host(40);
        let l = user::listen(&mut h.cx(), v4(A4, 80), 1).unwrap();
        for port in [1000, 1001] {
            h.inject(&mut slots, &tcp_packet(&v4(B4, port), &v4(A4, 80), 1, 0, SYN, 1000, &Options::default(), b""), 0);
        }
        assert_eq!(h.dropped(E_QUEUE_FULL), 1);
        assert_eq!(h.sent(&mut slots, 0).len(), 1); // one SYN-ACK
                                                    // The half-open one is reset when the listener closes.
        user::unlisten(&mut h.cx(), &mut slots, l, 0);
        let out = h.sent(&mut slots, 0);
        assert_eq!(tcp_fields(&out[0]).2, RST | ACK);
        assert_eq!(h.sk.tcp_ids.in_use(), 0);
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn reassembly_of_overlapping_duplicated_reordered_segments_matches_the_stream() {
        for seed in [1u64, 2, 3] {
            let mut slots = TestSlots::new(4096);
            let mut h = host(50);
            let mut rng = Rng(seed * 7919);
            let l = user::listen(&mut h.cx(), v4(A4, 80), 1).unwrap();
            let (b, a) = (v4(B4, 40100), v4(A4, 80));
            let none = Options::default();
            h.inject(&mut slots, &tcp_packet(&b, &a, 999, 0, SYN, 65535, &none, b""), 0);
            let (iss, ..) = tcp_fields(&h.sent(&mut slots, 0)[0]);
            h.inject(&mut slots, &tcp_packet(&b, &a, 1000, iss + 1, ACK, 65535, &none, b""), 0);
            let c = user::accept(&mut h.cx(), l).unwrap();
            let stream: Vec<u8> = (0..150_000u32).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect();
            // Segments with random boundaries, then overlapping pieces and duplicates.
            let mut segs: Vec<(usize, usize)> = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let n = (1 + rng.roll() % 1400) as usize;
                segs.push((at, (at + n).min(stream.len())));
                at += n;
            }
            for _ in 0..segs.len() / 2 {
                let x = (rng.roll() as usize) % stream.len();
                segs.push((x, (x + 1 + (rng.roll() % 1400) as usize).min(stream.len())));
            }
            let mut got = Vec::new();
            let mut rounds = 0;
            while got.len() < stream.len() {
                rounds += 1;
                assert!(rounds < 200, "seed {}: stuck at {}", seed, got.len());
                // Shuffle (Fisher-Yates), send those not wholly received, read, acknowledge.
                for i in (1..segs.len()).rev() {
                    segs.swap(i, (rng.roll() as usize) % (i + 1));
                }
                for &(x, y) in segs.iter().filter(|s| s.1 > got.len()).take(300) {
                    let fin = if y == stream.len() { FIN } else { 0 };
                    let seg = tcp_packet(&b, &a, 1000 + x as u32, iss + 1, ACK | fin, 65535, &none, &stream[x..y]);
                    h.inject(&mut slots, &seg, rounds);
                }
                read_all(&mut h, &mut slots, c, &mut got);
                h.sent(&mut slots, rounds);
            }
            assert!(got == stream, "seed {}", seed);
            assert!(read_all(&mut h, &mut slots, c, &mut got), "the FIN ends the data");
            assert_eq!(h.sk.tcp[c].ooo.slots, 0);
            user::abort(&mut h.cx(), &mut slots, c, 0);
            user::release(&mut h.cx(), &mut slots, c, 0);
            h.sent(&mut slots, 0);
            assert_eq!(slots.in_use(), 0, "seed {}", seed);
        }
    }

    #[test]
    fn acks_carry_sack_blocks_for_what_is_held_out_of_order() {
        let mut slots = TestSlots::new(256);
        let mut h = host(51);
        let l = user::listen(&mut h.cx(), v4(A4, 80), 1).unwrap();
        let (b, a) = (v4(B4, 40200), v4(A4, 80));
        let syn_opts = Options { sack_permitted: true, mss: 1000, ..Options::default() };
        h.inject(&mut slots, &tcp_packet(&b, &a, 999, 0, SYN, 65535, &syn_opts, b""), 0);
        let (iss, _, _, _, o, _) = tcp_fields(&h.sent(&mut slots, 0)[0]);
        assert!(o.sack_permitted);
        let none = Options::default();
        h.inject(&mut slots, &tcp_packet(&b, &a, 1000, iss + 1, ACK, 65535, &none, b""), 0);
        let c = user::accept(&mut h.cx(), l).unwrap();
        // [1000, 2000) is missing; [2000, 3000), [4000, 5000), then [3000, 3500) arrive.
        for (x, y) in [(2000u32, 3000u32), (4000, 5000), (3000, 3500)] {
            let data = vec![7u8; (y - x) as usize];
            h.inject(&mut slots, &tcp_packet(&b, &a, x, iss + 1, ACK, 65535, &none, &data), 1);
        }
        let acks = h.sent(&mut slots, 1);
        let (_, ack, _, _, o, _) = tcp_fields(acks.last().unwrap());
        assert_eq!(ack, 1000);
        assert_eq!(&o.sack[..o.sack_len as usize], &[(2000, 3500), (4000, 5000)]);
        // The first hole fills: the block of what is still beyond the next one.
        h.inject(&mut slots, &tcp_packet(&b, &a, 1000, iss + 1, ACK, 65535, &none, &[7; 1000]), 2);
        let (_, ack, _, _, o, _) = tcp_fields(h.sent(&mut slots, 2).last().unwrap());
        assert_eq!((ack, &o.sack[..o.sack_len as usize]), (3500, &[(4000, 5000)][..]));
        h.inject(&mut slots, &tcp_packet(&b, &a, 3500, iss + 1, ACK, 65535, &none, &[7; 500]), 3);
        let (_, ack, _, _, o, _) = tcp_fields(h.sent(&mut slots, 3).last().unwrap());
        assert_eq!((ack, o.sack_len), (5000, 0));
        let mut got = Vec::new();
        read_all(&mut h, &mut slots, c, &mut got);
        assert_eq!(got.len(), 4000);
        user::abort(&mut h.cx(), &mut slots, c, 3);
        user::release(&mut h.cx(), &mut slots, c, 3);
        h.sent(&mut slots, 3);
        assert_eq!(slots.in_use(), 0);
    }
}
