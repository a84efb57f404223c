//! The ends of a connection, shared by segment arrival, the timers and the user calls:
//! TIME-WAIT entered, the connection finished (its slots back to the pool, kept CLOSED for
//! the user who holds it, else freed), and taken off its listener.

use super::{queue, rto, Ctx, Slots};
use crate::tables::sockets::KIND_TCP;
use crate::tables::tcb::{flag, CLOSED, ERR_NONE, TIME_WAIT};

/// TIME-WAIT for 2 MSL: nothing left to send, data not yet read stays for the user.
pub fn enter_time_wait<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, now: u32) {
    let t = &mut cx.sk.tcp[i];
    t.state = TIME_WAIT;
    queue::clear(&mut t.tx, slots);
    queue::clear(&mut t.ooo, slots);
    t.tx_cur_slot = 0;
    t.flags &= !(flag::DELACK | flag::RETRANSMIT | flag::PROBE | flag::KEEPALIVE | flag::KA_PROBE);
    rto::arm_for(cx.net, t, now, rto::TIME_WAIT_MS);
    if t.has(flag::ATTACHED) {
        cx.sk.notify(KIND_TCP, i);
    }
}

/// The connection is over (`err`: why; ERR_NONE for a clean end). Its slots go back (the
/// data received stays if it ended cleanly and the user holds it, to be read). A connection
/// the user holds is kept, CLOSED, until released; any other is freed.
pub fn finish<'m, S: Slots<'m>>(cx: &mut Ctx, slots: &mut S, i: usize, err: u8) {
    let t = &mut cx.sk.tcp[i];
    if !t.used {
        return;
    }
    rto::stop_rto(t);
    t.flags &= !(flag::DELACK
        | flag::ACK_NOW
        | flag::RETRANSMIT
        | flag::PROBE
        | flag::WINDOW_UPDATE
        | flag::KEEPALIVE
        | flag::KA_PROBE);
    queue::clear(&mut t.tx, slots);
    queue::clear(&mut t.ooo, slots);
    t.tx_cur_slot = 0;
    let attached = t.has(flag::ATTACHED);
    if err != ERR_NONE || !attached {
        queue::clear(&mut t.rx, slots);
    }
    if t.listener != 0 {
        detach_from_listener(cx, i);
    }
    let t = &mut cx.sk.tcp[i];
    if attached {
        t.state = CLOSED;
        if t.error == ERR_NONE {
            t.error = err;
        }
        cx.sk.tcp_unhash(i);
        cx.sk.notify(KIND_TCP, i);
    } else {
        cx.sk.tcp_free(i);
    }
}

/// Takes connection `i` off its listener (the count of pending ones, the accept queue).
pub fn detach_from_listener(cx: &mut Ctx, i: usize) {
    let l = cx.sk.tcp[i].listener as usize;
    if l == 0 {
        return;
    }
    cx.sk.tcp[i].listener = 0;
    let next = cx.sk.tcp[i].accept_next;
    cx.sk.tcp[i].accept_next = 0;
    let lst = &mut cx.sk.listeners[l - 1];
    lst.pending = lst.pending.saturating_sub(1);
    // Unlink from the accept queue, if it is there.
    let me = i as u16 + 1;
    let (mut prev, mut at) = (0u16, lst.accept_head);
    let mut guard = 0;
    while at != 0 && guard < crate::consts::NET_MAX_TCP {
        if at == me {
            if prev == 0 {
                cx.sk.listeners[l - 1].accept_head = next;
            } else {
                cx.sk.tcp[prev as usize - 1].accept_next = next;
            }
            if cx.sk.listeners[l - 1].accept_tail == me {
                cx.sk.listeners[l - 1].accept_tail = prev;
            }
            return;
        }
        prev = at;
        at = cx.sk.tcp[at as usize - 1].accept_next;
        guard += 1;
    }
}
