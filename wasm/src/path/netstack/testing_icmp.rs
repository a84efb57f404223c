//! Tests of ICMP errors for our connections (`icmp_error.rs`), our pings (`ping.rs`) and
//! keepalive (`keepalive.rs`), on the helpers of `testing.rs` and its virtual clock.

// The whole file is test code (`mod.rs` declares it under cfg(test)); the attribute also tells
// tests/house_test.ts, which leaves out what follows a `#[cfg(test)]`.
#[cfg(test)]
use super::testing::*;
use super::{icmp_error, keepalive, next_event, ping, pmtu, ready, user, Slots};
use crate::errors::*;
use crate::tables::tcb::{
    flag, SockAddr, CLOSED, ERR_HOST_UNREACHABLE, ERR_NET_UNREACHABLE, ERR_PROHIBITED, ERR_REFUSED, ERR_RESET,
    ERR_TIMED_OUT, ESTABLISHED, SYN_SENT,
};
use crate::wire::checksum;
use crate::wire::icmp;
use crate::wire::ip::{self, PROTO_ICMP, PROTO_ICMPV6};
use crate::wire::tcp::{Options, ACK, SYN};

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];
const C4: [u8; 4] = [10, 0, 0, 3];
const ROUTER4: [u8; 4] = [10, 0, 0, 254];

fn host(seed: u8) -> Host {
    Host::new(&[v4(A4, 0), v6(1, 0)], 1420, 256 << 10, 256 << 10, seed)
}

/// An ICMP(v6) error `ty`/`code` (second word `rest`) from `router` to `to`, quoting `quoted`.
fn icmp_error(router: &SockAddr, to: &SockAddr, ty: u8, code: u8, rest: u32, quoted: &[u8]) -> Vec<u8> {
    let proto = if router.family == 4 { PROTO_ICMP } else { PROTO_ICMPV6 };
    let mut l4 = vec![ty, code, 0, 0];
    l4.extend_from_slice(&rest.to_be_bytes());
    l4.extend_from_slice(quoted);
    ip_packet(router, to, proto, &l4, Some(2))
}

fn unreachable(router: &SockAddr, to: &SockAddr, code: u8, quoted: &[u8]) -> Vec<u8> {
    let ty = if router.family == 4 { icmp::V4_DEST_UNREACHABLE } else { icmp::V6_DEST_UNREACHABLE };
    icmp_error(router, to, ty, code, 0, quoted)
}

fn too_big(router: &SockAddr, to: &SockAddr, mtu: u32, quoted: &[u8]) -> Vec<u8> {
    if router.family == 4 {
        icmp_error(router, to, icmp::V4_DEST_UNREACHABLE, icmp::V4_FRAG_NEEDED, mtu & 0xffff, quoted)
    } else {
        icmp_error(router, to, icmp::V6_PACKET_TOO_BIG, 0, mtu, quoted)
    }
}

/// Every IPv4 header checksum and the ICMP(v6) checksum of `pkt` verify.
fn icmp_checksums_ok(pkt: &[u8]) -> bool {
    let p = ip::Packet::new_checked(pkt).unwrap();
    let l4 = &pkt[p.header_len()..p.total_len()];
    let acc = if p.version() == 4 {
        0
    } else {
        checksum::pseudo_header(p.src_addr(), p.dst_addr(), PROTO_ICMPV6, l4.len() as u32)
    };
    p.header_checksum_ok() && checksum::verifies(checksum::add(acc, l4))
}

/// A connection from `h` to `remote`, established by hand (the peer offers MSS 1460 and no
/// other option): its index and its SYN as sent.
fn connected(h: &mut Host, slots: &mut TestSlots, remote: SockAddr, now: u32) -> (usize, Vec<u8>) {
    let c = user::connect(&mut h.cx(), slots, remote, SockAddr::NONE, now).unwrap();
    let syn = h.sent(slots, now).remove(0);
    let iss = tcp_fields(&syn).0;
    let local = h.sk.tcp[c].local;
    let opts = Options { mss: 1460, ..Options::default() };
    assert!(h.inject(slots, &tcp_packet(&remote, &local, 5000, iss + 1, SYN | ACK, 60000, &opts, b""), now));
    assert_eq!(h.sent(slots, now).len(), 1); // the ACK
    assert_eq!(h.sk.tcp[c].state, ESTABLISHED);
    (c, syn)
}

