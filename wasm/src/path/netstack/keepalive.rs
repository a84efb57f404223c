//! TCP keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): off unless the user turns it on for a
//! connection, with its idle time, probe interval and probe count. When nothing acceptable
//! has arrived for the idle time and no retransmission timer runs (that one has its own
//! limit), a probe goes out: an ACK with SEG.SEQ = SND.NXT - 1, which the peer must answer
//! with an ACK. Any acceptable segment counts as an answer (`tcb.rs` notes its time); after
//! `count` unanswered probes, one interval apart, the connection is reset, ERR_TIMED_OUT.
//!
//! Segment arrival only stores the time: the deadline (`ka_at`) is moved when it comes.

use super::{before, output, Ctx, Slots};
use crate::errors::E_BAD_ARG;
use crate::tables::tcb::{flag, CLOSED, CLOSE_WAIT, ERR_TIMED_OUT, ESTABLISHED, FIN_WAIT_2, TIME_WAIT};

/// Longest idle time or interval (ms; the clock wraps at 2^32, deadlines must stay well inside
/// half of it): about 12 days.
pub const MAX_MS: u32 = 1 << 30;
/// Most probes.
pub const MAX_COUNT: u32 = 127;

/// Keepalive for connection `i`: idle `idle` ms, then up to `count` probes `intvl` ms apart
/// (`idle` 0: off). E_BAD_ARG for 0 or too large an interval or count, too large an idle time.
pub fn set(cx: &mut Ctx, i: usize, idle: u32, intvl: u32, count: u32, now: u32) -> Result<(), i32> {
    let t = &mut cx.sk.tcp[i];
    if idle == 0 {
        t.flags &= !(flag::KEEPALIVE | flag::KA_PROBE);
        return Ok(());
    }
    if idle > MAX_MS || intvl == 0 || intvl > MAX_MS || count == 0 || count > MAX_COUNT {
        return Err(E_BAD_ARG);
    }
    if matches!(t.state, CLOSED | TIME_WAIT) {
        return Ok(()); // over: nothing to keep alive
    }
    t.flags |= flag::KEEPALIVE;
    t.ka_idle = idle;
    t.ka_intvl = intvl;
    t.ka_count = count as u8;
    t.ka_probes = 0;
    t.last_rx = now; // turning it on starts the idle time
    t.ka_at = now.wrapping_add(idle);
    cx.net.note_timer(t.ka_at);
    Ok(())
}

/// Connection `i`'s keepalive deadline came.
pub fn expire<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    let t = &mut cx.sk.tcp[i];
    let open = matches!(t.state, ESTABLISHED | CLOSE_WAIT | FIN_WAIT_2);
    let retransmitting = (t.has(flag::RTO_ON) || t.snd_una != t.snd_max) && !t.has(flag::PERSIST);
    let at = if !open || retransmitting {
        // Not synchronized yet, closing, or retransmitting: look again an idle time later.
        t.ka_probes = 0;
        now.wrapping_add(t.ka_idle)
    } else if t.ka_probes == 0 && before(now, t.last_rx.wrapping_add(t.ka_idle)) {
        t.last_rx.wrapping_add(t.ka_idle) // heard from since
    } else if t.ka_probes >= t.ka_count {
        cx.net.stats.keepalive_timeouts += 1;
        output::reset_conn_with(cx, slots, i, now, ERR_TIMED_OUT);
        return;
    } else {
        t.ka_probes += 1;
        t.flags |= flag::KA_PROBE;
        let at = now.wrapping_add(t.ka_intvl);
        cx.sk.mark_dirty(i);
        at
    };
    let t = &mut cx.sk.tcp[i];
    t.ka_at = at;
    cx.net.note_timer(at);
}
