//! A TCP connection's control block (RFC 9293 §3.3.1) and what it is made of: the two ends
//! of its flow and the queues of slots it holds. Plain data: the state machine over it is
//! `path/netstack/`, the table of them `tables/sockets.rs`.

use crate::consts::NET_ADDR_LEN;

/// TCP states (RFC 9293 §3.3.2; LISTEN is a [`Listener`], not a connection).
pub const CLOSED: u8 = 0;
pub const SYN_SENT: u8 = 1;
pub const SYN_RECEIVED: u8 = 2;
pub const ESTABLISHED: u8 = 3;
pub const FIN_WAIT_1: u8 = 4;
pub const FIN_WAIT_2: u8 = 5;
pub const CLOSE_WAIT: u8 = 6;
pub const CLOSING: u8 = 7;
pub const LAST_ACK: u8 = 8;
pub const TIME_WAIT: u8 = 9;

/// Why a connection ended (`Tcb::error`, `ts_netstack_tcp_info`).
pub const ERR_NONE: u8 = 0;
/// A RST answered our SYN (SOCKS "connection refused").
pub const ERR_REFUSED: u8 = 1;
/// A RST after the connection was synchronized.
pub const ERR_RESET: u8 = 2;
/// Retransmissions (or SYN retries) ran out.
pub const ERR_TIMED_OUT: u8 = 3;
/// Aborted by TypeScript (`ts_netstack_tcp_abort`) or its listener closed.
pub const ERR_ABORTED: u8 = 4;
/// An ICMP(v6) destination unreachable for our SYN: no route to the network (v4 code 0, v6 0).
pub const ERR_NET_UNREACHABLE: u8 = 5;
/// ... the host (v4 codes 1, v6 2-3).
pub const ERR_HOST_UNREACHABLE: u8 = 6;
/// ... administratively prohibited (v4 codes 9, 10, 13; v6 1, 5, 6). Port and protocol
/// unreachable (v4 2-3, v6 4) are ERR_REFUSED: nobody listens there.
pub const ERR_PROHIBITED: u8 = 7;

/// `Tcb::flags` bits.
pub mod flag {
    /// TypeScript holds the handle (a connect, or an accepted connection).
    pub const ATTACHED: u32 = 1 << 0;
    /// Send an ACK at the next output.
    pub const ACK_NOW: u32 = 1 << 1;
    /// A delayed ACK is pending (`delack_at`).
    pub const DELACK: u32 = 1 << 2;
    /// The retransmission (or persist, or TIME_WAIT) timer runs (`rto_at`).
    pub const RTO_ON: u32 = 1 << 3;
    /// The user closed for sending: a FIN follows the queued data.
    pub const FIN_QUEUED: u32 = 1 << 4;
    /// Window scaling in use (both SYNs carried the option).
    pub const WSCALE: u32 = 1 << 5;
    /// Timestamps in use (both SYNs carried the option).
    pub const TIMESTAMPS: u32 = 1 << 6;
    /// Retransmit the segment at `snd_una` at the next output (fast retransmit, a partial
    /// ACK in recovery).
    pub const RETRANSMIT: u32 = 1 << 7;
    /// Our FIN was acknowledged.
    pub const FIN_ACKED: u32 = 1 << 8;
    /// A FIN was received (end of the peer's data).
    pub const RX_FIN: u32 = 1 << 9;
    /// A send was refused for want of space: tell TypeScript when there is some.
    pub const WANT_WRITE: u32 = 1 << 10;
    /// The running timer is the persist timer (zero window, RFC 9293 §3.8.6.1).
    pub const PERSIST: u32 = 1 << 11;
    /// A segment is being timed (`rtt_seq`, `rtt_at`; without timestamps).
    pub const RTT: u32 = 1 << 12;
    /// In fast recovery (RFC 6582) until `recover` is acknowledged.
    pub const RECOVERY: u32 = 1 << 13;
    /// Send a window update at the next output.
    pub const WINDOW_UPDATE: u32 = 1 << 14;
    /// Both SYNs carried SACK-permitted: our ACKs carry SACK blocks (RFC 2018); the blocks
    /// the peer sends are not used yet.
    pub const SACK_OK: u32 = 1 << 15;
    /// Send one byte past a zero window at the next output (the persist timer expired).
    pub const PROBE: u32 = 1 << 16;
    /// In the hash (found by its flow); a closed connection TypeScript still holds is not.
    pub const HASHED: u32 = 1 << 17;
    /// The handshake completed (what "connected" means after the connection ended).
    pub const SYNCED: u32 = 1 << 18;
    /// Keepalive on (`ka_idle`, `ka_intvl`, `ka_count`; deadline `ka_at`).
    pub const KEEPALIVE: u32 = 1 << 19;
    /// Send a keepalive probe at the next output.
    pub const KA_PROBE: u32 = 1 << 20;
}