/// Queues `n` bytes on connection `c`.
fn send(h: &mut Host, slots: &mut TestSlots, c: usize, n: usize) {
    let (off, _) = slots.take(1950).unwrap();
    assert_eq!(user::send(&mut h.cx(), slots, c, off, 16, n), Ok(n));
}

/// Aborts and lets go of connections, frees what they sent: nothing may be left.
fn done(h: &mut Host, slots: &mut TestSlots, conns: &[usize], now: u32) {
    for &c in conns {
        user::abort(&mut h.cx(), slots, c, now);
        user::release(&mut h.cx(), slots, c, now);
    }
    h.sent(slots, now);
    assert_eq!(h.sk.tcp_ids.in_use(), 0);
    assert_eq!(slots.in_use(), 0);
}

#[test]
fn kinds_of_errors() {
    use icmp_error::{kind, Kind};
    assert_eq!(kind(4, 3, 4, 0x0000_05dc), Some(Kind::TooBig(1500)));
    assert_eq!(kind(6, 2, 0, 1400), Some(Kind::TooBig(1400)));
    let v4 = [(0, ERR_NET_UNREACHABLE), (1, ERR_HOST_UNREACHABLE), (2, ERR_REFUSED), (3, ERR_REFUSED)];
    let v4b = [(9, ERR_PROHIBITED), (10, ERR_PROHIBITED), (13, ERR_PROHIBITED)];
    for (code, err) in v4.iter().chain(v4b.iter()) {
        assert_eq!(kind(4, 3, *code, 0), Some(Kind::Unreachable(*err)), "v4 code {}", code);
    }
    for (code, err) in [(0, ERR_NET_UNREACHABLE), (1, ERR_PROHIBITED), (3, ERR_HOST_UNREACHABLE), (4, ERR_REFUSED)] {
        assert_eq!(kind(6, 1, code, 0), Some(Kind::Unreachable(err)), "v6 code {}", code);
    }
    // Source route failed, time exceeded, parameter problem, a v4 type as v6: not acted on.
    assert_eq!(kind(4, 3, 5, 0), None);
    assert_eq!(kind(4, 11, 0, 0), None);
    assert_eq!(kind(6, 4, 0, 0), None);
    assert_eq!(kind(6, 3, 0, 0), None);
    assert_eq!(icmp_error::mss_for(4, 576), 536);
    assert_eq!(icmp_error::mss_for(6, 1280), 1220);
}

#[test]
fn an_unreachable_ends_a_connect_with_its_reason() {
    let mut slots = TestSlots::new(256);
    let mut h = host(40);
    let cases = [
        (v4(B4, 443), 0, ERR_NET_UNREACHABLE),
        (v4(B4, 443), 1, ERR_HOST_UNREACHABLE),
        (v4(B4, 443), 3, ERR_REFUSED),
        (v4(B4, 443), 13, ERR_PROHIBITED),
        (v6(2, 443), 0, ERR_NET_UNREACHABLE),
        (v6(2, 443), 3, ERR_HOST_UNREACHABLE),
        (v6(2, 443), 4, ERR_REFUSED),
        (v6(2, 443), 1, ERR_PROHIBITED),
    ];
    for (k, (remote, code, err)) in cases.iter().enumerate() {
        let c = user::connect(&mut h.cx(), &mut slots, *remote, SockAddr::NONE, 0).unwrap();
        let syn = h.sent(&mut slots, 0).remove(0);
        let local = h.sk.tcp[c].local;
        let router = if remote.family == 4 { v4(ROUTER4, 0) } else { v6(0xfe, 0) };
        // A router's message quoting another connection's SYN (port changed): dropped.
        let mut other = syn.clone();
        let at = if remote.family == 4 { 20 } else { 40 };
        other[at + 2] ^= 1;
        let before = h.dropped(E_NO_SOCKET);
        assert!(!h.inject(&mut slots, &unreachable(&router, &local, *code, &other), 1));
        assert_eq!((h.dropped(E_NO_SOCKET), h.sk.tcp[c].state), (before + 1, SYN_SENT), "case {}", k);
        // Only the IP header and 4 bytes of it: too short to say.
        assert!(!h.inject(&mut slots, &unreachable(&router, &local, *code, &syn[..at + 4]), 1));
        // The router quotes all of the SYN: the connect is over.
        assert!(h.inject(&mut slots, &unreachable(&router, &local, *code, &syn), 2), "case {}", k);
        assert_eq!((h.sk.tcp[c].state, h.sk.tcp[c].error), (CLOSED, *err), "case {}", k);
        let (_, fl) = next_event(&mut h.cx()).unwrap();
        assert_eq!(fl & (ready::CLOSED | ready::ERROR | ready::CONNECTED), ready::CLOSED | ready::ERROR);
        assert!(next_event(&mut h.cx()).is_none());
        assert!(h.sent(&mut slots, 2).is_empty()); // nothing answers an ICMP error
        user::release(&mut h.cx(), &mut slots, c, 2);
    }
    assert_eq!(h.dropped(E_TRUNCATED), cases.len() as u64);
    assert_eq!(h.net.stats.icmp_errors, cases.len() as u64);
    done(&mut h, &mut slots, &[], 3);
}

