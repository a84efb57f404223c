//! TCP timers, on the caller's millisecond clock:
//! - retransmission timeout per RFC 6298: SRTT and RTTVAR from samples (timestamps, RFC
//!   7323 §4, none echoing a timestamp from before the last timeout; else one timed
//!   segment at a time with Karn's rule), RTO = SRTT + 4 RTTVAR
//!   within [RTO_MIN, RTO_MAX], doubled on each expiry (§5.5), restarted when new data is
//!   acknowledged (§5.3); after MAX_RETRIES (SYN_RETRIES for a SYN) the connection times out;
//! - the persist timer for a zero window (RFC 9293 §3.8.6.1), with the same backoff, which
//!   never gives up while the peer answers;
//! - the delayed ACK (RFC 9293 §3.8.6.3, at most DELACK_MS);
//! - TIME_WAIT (2 MSL) and an orphaned FIN_WAIT_2.
//!
//! One deadline per connection (`rto_at`, which the state says the meaning of) and the
//! delayed ACK's (`delack_at`). [`run`] scans the connections once the earliest deadline
//! the stack knows of has come, and learns the next one.

use super::{before, before_eq, congestion, tcb, Ctx, Netstack, Slots};
use crate::tables::tcb::{flag, Tcb, ERR_TIMED_OUT, FIN_WAIT_2, SYN_RECEIVED, SYN_SENT, TIME_WAIT};

/// RFC 6298 §2.1: before any sample.
pub const RTO_INITIAL: u32 = 1000;
/// RFC 6298 §2.4 says 1 s SHOULD be the floor; like Linux we use 200 ms (the RFC notes
/// that a lower floor is in use, and RFC 8961 leaves it to the implementation): a tunnel's
/// RTTs are milliseconds, and a 1 s floor makes every loss a second of nothing.
pub const RTO_MIN: u32 = 200;
/// RFC 6298 §2.5: at least 60 s.
pub const RTO_MAX: u32 = 60_000;
/// Retransmissions of data before the connection times out (Linux's tcp_retries2 is 15).
pub const MAX_RETRIES: u8 = 12;
/// SYN (and SYN-ACK) retransmissions before a connect or a handshake times out.
pub const SYN_RETRIES: u8 = 6;
/// Longest an ACK of received data waits (RFC 9293 §3.8.6.3: < 0.5 s; Linux's 40 ms).
pub const DELACK_MS: u32 = 40;
/// 2 MSL (RFC 9293 §3.3.2 suggests MSL = 2 min; Linux's 60 s TIME_WAIT).
pub const TIME_WAIT_MS: u32 = 60_000;
/// An orphaned FIN_WAIT_2 (no one will read, the peer never closes) ends after this.
pub const FIN_WAIT_2_MS: u32 = 60_000;

/// One RTT sample of `r` ms (RFC 6298 §2.2-2.3). `srtt` is kept ×8, `rttvar` ×4.
pub fn rtt_sample(t: &mut Tcb, r: u32) {
    let r = r.max(1);
    if t.srtt == 0 {
        t.srtt = r << 3;
        t.rttvar = r << 1;
    } else {
        let delta = ((t.srtt >> 3) as i64 - r as i64).unsigned_abs() as u32;
        t.rttvar = t.rttvar - (t.rttvar >> 2) + delta;
        t.srtt = t.srtt - (t.srtt >> 3) + r;
    }
    t.rto = ((t.srtt >> 3) + t.rttvar.max(1)).clamp(RTO_MIN, RTO_MAX);
}

/// Starts the retransmission timer (or restarts it) at `now + rto`.
pub fn arm_rto(net: &mut Netstack, t: &mut Tcb, now: u32) {
    t.flags = (t.flags | flag::RTO_ON) & !flag::PERSIST;
    t.rto_at = now.wrapping_add(t.rto);
    net.note_timer(t.rto_at);
}

/// Starts the persist timer (a zero window with data to send).
pub fn arm_persist(net: &mut Netstack, t: &mut Tcb, now: u32) {
    t.flags |= flag::RTO_ON | flag::PERSIST;
    t.rto_at = now.wrapping_add(t.rto);
    net.note_timer(t.rto_at);
}

/// Runs the timer at `now + ms` (TIME_WAIT, FIN_WAIT_2).
pub fn arm_for(net: &mut Netstack, t: &mut Tcb, now: u32, ms: u32) {
    t.flags = (t.flags | flag::RTO_ON) & !flag::PERSIST;
    t.rto_at = now.wrapping_add(ms);
    net.note_timer(t.rto_at);
}

pub fn stop_rto(t: &mut Tcb) {
    t.flags &= !(flag::RTO_ON | flag::PERSIST);
}

