//! TCP timer arithmetic, on the caller's millisecond clock: the retransmission timeout per
//! RFC 6298 (SRTT and RTTVAR from samples, RTO = SRTT + 4 RTTVAR within [RTO_MIN, RTO_MAX],
//! doubled on each expiry) and arming the one deadline a connection has (`rto_at`: the
//! retransmission, persist, TIME_WAIT or FIN_WAIT_2 timer, the state says which) and the
//! delayed ACK's (`delack_at`). What happens when they expire is `timers.rs`.

use super::Netstack;
use crate::tables::tcb::{flag, Tcb};

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
pub fn backoff(t: &mut Tcb) {
    t.rto = t.rto.saturating_mul(2).clamp(RTO_MIN, RTO_MAX);
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