#[test]
fn an_unreachable_is_a_soft_error_once_established() {
    let mut slots = TestSlots::new(256);
    let mut h = host(41);
    let (c, _) = connected(&mut h, &mut slots, v4(B4, 80), 0);
    send(&mut h, &mut slots, c, 100);
    let seg = h.sent(&mut slots, 10).remove(0);
    let local = h.sk.tcp[c].local;
    assert!(h.inject(&mut slots, &unreachable(&v4(ROUTER4, 0), &local, 1, &seg), 20));
    // RFC 1122 §4.2.3.9: not aborted; the data still goes and is acknowledged.
    assert_eq!((h.sk.tcp[c].state, h.sk.tcp[c].error), (ESTABLISHED, 0));
    let iss = h.sk.tcp[c].iss;
    let ack = tcp_packet(&v4(B4, 80), &local, 5001, iss + 101, ACK, 60000, &Options::default(), b"");
    assert!(h.inject(&mut slots, &ack, 30));
    assert_eq!(h.sk.tcp[c].snd_una, iss + 101);
    // An error quoting data already acknowledged (or never sent) is not believed.
    let before = h.dropped(E_OUT_OF_WINDOW);
    assert!(!h.inject(&mut slots, &unreachable(&v4(ROUTER4, 0), &local, 1, &seg), 40));
    assert_eq!(h.dropped(E_OUT_OF_WINDOW), before + 1);
    // If the peer then goes silent, the timeout reports the soft error.
    send(&mut h, &mut slots, c, 10);
    let seg = h.sent(&mut slots, 50).remove(0);
    assert!(h.inject(&mut slots, &unreachable(&v4(ROUTER4, 0), &local, 1, &seg), 60));
    let mut now = 60;
    while h.sk.tcp[c].state != CLOSED {
        now += 1000;
        assert!(now < 1_000_000);
        h.sent(&mut slots, now);
    }
    assert_eq!(h.sk.tcp[c].error, ERR_HOST_UNREACHABLE);
    user::release(&mut h.cx(), &mut slots, c, now);
    done(&mut h, &mut slots, &[], now);
}

