//! Active opens against what a Linux peer holds from an earlier connection on the same
//! 4-tuple (RFC 9293 §3.10.7.3's SYN-SENT checks, RFC 6528 ISNs, RFC 7323 §5.4 timestamps)
//! and the ephemeral port choice around our own TIME-WAIT (RFC 6056 algorithm 3).

// The whole file is test code (`mod.rs` declares it under cfg(test)); the attribute also tells
// tests/house_test.ts, which leaves out what follows a `#[cfg(test)]`.
#[cfg(test)]
use super::testing::{tcp_fields, tcp_packet, v4, v6, Host, TestSlots};
use super::user;
use crate::errors::*;
use crate::tables::tcb::{flag, ERR_NONE, ESTABLISHED, SYN_SENT, TIME_WAIT};
use crate::wire::tcp::{Options, ACK, RST, SYN};

const A4: [u8; 4] = [10, 0, 0, 1];
const B4: [u8; 4] = [10, 0, 0, 2];

fn host(seed: u8) -> Host {
    Host::new(&[v4(A4, 0), v6(1, 0)], 1420, 256 << 10, 256 << 10, seed)
}

/// Connects from `port` (0: ephemeral) to B4:5202 at `now`: the connection, its local port,
/// and its SYN's sequence number and TSval.
fn syn(h: &mut Host, slots: &mut TestSlots, port: u16, now: u32) -> (usize, u16, u32, u32) {
    let c = user::connect(&mut h.cx(), slots, v4(B4, 5202), v4([0; 4], port), now).unwrap();
    let out = h.sent(slots, now);
    assert_eq!(out.len(), 1);
    let (seq, _, flags, _, o, _) = tcp_fields(&out[0]);
    assert_eq!(flags, SYN);
    (c, h.sk.tcp[c].local.port, seq, o.timestamp.unwrap().0)
}

#[test]
fn syn_sent_resets_an_old_ack_and_stays_until_its_syn_is_answered() {
    let mut slots = TestSlots::new(256);
    let mut h = host(21);
    let (c, lport, iss, _) = syn(&mut h, &mut slots, 0, 1000);
    let (b, a) = (v4(B4, 5202), v4(A4, lport));
    let none = Options::default();
    // Linux's TIME-WAIT for the same 4-tuple answers a SYN it will not take with an ACK of the
    // old connection; our RST (its sequence number that ACK's) ends the TIME-WAIT there.
    for old_ack in [iss.wrapping_sub(40_000), iss, iss.wrapping_add(2)] {
        h.inject(&mut slots, &tcp_packet(&b, &a, 777_000, old_ack, ACK, 502, &none, b""), 1010);
        let out = h.sent(&mut slots, 1010);
        assert_eq!(out.len(), 1, "ack {}", old_ack.wrapping_sub(iss) as i32);
        let (seq, _, flags, _, _, _) = tcp_fields(&out[0]);
        assert_eq!((seq, flags), (old_ack, RST));
        assert_eq!((h.sk.tcp[c].state, h.sk.tcp[c].error), (SYN_SENT, ERR_NONE));
    }
    // A RST whose ACK does not acknowledge our SYN, or with no ACK, is dropped unanswered.
    for (ack, flags) in [(iss, RST | ACK), (iss.wrapping_sub(1), RST | ACK), (iss.wrapping_add(9), RST | ACK), (0, RST)]
    {
        let before = h.dropped(E_OUT_OF_WINDOW);
        h.inject(&mut slots, &tcp_packet(&b, &a, 777_000, ack, flags, 0, &none, b""), 1020);
        assert!(h.sent(&mut slots, 1020).is_empty());
        assert_eq!(h.dropped(E_OUT_OF_WINDOW), before + 1);
        assert_eq!((h.sk.tcp[c].state, h.sk.tcp[c].error), (SYN_SENT, ERR_NONE));
    }
    assert_eq!(h.net.stats.rsts_received, 0);
    // The SYN again at the RTO, the same ISS; the fresh SYN-ACK completes the handshake.
    let rto = h.next_timeout(1020).unwrap();
    let out = h.sent(&mut slots, 1020 + rto);
    let (seq, _, flags, _, o, _) = tcp_fields(&out[0]);
    assert_eq!((seq, flags), (iss, SYN));
    let opts = Options { timestamp: Some((9, o.timestamp.unwrap().0)), ..none };
    h.inject(&mut slots, &tcp_packet(&b, &a, 5_000_000, iss + 1, SYN | ACK, 64000, &opts, b""), 1030 + rto);
    assert_eq!(h.sk.tcp[c].state, ESTABLISHED);
    let (_, ack, flags, _, _, _) = tcp_fields(&h.sent(&mut slots, 1030 + rto)[0]);
    assert_eq!((ack, flags), (5_000_001, ACK));
    user::abort(&mut h.cx(), &mut slots, c, 1040 + rto);
    h.sent(&mut slots, 1040 + rto);
    user::release(&mut h.cx(), &mut slots, c, 1040 + rto);
    assert_eq!(h.sk.tcp_ids.in_use(), 0);
    assert_eq!(slots.in_use(), 0);
}