/// One end of a flow: family (4 or 6), address (IPv4 in the first 4 bytes, the rest zero),
/// port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SockAddr {
    pub family: u8,
    pub addr: [u8; 16],
    pub port: u16,
}

impl SockAddr {
    pub const NONE: SockAddr = SockAddr { family: 0, addr: [0; 16], port: 0 };

    /// From an address of 4 or 16 bytes; `None` for another length.
    pub fn new(addr: &[u8], port: u16) -> Option<SockAddr> {
        let family = match addr.len() {
            4 => 4,
            16 => 6,
            _ => return None,
        };
        let mut a = [0u8; 16];
        a[..addr.len()].copy_from_slice(addr);
        Some(SockAddr { family, addr: a, port })
    }

    /// The address bytes: 4 or 16 of them.
    pub fn ip(&self) -> &[u8] {
        if self.family == 4 {
            &self.addr[..4]
        } else {
            &self.addr[..]
        }
    }

    /// All-zero address (bind: any local address).
    pub fn is_unspecified(&self) -> bool {
        self.addr == [0; 16]
    }

    /// From an ABI address record (`NET_ADDR_LEN` bytes: family u8, 0, port u16 LE,
    /// addr[16]); `None` for another family or a non-zero byte where zeros belong.
    pub fn from_record(r: &[u8; NET_ADDR_LEN]) -> Option<SockAddr> {
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&r[4..]);
        match r[0] {
            4 if addr[4..] == [0; 12] && r[1] == 0 => {}
            6 if r[1] == 0 => {}
            _ => return None,
        }
        Some(SockAddr { family: r[0], addr, port: u16::from_le_bytes([r[2], r[3]]) })
    }

    /// The ABI address record.
    pub fn record(&self) -> [u8; NET_ADDR_LEN] {
        let mut r = [0u8; NET_ADDR_LEN];
        r[0] = self.family;
        r[2..4].copy_from_slice(&self.port.to_le_bytes());
        r[4..].copy_from_slice(&self.addr);
        r
    }
}

/// The two ends of a queue of slots linked through the slots (0 = empty), the bytes of data
/// in it not yet consumed (or acknowledged), the bytes of the head slot already consumed, and
/// how many slots and slot bytes it holds.
#[derive(Clone, Copy, Default, Debug)]
pub struct SlotQueue {
    pub head: u32,
    pub tail: u32,
    pub bytes: u32,
    pub skip: u32,
    pub slots: u32,
    pub mem: u32,
}

pub const SQ_ZERO: SlotQueue = SlotQueue { head: 0, tail: 0, bytes: 0, skip: 0, slots: 0, mem: 0 };