#[test]
fn too_big_lowers_the_mss_of_the_connections_to_that_destination() {
    let mut slots = TestSlots::new(256);
    let mut h = host(42);
    let (c, _) = connected(&mut h, &mut slots, v4(B4, 80), 0);
    let (c2, _) = connected(&mut h, &mut slots, v4(B4, 81), 0);
    let (other, _) = connected(&mut h, &mut slots, v4(C4, 80), 0);
    assert_eq!(h.sk.tcp[c].snd_mss, 1380);
    send(&mut h, &mut slots, c, 1900);
    let segs = h.sent(&mut slots, 10);
    assert_eq!(segs.len(), 2);
    assert_eq!(tcp_fields(&segs[0]).5.len(), 1380);
    let local = h.sk.tcp[c].local;
    let router = v4(ROUTER4, 0);
    // Forged or broken: a wrong sequence number, another port, a quoted UDP datagram, a code
    // we do not act on, a bad checksum. Nothing changes.
    let mut wrong_seq = segs[0].clone();
    wrong_seq[24] ^= 0x40;
    let mut wrong_port = segs[0].clone();
    wrong_port[23] ^= 1;
    let udp = udp_packet(&local, &v4(B4, 53), b"x");
    let mut bad_sum = too_big(&router, &local, 1000, &segs[0]);
    bad_sum[30] ^= 1;
    let cases = [
        (too_big(&router, &local, 1000, &wrong_seq), E_OUT_OF_WINDOW),
        (too_big(&router, &local, 1000, &wrong_port), E_NO_SOCKET),
        (too_big(&router, &local, 1000, &udp), E_UNSUPPORTED),
        (icmp_error(&router, &local, 3, 5, 1000, &segs[0]), E_UNSUPPORTED),
        (bad_sum, E_CHECKSUM),
    ];
    for (k, (pkt, code)) in cases.iter().enumerate() {
        let before = h.dropped(*code);
        assert!(!h.inject(&mut slots, pkt, 20), "case {}", k);
        assert_eq!(h.dropped(*code), before + 1, "case {}", k);
    }
    assert_eq!(h.sk.tcp[c].snd_mss, 1380);
    assert_eq!(h.net.stats.icmp_errors, 0);
    // The real one: MTU 1000. Every connection to B goes down; the one to C does not; the
    // dropped segment goes again at once, in the new size.
    assert!(h.inject(&mut slots, &too_big(&router, &local, 1000, &segs[0]), 30));
    let t = &h.sk.tcp;
    assert_eq!((t[c].snd_mss, t[c2].snd_mss, t[other].snd_mss), (960, 960, 1380));
    let again = h.sent(&mut slots, 30);
    let (seq, _, _, _, _, data) = tcp_fields(&again[0]);
    assert_eq!((seq, data.len(), again.len()), (h.sk.tcp[c].snd_una, 960, 2));
    let (seq2, _, _, _, _, data2) = tcp_fields(&again[1]);
    assert_eq!((seq2, data2.len()), (seq + 960, 940)); // all of what was in flight, resized
    assert_eq!((h.net.stats.icmp_errors, h.net.stats.pmtu_lowered), (1, 1));
    // Never below 576 bytes (0: a router before RFC 1191), never up.
    assert!(h.inject(&mut slots, &too_big(&router, &local, 100, &segs[0]), 40));
    assert_eq!(h.sk.tcp[c].snd_mss, 536);
    h.sent(&mut slots, 40);
    assert!(h.inject(&mut slots, &too_big(&router, &local, 0, &segs[0]), 41));
    assert!(h.inject(&mut slots, &too_big(&router, &local, 1400, &segs[0]), 42));
    assert_eq!(h.sk.tcp[c].snd_mss, 536);
    assert_eq!(h.net.stats.pmtu_lowered, 2);
    h.sent(&mut slots, 42);
    done(&mut h, &mut slots, &[c, c2, other], 50);
}

#[test]
fn a_path_mtu_learnt_holds_for_new_connections_for_10_minutes() {
    let mut slots = TestSlots::new(256);
    let mut h = host(48);
    let (c, _) = connected(&mut h, &mut slots, v4(B4, 80), 0);
    send(&mut h, &mut slots, c, 1500);
    let segs = h.sent(&mut slots, 10);
    let local = h.sk.tcp[c].local;
    assert!(h.inject(&mut slots, &too_big(&v4(ROUTER4, 0), &local, 1200, &segs[0]), 20));
    h.sent(&mut slots, 20);
    done(&mut h, &mut slots, &[c], 30);
    // A new connection to B starts at the path's MSS (the peer offers 1460); to C at the MTU's.
    let (b2, _) = connected(&mut h, &mut slots, v4(B4, 81), 40);
    let (c2, _) = connected(&mut h, &mut slots, v4(C4, 81), 40);
    assert_eq!((h.sk.tcp[b2].snd_mss, h.sk.tcp[c2].snd_mss), (1160, 1380));
    // So does one B opens to us.
    let l = user::listen(&mut h.cx(), v4(A4, 22), 4).unwrap();
    let opts = Options { mss: 1460, ..Options::default() };
    assert!(h.inject(&mut slots, &tcp_packet(&v4(B4, 40000), &v4(A4, 22), 1, 0, SYN, 60000, &opts, b""), 50));
    let synack = h.sent(&mut slots, 50).remove(0);
    assert_eq!(tcp_fields(&synack).4.mss, 1380); // what we announce is our MTU's
    let ack =
        tcp_packet(&v4(B4, 40000), &v4(A4, 22), 2, tcp_fields(&synack).0 + 1, ACK, 60000, &Options::default(), b"");
    assert!(h.inject(&mut slots, &ack, 51));
    let s = user::accept(&mut h.cx(), l).unwrap();
    assert_eq!(h.sk.tcp[s].snd_mss, 1160);
    // Ten minutes on, the estimate is forgotten.
    let (b3, _) = connected(&mut h, &mut slots, v4(B4, 82), 20 + pmtu::AGE_MS);
    assert_eq!(h.sk.tcp[b3].snd_mss, 1380);
    user::unlisten(&mut h.cx(), &mut slots, l, 60);
    done(&mut h, &mut slots, &[b2, c2, s, b3], 20 + pmtu::AGE_MS);
}