#[test]
fn a_reconnection_on_the_same_tuple_starts_above_the_old_isn_and_tsval() {
    // Linux's TIME-WAIT takes a new SYN if its sequence number is above the old connection's
    // or its TSval newer (PAWS): both must grow per 4-tuple with the clock, not per connection.
    let mut slots = TestSlots::new(256);
    let mut h = host(22);
    let (c, port, iss1, ts1) = syn(&mut h, &mut slots, 50_000, 1000);
    user::release(&mut h.cx(), &mut slots, c, 1000);
    let (c, _, iss2, ts2) = syn(&mut h, &mut slots, port, 61_000);
    assert_eq!(iss2.wrapping_sub(iss1), 60_000 * 250); // 4 µs a tick (RFC 6528)
    assert_eq!(ts2.wrapping_sub(ts1), 60_000); // 1 ms a tick
    user::release(&mut h.cx(), &mut slots, c, 61_000);
    // Another 4-tuple: another hash, so neither says anything about the first one's.
    let (c, _, iss3, ts3) = syn(&mut h, &mut slots, port + 1, 61_000);
    assert_ne!(iss3, iss2);
    assert_ne!(ts3, ts2);
    user::release(&mut h.cx(), &mut slots, c, 61_000);
    assert_eq!(h.sk.tcp_ids.in_use(), 0);
    assert_eq!(slots.in_use(), 0);
}

#[test]
fn ephemeral_ports_skip_our_time_wait_and_differ_between_stacks() {
    let mut slots = TestSlots::new(256);
    let mut h = host(23);
    let (c, p1, _, _) = syn(&mut h, &mut slots, 0, 1000);
    // As if it had closed: TIME-WAIT, nobody holding it.
    let t = &mut h.sk.tcp[c];
    t.state = TIME_WAIT;
    t.flags &= !flag::ATTACHED;
    // The counter back where it was: algorithm 3 would give the same port, but the 4-tuple is
    // taken, so the next one.
    h.net.port_counter = 0;
    let (d, p2, _, _) = syn(&mut h, &mut slots, 0, 1010);
    assert_eq!(p2, if p1 == 65535 { 49152 } else { p1 + 1 });
    assert_eq!(user::connect(&mut h.cx(), &mut slots, v4(B4, 5202), v4([0; 4], p1), 1010), Err(E_ADDR_IN_USE));
    // 64 connects to one remote: 64 ports in a row.
    let mut ports = vec![p2];
    let mut held = vec![c, d];
    for k in 0..62 {
        let (e, p, _, _) = syn(&mut h, &mut slots, 0, 1020 + k);
        held.push(e);
        ports.push(p);
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 63);
    assert!(!ports.contains(&p1));
    // Another stack (the next proxy started: another secret) starts elsewhere in the range.
    let mut other = host(24);
    let (e, q, _, _) = syn(&mut other, &mut slots, 0, 1000);
    let gap = (q as i32 - p1 as i32).rem_euclid(16384).min((p1 as i32 - q as i32).rem_euclid(16384));
    assert!(gap >= 128, "{} and {}", p1, q);
    user::release(&mut other.cx(), &mut slots, e, 1000);
    for i in held {
        user::release(&mut h.cx(), &mut slots, i, 1100);
    }
    // The TIME-WAIT one stays until its timer; CLOSED ones are freed.
    assert_eq!(h.sk.tcp_ids.in_use(), 1);
    assert_eq!(h.sk.tcp[c].state, TIME_WAIT);
    assert_eq!(slots.in_use(), 0);
}