/// A TCP connection's control block (RFC 9293 §3.3.1). Sequence numbers are the RFC's; times
/// are the caller's milliseconds (wrapping u32).
#[derive(Clone, Copy)]
pub struct Tcb {
    pub used: bool,
    pub state: u8,
    pub gen: u16,
    pub flags: u32,
    pub local: SockAddr,
    pub remote: SockAddr,
    /// Index + 1 of the next connection in the hash bucket.
    pub(crate) next: u16,
    /// Index + 1 of the listener it came in on, until accepted (or 0).
    pub listener: u16,
    /// Index + 1 of the next connection in that listener's accept queue.
    pub accept_next: u16,
    /// ERR_*: why it closed.
    pub error: u8,
    /// Shift applied to the peer's window field / to ours (RFC 7323).
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    /// Retransmissions of the same data in a row (exponential backoff).
    pub retries: u8,
    pub dupacks: u8,
    /// Full-sized data segments received since the last ACK (RFC 9293 §3.8.6.3).
    pub unacked_segs: u8,
    /// Largest data per segment, options not yet taken off.
    pub snd_mss: u16,
    pub iss: u32,
    pub snd_una: u32,
    pub snd_nxt: u32,
    /// Highest sequence number sent (`snd_nxt` goes back to `snd_una` on a timeout).
    pub snd_max: u32,
    /// Peer's window, scaled.
    pub snd_wnd: u32,
    pub snd_wl1: u32,
    pub snd_wl2: u32,
    pub irs: u32,
    pub rcv_nxt: u32,
    /// Right edge of the window last advertised.
    pub rcv_adv: u32,
    /// Data to send and sent but not acknowledged, from `snd_una` (after the SYN).
    pub tx: SlotQueue,
    /// Where `snd_nxt`'s byte lies in `tx` (a cache: valid while `tx_cur_seq` is unacked).
    pub tx_cur_seq: u32,
    pub tx_cur_slot: u32,
    pub tx_cur_pos: u32,
    /// In-order data received and not yet consumed.
    pub rx: SlotQueue,
    /// Out-of-order segments (sorted by sequence number).
    pub ooo: SlotQueue,
    pub rto_at: u32,
    pub delack_at: u32,
    /// Retransmission timeout, smoothed RTT ×8 and RTT variation ×4, in ms (RFC 6298).
    pub rto: u32,
    pub srtt: u32,
    pub rttvar: u32,
    pub rtt_seq: u32,
    pub rtt_at: u32,
    pub cwnd: u32,
    pub ssthresh: u32,
    pub recover: u32,
    pub ts_recent: u32,
    /// Added to the clock in our timestamps (RFC 7323 §5.4: a per-connection offset).
    pub ts_offset: u32,
    pub last_ack_sent: u32,
    /// Our timestamp when the retransmission timer last expired: an echo of an older one is
    /// no RTT sample (it would measure the wait).
    pub rtx_ts: u32,
    /// Start of the out-of-order segment received last (its SACK block goes first).
    pub sack_recent: u32,
    /// The last ICMP error for an established connection (an ERR_*; RFC 1122 §4.2.3.9: a
    /// soft error, reported only if the connection then times out).
    pub soft_error: u8,
    /// Keepalive probes sent since the peer was last heard, and how many end the connection.
    pub ka_probes: u8,
    pub ka_count: u8,
    /// Keepalive idle time and probe interval (ms), and the next keepalive deadline.
    pub ka_idle: u32,
    pub ka_intvl: u32,
    pub ka_at: u32,
    /// When an acceptable segment last arrived (keepalive's idle time runs from it).
    pub last_rx: u32,
}

impl Tcb {
    pub const ZERO: Tcb = Tcb {
        used: false,
        state: CLOSED,
        gen: 0,
        flags: 0,
        local: SockAddr::NONE,
        remote: SockAddr::NONE,
        next: 0,
        listener: 0,
        accept_next: 0,
        error: ERR_NONE,
        snd_wscale: 0,
        rcv_wscale: 0,
        retries: 0,
        dupacks: 0,
        unacked_segs: 0,
        snd_mss: 0,
        iss: 0,
        snd_una: 0,
        snd_nxt: 0,
        snd_max: 0,
        snd_wnd: 0,
        snd_wl1: 0,
        snd_wl2: 0,
        irs: 0,
        rcv_nxt: 0,
        rcv_adv: 0,
        tx: SQ_ZERO,
        tx_cur_seq: 0,
        tx_cur_slot: 0,
        tx_cur_pos: 0,
        rx: SQ_ZERO,
        ooo: SQ_ZERO,
        rto_at: 0,
        delack_at: 0,
        rto: 0,
        srtt: 0,
        rttvar: 0,
        rtt_seq: 0,
        rtt_at: 0,
        cwnd: 0,
        ssthresh: 0,
        recover: 0,
        ts_recent: 0,
        ts_offset: 0,
        last_ack_sent: 0,
        rtx_ts: 0,
        sack_recent: 0,
        soft_error: 0,
        ka_probes: 0,
        ka_count: 0,
        ka_idle: 0,
        ka_intvl: 0,
        ka_at: 0,
        last_rx: 0,
    };

    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}