/// Arms the delayed ACK if it is not running.
pub fn arm_delack(net: &mut Netstack, t: &mut Tcb, now: u32) {
    if !t.has(flag::DELACK) {
        t.flags |= flag::DELACK;
        t.delack_at = now.wrapping_add(DELACK_MS);
        net.note_timer(t.delack_at);
    }
}

/// The doubled RTO after an expiry.
fn backoff(t: &mut Tcb) {
    t.rto = t.rto.saturating_mul(2).clamp(RTO_MIN, RTO_MAX);
}

/// Every connection whose deadline has come: its timer handled. Learns the next deadline.
pub fn run<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, now: u32) {
    cx.net.timers_armed = false;
    let mut next: Option<u32> = None;
    for i in 0..cx.sk.tcp_ids.high() {
        if !cx.sk.tcp[i].used {
            continue;
        }
        let t = &mut cx.sk.tcp[i];
        if t.has(flag::DELACK) && before_eq(t.delack_at, now) {
            t.flags = (t.flags & !flag::DELACK) | flag::ACK_NOW;
            cx.sk.mark_dirty(i);
        }
        if cx.sk.tcp[i].has(flag::RTO_ON) && before_eq(cx.sk.tcp[i].rto_at, now) {
            expire(cx, slots, i, now);
        }
        let t = &cx.sk.tcp[i];
        if !t.used {
            continue;
        }
        for (on, at) in [(t.has(flag::DELACK), t.delack_at), (t.has(flag::RTO_ON), t.rto_at)] {
            if on && next.map_or(true, |n| before(at, n)) {
                next = Some(at);
            }
        }
    }
    // Timers armed while running (by `expire`) are in `next_timer` already.
    if let Some(n) = next {
        cx.net.note_timer(n);
    }
}

/// Connection `i`'s deadline came.
fn expire<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    let t = &mut cx.sk.tcp[i];
    t.flags &= !flag::RTO_ON;
    match t.state {
        TIME_WAIT | FIN_WAIT_2 => tcb::finish(cx, slots, i, 0),
        _ if t.has(flag::PERSIST) => {
            // Probe the zero window with one byte (RFC 9293 §3.8.6.1), keep probing.
            t.flags = (t.flags & !flag::PERSIST) | flag::PROBE;
            backoff(t);
            cx.sk.mark_dirty(i);
        }
        SYN_SENT | SYN_RECEIVED => {
            if t.retries >= SYN_RETRIES {
                cx.net.stats.timeouts += 1;
                tcb::finish(cx, slots, i, ERR_TIMED_OUT);
                return;
            }
            t.retries += 1;
            t.flags &= !flag::RTT; // Karn: a retransmitted SYN gives no sample
            t.rtx_ts = now.wrapping_add(t.ts_offset);
            backoff(t);
            t.snd_nxt = t.iss;
            cx.sk.mark_dirty(i);
        }
        _ => {
            cx.net.stats.timeouts += 1;
            if t.retries >= MAX_RETRIES {
                tcb::finish(cx, slots, i, ERR_TIMED_OUT);
                return;
            }
            t.retries += 1;
            congestion::on_timeout(t);
            t.flags &= !(flag::RTT | flag::RETRANSMIT);
            // Karn for timestamps: an ACK echoing a timestamp from before this timeout would
            // measure the wait too.
            t.rtx_ts = now.wrapping_add(t.ts_offset);
            backoff(t);
            // Go back: everything from the first unacknowledged byte is sent again.
            t.snd_nxt = t.snd_una;
            cx.sk.mark_dirty(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6298_estimates() {
        let mut t = Tcb { rto: RTO_INITIAL, ..Tcb::ZERO };
        rtt_sample(&mut t, 100);
        // SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR = 300.
        assert_eq!((t.srtt >> 3, t.rttvar, t.rto), (100, 200, 300));
        rtt_sample(&mut t, 200);
        // RTTVAR = 3/4·50 + 1/4·100 = 62.5 (×4: 250); SRTT = 7/8·100 + 1/8·200 = 112.5.
        assert_eq!((t.rttvar, t.srtt), (250, 900));
        assert_eq!(t.rto, 112 + 250);
        // Small RTTs stop at the floor, huge ones at the ceiling.
        let mut t = Tcb::ZERO;
        rtt_sample(&mut t, 1);
        assert_eq!(t.rto, RTO_MIN);
        let mut t = Tcb::ZERO;
        rtt_sample(&mut t, 50_000);
        assert_eq!(t.rto, RTO_MAX);
        // Backoff doubles up to the ceiling.
        let mut t = Tcb { rto: 40_000, ..Tcb::ZERO };
        backoff(&mut t);
        assert_eq!(t.rto, RTO_MAX);
    }
}