#[test]
fn packet_too_big_for_ipv6_stops_at_1280() {
    let mut slots = TestSlots::new(256);
    let mut h = host(43);
    let (c, _) = connected(&mut h, &mut slots, v6(2, 80), 0);
    assert_eq!(h.sk.tcp[c].snd_mss, 1360);
    send(&mut h, &mut slots, c, 1500);
    let segs = h.sent(&mut slots, 10);
    let local = h.sk.tcp[c].local;
    assert!(h.inject(&mut slots, &too_big(&v6(0xfe, 0), &local, 1000, &segs[0]), 20));
    assert_eq!(h.sk.tcp[c].snd_mss, 1220);
    let again = h.sent(&mut slots, 20);
    assert_eq!(tcp_fields(&again[0]).5.len(), 1220);
    // An ICMP (v4) error quoting the IPv6 segment is no answer to it.
    assert!(!h.inject(&mut slots, &too_big(&v4(ROUTER4, 0), &v4(A4, 0), 600, &segs[0]), 30));
    done(&mut h, &mut slots, &[c], 40);
}

#[test]
fn pings_are_sent_and_their_replies_matched() {
    let mut slots = TestSlots::new(256);
    let mut h = host(44);
    for (to, from) in [(v4(B4, 0), v4(A4, 0)), (v6(2, 0), v6(1, 0))] {
        let mut cx = h.cx();
        assert_eq!(ping::send(&mut cx, &mut slots, to, 7, 1, 100), Ok(()));
        let req = h.sent(&mut slots, 100).remove(0);
        let p = ip::Packet::new_checked(&req[..]).unwrap();
        assert_eq!((p.src_addr(), p.dst_addr()), (from.ip(), to.ip()));
        let hl = p.header_len();
        let (ty, rty, proto) = if to.family == 4 {
            (icmp::V4_ECHO_REQUEST, icmp::V4_ECHO_REPLY, PROTO_ICMP)
        } else {
            (icmp::V6_ECHO_REQUEST, icmp::V6_ECHO_REPLY, PROTO_ICMPV6)
        };
        assert_eq!(&req[hl..hl + 2], &[ty, 0]);
        assert_eq!(&req[hl + 4..hl + 8], &[0, 7, 0, 1]);
        assert_eq!(req.len(), hl + 8 + ping::DATA_LEN);
        assert!(icmp_checksums_ok(&req));
        // The reply: the request's id, sequence number and data back.
        let mut l4 = req[hl..].to_vec();
        l4[0] = rty;
        let rep = ip_packet(&to, &from, proto, &l4, Some(2));
        let mut wrong_data = l4.clone();
        wrong_data[12] ^= 1;
        let mut wrong_seq = l4.clone();
        wrong_seq[7] = 2;
        let stranger = if to.family == 4 { v4(C4, 0) } else { v6(3, 0) };
        for bad in [
            ip_packet(&to, &from, proto, &wrong_data, Some(2)),
            ip_packet(&to, &from, proto, &wrong_seq, Some(2)),
            ip_packet(&stranger, &from, proto, &l4, Some(2)),
        ] {
            assert!(!h.inject(&mut slots, &bad, 110));
        }
        assert_eq!(h.net.pings.take(), None);
        assert!(h.inject(&mut slots, &rep, 130));
        let got = h.net.pings.take().unwrap();
        assert_eq!(got, ping::Reply { from: to, id: 7, seq: 1, rtt: 30, at: 130 });
        assert!(!h.inject(&mut slots, &rep, 140)); // answered already
        assert_eq!(h.net.pings.take(), None);
    }
    assert_eq!(h.dropped(E_NO_SOCKET), 8);
    assert_eq!(h.net.stats.ping_replies, 2);
    // Bounded: the oldest requests are forgotten.
    for seq in 0..100 {
        assert_eq!(ping::send(&mut h.cx(), &mut slots, v4(B4, 0), 9, seq, 200), Ok(()));
        h.sent(&mut slots, 200);
    }
    assert_eq!(h.net.pings.waiting(), crate::consts::NET_MAX_PINGS);
    let mut cx = h.cx();
    assert_eq!(ping::send(&mut cx, &mut slots, v4([0; 4], 0), 1, 1, 0), Err(E_BAD_ARG));
    assert_eq!(ping::send(&mut cx, &mut slots, SockAddr::NONE, 1, 1, 0), Err(E_BAD_ARG));
    let mut only4 = Host::new(&[v4(A4, 0)], 1420, 1 << 16, 1 << 16, 45);
    assert_eq!(ping::send(&mut only4.cx(), &mut slots, v6(2, 0), 1, 1, 0), Err(E_BAD_ARG));
    assert_eq!(slots.in_use(), 0);
}

