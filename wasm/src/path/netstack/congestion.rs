//! Congestion control: NewReno (RFC 5681 slow start, congestion avoidance, fast retransmit
//! and fast recovery; RFC 6582 partial acknowledgments), with RFC 6928's initial window and
//! byte counting (RFC 3465). Everything in bytes; `snd_mss` is the segment size.

use super::before;
use crate::tables::tcb::{flag, Tcb};

/// RFC 6928: min(10 MSS, max(2 MSS, 14600 bytes)).
pub fn initial_window(mss: u32) -> u32 {
    (10 * mss).min((2 * mss).max(14600))
}

pub fn init(t: &mut Tcb) {
    t.cwnd = initial_window(t.snd_mss as u32);
    t.ssthresh = u32::MAX >> 1;
    t.recover = t.iss;
    t.dupacks = 0;
    t.flags &= !flag::RECOVERY;
}

/// Bytes sent and not acknowledged.
pub fn flight(t: &Tcb) -> u32 {
    t.snd_max.wrapping_sub(t.snd_una)
}

fn loss_threshold(t: &Tcb) -> u32 {
    (flight(t) / 2).max(2 * t.snd_mss as u32)
}

/// `acked` new bytes acknowledged up to `ack` (already `snd_una`). Returns whether the next
/// unacknowledged segment is to be retransmitted now (a partial ACK in recovery).
pub fn on_ack(t: &mut Tcb, acked: u32, ack: u32) -> bool {
    let mss = t.snd_mss as u32;
    t.dupacks = 0;
    // Was the window the limit? If not (the application or the peer's window was), it does
    // not grow (RFC 7661 §4.2's idea, simply).
    let cwnd_limited = flight(t) + acked + mss >= t.cwnd;
    if t.has(flag::RECOVERY) {
        if !before(ack, t.recover) {
            // Full acknowledgment (RFC 6582 §3.2 step 3): deflate to ssthresh.
            t.flags &= !flag::RECOVERY;
            t.cwnd = t.ssthresh.min(flight(t) + mss).max(mss);
            return false;
        }
        // Partial acknowledgment (step 5): retransmit the next hole, deflate by what was
        // acknowledged and add back one segment.
        t.cwnd = t.cwnd.saturating_sub(acked).max(mss) + if acked >= mss { mss } else { 0 };
        return true;
    }
    // Appropriate byte counting (RFC 3465) without its per-ACK limit, as Linux does: one ACK
    // here often covers a whole batch of segments (the stack reads packets in batches and
    // answers once per batch), and capping its credit at one or two segments would make slow
    // start crawl.
    if !cwnd_limited {
        return false;
    }
    if t.cwnd < t.ssthresh {
        t.cwnd = t.cwnd.saturating_add(acked).min(t.ssthresh.max(t.cwnd));
    } else {
        let inc = (mss as u64 * acked as u64 / t.cwnd.max(1) as u64) as u32;
        t.cwnd = t.cwnd.saturating_add(inc.max(1));
    }
    false
}

/// The window data may be sent in: cwnd, plus one segment per duplicate ACK before the
/// third (limited transmit, RFC 3042), so a small window still gets its three.
pub fn send_window(t: &Tcb) -> u32 {
    if !t.has(flag::RECOVERY) && (1..3).contains(&t.dupacks) {
        t.cwnd.saturating_add(t.dupacks as u32 * t.snd_mss as u32)
    } else {
        t.cwnd
    }
}

/// A duplicate ACK (RFC 5681 §2 definition). Returns whether to fast retransmit now.
pub fn on_dupack(t: &mut Tcb) -> bool {
    let mss = t.snd_mss as u32;
    t.dupacks = t.dupacks.saturating_add(1);
    if t.has(flag::RECOVERY) {
        t.cwnd = t.cwnd.saturating_add(mss); // inflate: a segment left the network
        return false;
    }
    // RFC 6582 §3.2 step 2: not if this loss belongs to a recovery that already ended.
    if t.dupacks == 3 && before(t.recover, t.snd_una) {
        t.ssthresh = loss_threshold(t);
        t.recover = t.snd_max;
        t.cwnd = t.ssthresh + 3 * mss;
        t.flags |= flag::RECOVERY;
        return true;
    }
    false
}

