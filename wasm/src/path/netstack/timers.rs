//! TCP timers, on the caller's millisecond clock:
//! - retransmission timeout per RFC 6298: SRTT and RTTVAR from samples (timestamps, RFC
//!   7323 §4, none echoing a timestamp from before the last timeout; else one timed
//!   segment at a time with Karn's rule), RTO = SRTT + 4 RTTVAR
//!   within [RTO_MIN, RTO_MAX], doubled on each expiry (§5.5), restarted when new data is
//!   acknowledged (§5.3); after MAX_RETRIES (SYN_RETRIES for a SYN) the connection times out;
//! - the persist timer for a zero window (RFC 9293 §3.8.6.1), with the same backoff, which
//!   never gives up while the peer answers;
//! - the delayed ACK (RFC 9293 §3.8.6.3, at most DELACK_MS);
//! - TIME_WAIT (2 MSL) and an orphaned FIN_WAIT_2;
//! - keepalive, where the user turned it on (`keepalive.rs`).
//!
//! The arithmetic and the arming are `rto.rs`. [`run`] scans the connections once the
//! earliest deadline the stack knows of has come, handles the ones due, and learns the next.

use super::rto::{backoff, MAX_RETRIES, SYN_RETRIES};
use super::{before, before_eq, congestion, conn, keepalive, Ctx, Slots};
use crate::tables::tcb::{flag, ERR_TIMED_OUT, FIN_WAIT_2, SYN_RECEIVED, SYN_SENT, TIME_WAIT};

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
        if t.used && t.has(flag::KEEPALIVE) && before_eq(t.ka_at, now) {
            keepalive::expire(cx, slots, i, now);
        }
        let t = &cx.sk.tcp[i];
        if !t.used {
            continue;
        }
        let ka = (t.has(flag::KEEPALIVE), t.ka_at);
        for (on, at) in [(t.has(flag::DELACK), t.delack_at), (t.has(flag::RTO_ON), t.rto_at), ka] {
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
        TIME_WAIT | FIN_WAIT_2 => conn::finish(cx, slots, i, 0),
        _ if t.has(flag::PERSIST) => {
            // Probe the zero window with one byte (RFC 9293 §3.8.6.1), keep probing.
            t.flags = (t.flags & !flag::PERSIST) | flag::PROBE;
            backoff(t);
            cx.sk.mark_dirty(i);
        }
        SYN_SENT | SYN_RECEIVED => {
            if t.retries >= SYN_RETRIES {
                cx.net.stats.timeouts += 1;
                let err = if t.soft_error != 0 { t.soft_error } else { ERR_TIMED_OUT };
                conn::finish(cx, slots, i, err);
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
                // RFC 1122 §4.2.3.9: a soft error seen meanwhile says why (as Linux reports it).
                let err = if t.soft_error != 0 { t.soft_error } else { ERR_TIMED_OUT };
                conn::finish(cx, slots, i, err);
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