#[test]
fn a_peer_stack_answers_our_pings() {
    let mut p = Pair {
        slots: TestSlots::new(1024),
        a: Host::new(&[v4(A4, 0), v6(1, 0)], 1420, 256 << 10, 256 << 10, 46),
        b: Host::new(&[v4(B4, 0), v6(2, 0)], 1420, 256 << 10, 256 << 10, 47),
        ab: Link::new(1, 7, 0, 0, 0),
        ba: Link::new(2, 7, 0, 0, 0),
        now: 1000,
    };
    assert_eq!(ping::send(&mut p.a.cx(), &mut p.slots, v4(B4, 0), 3, 4, p.now), Ok(()));
    assert_eq!(ping::send(&mut p.a.cx(), &mut p.slots, v6(2, 0), 3, 5, p.now), Ok(()));
    assert_eq!(ping::send(&mut p.a.cx(), &mut p.slots, v4(C4, 0), 3, 6, p.now), Ok(())); // nobody
    for _ in 0..20 {
        p.step(5);
    }
    let r1 = p.a.net.pings.take().unwrap();
    let r2 = p.a.net.pings.take().unwrap();
    assert_eq!((r1.from, r1.seq, r2.from, r2.seq), (v4(B4, 0), 4, v6(2, 0), 5));
    // Two link delays, and the steps of the clock.
    assert!((14..25).contains(&r1.rtt) && (14..25).contains(&r2.rtt), "{} {}", r1.rtt, r2.rtt);
    assert_eq!(p.a.net.pings.take(), None);
    assert_eq!(p.b.net.stats.echo_replies, 2);
    assert_eq!(p.b.dropped(E_NOT_LOCAL), 1);
    p.ab.clear(&mut p.slots);
    p.ba.clear(&mut p.slots);
    assert_eq!(p.slots.in_use(), 0);
}

/// Two stacks over a clean link, A connected to B:80: (pair, A's connection, B's).
fn keepalive_pair(seed: u8) -> (Pair, usize, usize) {
    let mut p = Pair {
        slots: TestSlots::new(1024),
        a: Host::new(&[v4(A4, 0)], 1420, 256 << 10, 256 << 10, seed),
        b: Host::new(&[v4(B4, 0)], 1420, 256 << 10, 256 << 10, seed + 1),
        ab: Link::new(seed as u64, 5, 0, 0, 0),
        ba: Link::new(seed as u64 + 7, 5, 0, 0, 0),
        now: 1000,
    };
    let l = user::listen(&mut p.b.cx(), v4([0; 4], 80), 4).unwrap();
    let c = user::connect(&mut p.a.cx(), &mut p.slots, v4(B4, 80), SockAddr::NONE, p.now).unwrap();
    let mut s = None;
    for _ in 0..100 {
        p.step(100);
        s = s.or_else(|| user::accept(&mut p.b.cx(), l).ok());
    }
    assert_eq!(p.a.sk.tcp[c].state, ESTABLISHED);
    (p, c, s.unwrap())
}