/// The retransmission timer expired (RFC 5681 §3.1 equation 4: the loss window is one
/// segment).
pub fn on_timeout(t: &mut Tcb) {
    t.ssthresh = loss_threshold(t);
    t.cwnd = t.snd_mss as u32;
    t.recover = t.snd_max;
    t.dupacks = 0;
    t.flags &= !flag::RECOVERY;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcb(mss: u16) -> Tcb {
        let mut t = Tcb { snd_mss: mss, iss: 1000, snd_una: 1001, snd_nxt: 1001, snd_max: 1001, ..Tcb::ZERO };
        init(&mut t);
        t
    }

    #[test]
    fn initial_windows() {
        assert_eq!(initial_window(1460), 14600);
        assert_eq!(initial_window(536), 5360);
        assert_eq!(initial_window(9000), 18000);
    }

    #[test]
    fn slow_start_then_avoidance() {
        let mut t = tcb(1000);
        t.snd_max = t.snd_una + 20000; // window-limited, so it grows
        assert_eq!(t.cwnd, 10000);
        assert!(!on_ack(&mut t, 1000, 2001));
        assert!(!on_ack(&mut t, 3000, 5001)); // every byte acknowledged counts
        assert_eq!(t.cwnd, 14000);
        t.ssthresh = 15000;
        on_ack(&mut t, 4000, 9001); // not past ssthresh
        assert_eq!(t.cwnd, 15000);
        on_ack(&mut t, 3000, 12001); // avoidance: one MSS per window acknowledged
        assert_eq!(t.cwnd, 15000 + 1000 * 3000 / 15000);
        // Not limited by the window (little in flight): no growth.
        t.snd_max = t.snd_una;
        let before = t.cwnd;
        let una = t.snd_una;
        on_ack(&mut t, 1000, una);
        assert_eq!(t.cwnd, before);
        // Limited transmit.
        assert_eq!(send_window(&t), before);
        t.dupacks = 2;
        assert_eq!(send_window(&t), before + 2000);
    }

    #[test]
    fn fast_retransmit_recovery_and_timeout() {
        let mut t = tcb(1000);
        t.snd_max = t.snd_una + 20000;
        assert!(!on_dupack(&mut t));
        assert!(!on_dupack(&mut t));
        assert_eq!(send_window(&t), 10000 + 2000);
        assert!(on_dupack(&mut t));
        assert!(t.has(flag::RECOVERY));
        assert_eq!((t.ssthresh, t.cwnd, t.recover), (10000, 13000, t.snd_una + 20000));
        assert!(!on_dupack(&mut t));
        assert_eq!(t.cwnd, 14000);
        // A partial ACK: retransmit the next hole.
        t.snd_una += 5000;
        let una = t.snd_una;
        assert!(on_ack(&mut t, 5000, una));
        assert_eq!(t.cwnd, 10000);
        // The full ACK ends recovery.
        t.snd_una = t.recover;
        let una = t.snd_una;
        assert!(!on_ack(&mut t, 15000, una));
        assert!(!t.has(flag::RECOVERY));
        assert_eq!(t.cwnd, 1000); // min(ssthresh, flight 0 + MSS)
                                  // A later timeout.
        t.snd_max = t.snd_una + 8000;
        on_timeout(&mut t);
        assert_eq!((t.cwnd, t.ssthresh), (1000, 4000));
        // Three dupacks for data sent before that timeout do not start a recovery.
        t.dupacks = 0;
        for _ in 0..3 {
            assert!(!on_dupack(&mut t));
        }
    }
}