/// Steps the pair until `ms` of virtual time have passed.
fn run_for(p: &mut Pair, ms: u32) {
    let end = p.now + ms;
    while p.now < end {
        p.step(end - p.now);
        while next_event(&mut p.a.cx()).is_some() {}
        while next_event(&mut p.b.cx()).is_some() {}
    }
}

#[test]
fn keepalive_is_off_by_default_and_probes_an_idle_peer() {
    let (mut p, c, s) = keepalive_pair(50);
    let sent = p.a.net.stats.tcp_out;
    run_for(&mut p, 3_600_000); // an idle hour: nothing sent
    assert_eq!((p.a.net.stats.tcp_out, p.a.net.stats.keepalives), (sent, 0));
    let mut cx = p.a.cx();
    assert_eq!(keepalive::set(&mut cx, c, 1000, 0, 3, 0), Err(E_BAD_ARG));
    assert_eq!(keepalive::set(&mut cx, c, 1000, 200, 0, 0), Err(E_BAD_ARG));
    assert_eq!(keepalive::set(&mut cx, c, 1000, 200, 128, 0), Err(E_BAD_ARG));
    assert_eq!(keepalive::set(&mut cx, c, u32::MAX, 200, 3, 0), Err(E_BAD_ARG));
    let now = p.now;
    assert_eq!(keepalive::set(&mut p.a.cx(), c, 1000, 200, 3, now), Ok(()));
    // The peer answers each probe: one per idle second, the connection stays.
    run_for(&mut p, 10_100); // probes at 1 s, then a round trip and 1 s after each answer
    assert_eq!(p.a.net.stats.keepalives, 10);
    assert_eq!(p.a.sk.tcp[c].state, ESTABLISHED);
    assert_eq!(p.b.sk.tcp[s].state, ESTABLISHED);
    // Data in between counts as hearing from the peer: the next probe waits an idle second.
    // The peer goes silent (its answers lost): 3 probes 200 ms apart, then a reset, 1.6 s
    // after it was last heard.
    p.ba.loss = 1000;
    let heard = p.a.sk.tcp[c].last_rx;
    run_for(&mut p, 3_000);
    assert_eq!(p.a.net.stats.keepalives, 13);
    assert_eq!((p.a.sk.tcp[c].state, p.a.sk.tcp[c].error), (CLOSED, ERR_TIMED_OUT));
    assert_eq!(p.a.net.stats.keepalive_timeouts, 1);
    let now = p.now;
    assert_eq!(keepalive::set(&mut p.a.cx(), c, 1000, 200, 3, now), Ok(())); // over: a no-op
    assert!(!p.a.sk.tcp[c].has(flag::KEEPALIVE));
    // B got the RST (the link from A still works).
    assert_eq!((p.b.sk.tcp[s].state, p.b.sk.tcp[s].error), (CLOSED, ERR_RESET));
    assert!(p.a.net.stats.rsts_sent >= 1 && heard > 0);
    user::release(&mut p.a.cx(), &mut p.slots, c, p.now);
    user::release(&mut p.b.cx(), &mut p.slots, s, p.now);
    p.ab.clear(&mut p.slots);
    p.ba.clear(&mut p.slots);
    assert_eq!(p.slots.in_use(), 0);
}

#[test]
fn keepalive_waits_while_data_is_retransmitted_and_can_be_turned_off() {
    let (mut p, c, s) = keepalive_pair(52);
    let now = p.now;
    assert_eq!(keepalive::set(&mut p.a.cx(), c, 1000, 100, 2, now), Ok(()));
    assert_eq!(keepalive::set(&mut p.a.cx(), c, 0, 0, 0, now), Ok(())); // off again
    run_for(&mut p, 5_000);
    assert_eq!(p.a.net.stats.keepalives, 0);
    // On, with unacknowledged data: the retransmission timer is the one that decides.
    let now = p.now;
    assert_eq!(keepalive::set(&mut p.a.cx(), c, 1000, 100, 2, now), Ok(()));
    p.ab.loss = 1000;
    send_pair(&mut p, c, 100);
    run_for(&mut p, 5_000);
    assert_eq!(p.a.net.stats.keepalives, 0);
    assert_eq!(p.a.sk.tcp[c].state, ESTABLISHED);
    p.ab.loss = 0;
    run_for(&mut p, 20_000);
    assert_eq!(p.b.sk.tcp[s].rx.bytes, 100);
    assert!(p.a.net.stats.keepalives > 0);
    for (h, i) in [(&mut p.a, c), (&mut p.b, s)] {
        user::abort(&mut h.cx(), &mut p.slots, i, p.now);
        user::release(&mut h.cx(), &mut p.slots, i, p.now);
    }
    p.ab.clear(&mut p.slots);
    p.ba.clear(&mut p.slots);
    for h in [&mut p.a, &mut p.b] {
        for (off, _) in h.output(&mut p.slots, p.now, 16) {
            p.slots.free(off);
        }
    }
    assert_eq!(p.slots.in_use(), 0);
}

fn send_pair(p: &mut Pair, c: usize, n: usize) {
    let (off, _) = p.slots.take(1950).unwrap();
    assert_eq!(user::send(&mut p.a.cx(), &mut p.slots, c, off, 16, n), Ok(n));
}

#[test]
fn random_icmp_errors_never_panic_nor_end_an_established_connection() {
    let mut slots = TestSlots::new(512);
    let mut h = host(49);
    let (c, _) = connected(&mut h, &mut slots, v4(B4, 80), 0);
    let (c6, _) = connected(&mut h, &mut slots, v6(2, 80), 0);
    let mut rng = Rng(0x1cc0_ffee);
    for round in 0..3000u32 {
        let six = round % 2 == 1;
        let conn = if six { c6 } else { c };
        if h.sk.tcp[conn].tx.bytes == 0 {
            send(&mut h, &mut slots, conn, 1 + (rng.roll() % 1800) as usize);
        }
        let segs = h.sent(&mut slots, round);
        let mut quoted = match segs.first() {
            Some(s) => s.clone(),
            None => vec![0x45; 48],
        };
        // Mutations: cut, flip bytes of the quote, any type and code.
        let cut = (rng.roll() % (quoted.len() as u64 + 1)) as usize;
        if rng.chance(300) {
            quoted.truncate(cut);
        }
        for _ in 0..(rng.roll() % 3) {
            if !quoted.is_empty() {
                let at = (rng.roll() % quoted.len() as u64) as usize;
                quoted[at] ^= 1 << (rng.roll() % 8);
            }
        }
        let (router, local) =
            if six { (v6(0xfe, 0), h.sk.tcp[conn].local) } else { (v4(ROUTER4, 0), h.sk.tcp[conn].local) };
        let ty = if rng.chance(700) { [3, 1, 2, 11][(rng.roll() % 4) as usize] } else { (rng.roll() % 256) as u8 };
        let code = (rng.roll() % 16) as u8;
        let rest = rng.roll() as u32;
        h.inject(&mut slots, &icmp_error(&router, &local, ty, code, rest, &quoted), round);
        let t = &h.sk.tcp[conn];
        assert_eq!(t.state, ESTABLISHED, "round {}", round);
        assert!(t.snd_mss >= if six { 1220 } else { 536 }, "round {}: mss {}", round, t.snd_mss);
        // The peer acknowledges everything now and then, so data keeps moving.
        if rng.chance(200) {
            let (remote, ack) = (t.remote, t.snd_max);
            let seg = tcp_packet(&remote, &local, 5001, ack, ACK, 60000, &Options::default(), b"");
            h.inject(&mut slots, &seg, round);
        }
    }
    assert!(h.net.stats.icmp_errors > 0 && h.net.stats.pmtu_lowered > 0);
    h.sent(&mut slots, 5000);
    done(&mut h, &mut slots, &[c, c6], 5000);
}
