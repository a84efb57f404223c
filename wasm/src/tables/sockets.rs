//! The netstack's sockets: UDP sockets, TCP listeners and TCP connections (their control
//! blocks, `tables/tcb.rs`), each a bounded table of plain structs, with the lookups the
//! input path needs (a chained hash per table), the handles TypeScript holds, the ring of
//! sockets with news for TypeScript (events) and the ring of connections with something to
//! send. The TCP state machine over these structs is `path/netstack/`.
//!
//! Slots a socket holds (queued datagrams, a connection's send, receive and out-of-order
//! data) are offsets to this module: the queues are linked through the slots themselves
//! (`path/netstack/queue.rs`), so a table entry holds only the ends and the counts.
//!
//! A handle is `kind << 28 | generation << 16 | index`: a generation that no longer matches
//! (the entry was freed, maybe reused) makes a stale handle fail instead of reaching another
//! socket. Handles are positive as i32.

use crate::consts::{NET_MAX_LISTENERS, NET_MAX_TCP, NET_MAX_UDP};
use crate::tables::tcb::{flag, SlotQueue, SockAddr, Tcb, SQ_ZERO, TIME_WAIT};

/// Handle kinds.
pub const KIND_UDP: u32 = 1;
pub const KIND_LISTENER: u32 = 2;
pub const KIND_TCP: u32 = 3;

/// `kind << 28 | gen << 16 | index` (gen 12 bits).
pub fn handle(kind: u32, gen: u16, idx: usize) -> u32 {
    kind << 28 | ((gen as u32) & 0xfff) << 16 | (idx as u32 & 0xffff)
}

/// The index a handle names if it is of `kind` and its generation is `gen_of(index)`.
pub fn index_of(h: u32, kind: u32, gen_of: impl Fn(usize) -> Option<u16>) -> Option<usize> {
    let idx = (h & 0xffff) as usize;
    if h >> 28 != kind {
        return None;
    }
    match gen_of(idx) {
        Some(g) if (g as u32 & 0xfff) == (h >> 16 & 0xfff) => Some(idx),
        _ => None,
    }
}

#[derive(Clone, Copy)]
pub struct UdpSock {
    pub used: bool,
    pub gen: u16,
    /// Index + 1 of the next socket in the bucket.
    next: u16,
    /// Bound address (unspecified address: any local address of the family) and port.
    pub local: SockAddr,
    /// Datagrams received and not yet taken.
    pub queue: SlotQueue,
}

impl UdpSock {
    const ZERO: UdpSock = UdpSock { used: false, gen: 0, next: 0, local: SockAddr::NONE, queue: SQ_ZERO };
}

#[derive(Clone, Copy)]
pub struct Listener {
    pub used: bool,
    pub gen: u16,
    pub local: SockAddr,
    /// Most connections from it not yet accepted (handshaking or established).
    pub backlog: u16,
    /// Connections from it not yet accepted.
    pub pending: u16,
    /// Index + 1 of the first and last established connection waiting for accept.
    pub accept_head: u16,
    pub accept_tail: u16,
}

impl Listener {
    const ZERO: Listener =
        Listener { used: false, gen: 0, local: SockAddr::NONE, backlog: 0, pending: 0, accept_head: 0, accept_tail: 0 };
}

/// A ring of up to `N` u32s (indices), each pushed at most once at a time by its owner's
/// flag, so it never overflows.
pub struct Ring<const N: usize> {
    items: [u32; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    pub const ZERO: Self = Ring { items: [0; N], head: 0, len: 0 };

    pub fn push(&mut self, v: u32) -> bool {
        if self.len >= N {
            return false;
        }
        self.items[(self.head + self.len) % N] = v;
        self.len += 1;
        true
    }
    pub fn pop(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let v = self.items[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(v)
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

const UDP_BUCKETS: usize = 2 * NET_MAX_UDP;
const TCP_BUCKETS: usize = 2 * NET_MAX_TCP;
/// Every socket of every kind may have one event queued.
pub const EVENT_RING: usize = NET_MAX_UDP + NET_MAX_LISTENERS + NET_MAX_TCP;

/// An index allocator over `0..N`: freed indices first (LIFO), then never-used ones, so a
/// scan of `0..high()` sees every entry that was ever used and a zeroed one is empty.
pub struct Indices<const N: usize> {
    free: [u16; N],
    free_len: usize,
    fresh: usize,
}

impl<const N: usize> Indices<N> {
    pub const ZERO: Self = Indices { free: [0; N], free_len: 0, fresh: 0 };

    pub fn take(&mut self) -> Option<usize> {
        if self.free_len > 0 {
            self.free_len -= 1;
            return Some(self.free[self.free_len] as usize);
        }
        if self.fresh < N {
            self.fresh += 1;
            return Some(self.fresh - 1);
        }
        None
    }
    pub fn give(&mut self, i: usize) {
        if self.free_len < N {
            self.free[self.free_len] = i as u16;
            self.free_len += 1;
        }
    }
    /// One past the highest index ever handed out.
    pub fn high(&self) -> usize {
        self.fresh
    }
    /// Indices in use.
    pub fn in_use(&self) -> usize {
        self.fresh - self.free_len
    }
}

pub struct Sockets {
    pub udp: [UdpSock; NET_MAX_UDP],
    pub listeners: [Listener; NET_MAX_LISTENERS],
    pub tcp: [Tcb; NET_MAX_TCP],
    pub udp_ids: Indices<NET_MAX_UDP>,
    pub tcp_ids: Indices<NET_MAX_TCP>,
    udp_buckets: [u16; UDP_BUCKETS],
    tcp_buckets: [u16; TCP_BUCKETS],
    /// Sockets with news for TypeScript: `kind << 16 | index` (the flag that keeps an index
    /// in the ring at most once is `ev_queued`, per index, kept across reuse).
    pub events: Ring<EVENT_RING>,
    ev_queued: [u64; (EVENT_RING + 63) / 64],
    /// Connections with output to make, each at most once (`dirty_queued`, per index, kept
    /// across reuse like `ev_queued`).
    pub dirty: Ring<NET_MAX_TCP>,
    dirty_queued: [u64; NET_MAX_TCP / 64],
    /// Keys the hashes (set from the stack's secret).
    pub hash_key: u64,
}

impl Sockets {
    pub const ZERO: Sockets = Sockets {
        udp: [UdpSock::ZERO; NET_MAX_UDP],
        listeners: [Listener::ZERO; NET_MAX_LISTENERS],
        tcp: [Tcb::ZERO; NET_MAX_TCP],
        udp_ids: Indices::ZERO,
        tcp_ids: Indices::ZERO,
        udp_buckets: [0; UDP_BUCKETS],
        tcp_buckets: [0; TCP_BUCKETS],
        events: Ring::ZERO,
        ev_queued: [0; (EVENT_RING + 63) / 64],
        dirty: Ring::ZERO,
        dirty_queued: [0; NET_MAX_TCP / 64],
        hash_key: 0,
    };

    // ------------------------------------------------------------ events

    /// Queues news about socket `idx` of `kind` (once until it is taken).
    pub fn notify(&mut self, kind: u32, idx: usize) {
        let bit = match kind {
            KIND_UDP => idx,
            KIND_LISTENER => NET_MAX_UDP + idx,
            _ => NET_MAX_UDP + NET_MAX_LISTENERS + idx,
        };
        if let Some(w) = self.ev_queued.get_mut(bit / 64) {
            if *w & (1 << (bit % 64)) == 0 {
                *w |= 1 << (bit % 64);
                self.events.push(kind << 16 | idx as u32);
            }
        }
    }

    /// The next socket with news: (kind, index).
    pub fn next_event(&mut self) -> Option<(u32, usize)> {
        let e = self.events.pop()?;
        let (kind, idx) = (e >> 16, (e & 0xffff) as usize);
        let bit = match kind {
            KIND_UDP => idx,
            KIND_LISTENER => NET_MAX_UDP + idx,
            _ => NET_MAX_UDP + NET_MAX_LISTENERS + idx,
        };
        if let Some(w) = self.ev_queued.get_mut(bit / 64) {
            *w &= !(1 << (bit % 64));
        }
        Some((kind, idx))
    }

    // ------------------------------------------------------------ UDP

    fn udp_bucket(&self, family: u8, port: u16) -> usize {
        (mix(self.hash_key, &[family as u64, port as u64]) as usize) % UDP_BUCKETS
    }

    /// Binds `local`; the new socket's index, or `Err(E_ADDR_IN_USE / E_TABLE_FULL)`.
    pub fn udp_bind(&mut self, local: SockAddr) -> Result<usize, i32> {
        if self.udp_find(local.family, &local.addr, local.port, true).is_some() {
            return Err(crate::errors::E_ADDR_IN_USE);
        }
        let i = self.udp_ids.take().ok_or(crate::errors::E_TABLE_FULL)?;
        let b = self.udp_bucket(local.family, local.port);
        let gen = self.udp[i].gen.wrapping_add(1);
        self.udp[i] = UdpSock { used: true, gen, next: self.udp_buckets[b], local, queue: SQ_ZERO };
        self.udp_buckets[b] = i as u16 + 1;
        Ok(i)
    }

    /// The socket a datagram to `addr:port` goes to: one bound to exactly that address, else
    /// one bound to any address of the family. With `exact_only`, only a socket bound to
    /// exactly `addr` (or, for an unspecified `addr`, any socket on the port) counts: a
    /// bind conflict.
    pub fn udp_find(&self, family: u8, addr: &[u8; 16], port: u16, exact_only: bool) -> Option<usize> {
        let mut at = self.udp_buckets[self.udp_bucket(family, port)];
        let mut wildcard = None;
        while at != 0 {
            let i = at as usize - 1;
            let s = &self.udp[i];
            if s.used && s.local.family == family && s.local.port == port {
                if s.local.addr == *addr || (exact_only && (s.local.is_unspecified() || *addr == [0; 16])) {
                    return Some(i);
                }
                if s.local.is_unspecified() {
                    wildcard = Some(i);
                }
            }
            at = s.next;
        }
        if exact_only {
            None
        } else {
            wildcard
        }
    }

    /// Unbinds socket `i` (its queue must have been emptied by the caller).
    pub fn udp_unbind(&mut self, i: usize) {
        let (family, port) = (self.udp[i].local.family, self.udp[i].local.port);
        let b = self.udp_bucket(family, port);
        let next = self.udp[i].next;
        let mut link = &mut self.udp_buckets[b];
        // Walk the chain to the link that points at `i`.
        let mut guard = 0;
        while *link != 0 && guard <= NET_MAX_UDP {
            let j = *link as usize - 1;
            if j == i {
                *link = next;
                break;
            }
            link = &mut self.udp[j].next;
            guard += 1;
        }
        self.udp[i].used = false;
        self.udp[i].next = 0;
        self.udp_ids.give(i);
    }

    pub fn udp_handle(&self, i: usize) -> u32 {
        handle(KIND_UDP, self.udp[i].gen, i)
    }

    pub fn udp_index(&self, h: u32) -> Option<usize> {
        index_of(h, KIND_UDP, |i| self.udp.get(i).filter(|s| s.used).map(|s| s.gen))
    }

    // ------------------------------------------------------------ listeners

    /// The listener for a SYN to `addr:port`: bound to exactly that address, else to any.
    pub fn listener_find(&self, family: u8, addr: &[u8; 16], port: u16) -> Option<usize> {
        let mut wildcard = None;
        for (i, l) in self.listeners.iter().enumerate() {
            if l.used && l.local.family == family && l.local.port == port {
                if l.local.addr == *addr {
                    return Some(i);
                }
                if l.local.is_unspecified() {
                    wildcard = Some(i);
                }
            }
        }
        wildcard
    }

    /// A new listener on `local` (E_ADDR_IN_USE if one has that address and port,
    /// E_TABLE_FULL).
    pub fn listen(&mut self, local: SockAddr, backlog: u16) -> Result<usize, i32> {
        let clash = self.listeners.iter().any(|l| {
            l.used
                && l.local.family == local.family
                && l.local.port == local.port
                && (l.local.addr == local.addr || l.local.is_unspecified() || local.is_unspecified())
        });
        if clash {
            return Err(crate::errors::E_ADDR_IN_USE);
        }
        let i = self.listeners.iter().position(|l| !l.used).ok_or(crate::errors::E_TABLE_FULL)?;
        let gen = self.listeners[i].gen.wrapping_add(1);
        self.listeners[i] = Listener { used: true, gen, local, backlog, pending: 0, accept_head: 0, accept_tail: 0 };
        Ok(i)
    }

    pub fn listener_handle(&self, i: usize) -> u32 {
        handle(KIND_LISTENER, self.listeners[i].gen, i)
    }

    pub fn listener_index(&self, h: u32) -> Option<usize> {
        index_of(h, KIND_LISTENER, |i| self.listeners.get(i).filter(|l| l.used).map(|l| l.gen))
    }

    // ------------------------------------------------------------ TCP

    fn tcp_bucket(&self, local: &SockAddr, remote: &SockAddr) -> usize {
        let w = |a: &[u8; 16], k: usize| u64::from_le_bytes([a[k], a[k + 1], a[k + 2], a[k + 3], 0, 0, 0, 0]);
        let key = [
            w(&local.addr, 0) ^ w(&local.addr, 12) << 32,
            w(&remote.addr, 0) ^ w(&remote.addr, 12) << 32,
            w(&local.addr, 4) ^ w(&local.addr, 8) << 32 ^ w(&remote.addr, 4) << 16 ^ w(&remote.addr, 8) << 48,
            (local.port as u64) << 16 | remote.port as u64 | (local.family as u64) << 32,
        ];
        (mix(self.hash_key, &key) as usize) % TCP_BUCKETS
    }

    /// The connection of the flow `local` ← `remote`.
    pub fn tcp_find(&self, local: &SockAddr, remote: &SockAddr) -> Option<usize> {
        let mut at = self.tcp_buckets[self.tcp_bucket(local, remote)];
        while at != 0 {
            let i = at as usize - 1;
            let t = &self.tcp[i];
            if t.used && t.local == *local && t.remote == *remote {
                return Some(i);
            }
            at = t.next;
        }
        None
    }

    /// A fresh connection for `local` ← `remote` (state CLOSED, all else zero but the
    /// addresses and the generation), entered in the hash; `None` if the table is full (the
    /// caller may then free the connection `tcp_reusable` names and try again).
    pub fn tcp_new(&mut self, local: SockAddr, remote: SockAddr) -> Option<usize> {
        let i = self.tcp_ids.take()?;
        let b = self.tcp_bucket(&local, &remote);
        let gen = self.tcp[i].gen.wrapping_add(1);
        self.tcp[i] =
            Tcb { used: true, gen, local, remote, next: self.tcp_buckets[b], flags: flag::HASHED, ..Tcb::ZERO };
        self.tcp_buckets[b] = i as u16 + 1;
        Some(i)
    }

    /// When the table is full: the TIME_WAIT connection nobody holds whose timer ends first
    /// (compared with `now`), for the caller to free and so make room.
    pub fn tcp_reusable(&self, now: u32) -> Option<usize> {
        if self.tcp_ids.in_use() < NET_MAX_TCP {
            return None;
        }
        let mut best: Option<(usize, i32)> = None;
        for (i, t) in self.tcp[..self.tcp_ids.high()].iter().enumerate() {
            if t.used && t.state == TIME_WAIT && !t.has(flag::ATTACHED) {
                let left = t.rto_at.wrapping_sub(now) as i32;
                if best.map_or(true, |(_, b)| left < b) {
                    best = Some((i, left));
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// Takes connection `i` out of the hash and frees its index (its slots must have been
    /// freed by the caller). The generation stays, so old handles fail.
    pub fn tcp_free(&mut self, i: usize) {
        if !self.tcp[i].used {
            return;
        }
        self.tcp_unhash(i);
        let gen = self.tcp[i].gen;
        self.tcp[i] = Tcb { gen, ..Tcb::ZERO };
        self.tcp_ids.give(i);
    }

    /// Takes connection `i` out of the hash (it stays allocated: TypeScript holds it closed).
    pub fn tcp_unhash(&mut self, i: usize) {
        if !self.tcp[i].has(flag::HASHED) {
            return;
        }
        self.tcp[i].flags &= !flag::HASHED;
        let (local, remote) = (self.tcp[i].local, self.tcp[i].remote);
        let b = self.tcp_bucket(&local, &remote);
        let next = self.tcp[i].next;
        let mut link = &mut self.tcp_buckets[b];
        let mut guard = 0;
        while *link != 0 && guard <= NET_MAX_TCP {
            let j = *link as usize - 1;
            if j == i {
                *link = next;
                break;
            }
            link = &mut self.tcp[j].next;
            guard += 1;
        }
        self.tcp[i].next = 0;
    }

    pub fn tcp_handle(&self, i: usize) -> u32 {
        handle(KIND_TCP, self.tcp[i].gen, i)
    }

    /// The connection a handle names, if TypeScript holds it.
    pub fn tcp_index(&self, h: u32) -> Option<usize> {
        index_of(h, KIND_TCP, |i| self.tcp.get(i).filter(|t| t.used && t.has(flag::ATTACHED)).map(|t| t.gen))
    }

    /// Queues connection `i` for output (once until taken).
    pub fn mark_dirty(&mut self, i: usize) {
        if let Some(w) = self.dirty_queued.get_mut(i / 64) {
            if *w & (1 << (i % 64)) == 0 {
                *w |= 1 << (i % 64);
                self.dirty.push(i as u32);
            }
        }
    }

    /// The next connection queued for output.
    pub fn take_dirty(&mut self) -> Option<usize> {
        let i = self.dirty.pop()? as usize;
        if let Some(w) = self.dirty_queued.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
        Some(i)
    }
}

/// A keyed 64-bit mix of a few words (multiply-xorshift rounds; not cryptographic, but keyed
/// by the stack's secret so a peer cannot aim collisions at one bucket without it).
pub fn mix(key: u64, words: &[u64]) -> u64 {
    let mut h = key ^ 0x9e37_79b9_7f4a_7c15;
    for &w in words {
        h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
    }
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::*;
    use crate::tables::tcb::ESTABLISHED;

    fn v4(last: u8, port: u16) -> SockAddr {
        SockAddr::new(&[10, 0, 0, last], port).unwrap()
    }

    #[test]
    fn addr_records() {
        let a = SockAddr::new(&[10, 1, 2, 3], 8080).unwrap();
        let r = a.record();
        assert_eq!(&r[..8], &[4, 0, 0x90, 0x1f, 10, 1, 2, 3]);
        assert_eq!(SockAddr::from_record(&r), Some(a));
        assert_eq!(a.ip(), &[10, 1, 2, 3]);
        let mut bad = r;
        bad[0] = 5;
        assert_eq!(SockAddr::from_record(&bad), None);
        let mut bad = r;
        bad[9] = 1; // an IPv4 record with bytes past the address
        assert_eq!(SockAddr::from_record(&bad), None);
        let six = SockAddr::new(&[0xfd; 16], 1).unwrap();
        assert_eq!(SockAddr::from_record(&six.record()), Some(six));
        assert_eq!(six.ip().len(), 16);
        assert!(SockAddr::new(&[1; 5], 1).is_none());
        assert!(SockAddr::new(&[0; 4], 1).unwrap().is_unspecified());
    }

    #[test]
    fn handles_and_generations() {
        let h = handle(KIND_TCP, 0x1abc, 77);
        assert!((h as i32) > 0);
        assert_eq!(index_of(h, KIND_TCP, |_| Some(0xabc)), Some(77));
        assert_eq!(index_of(h, KIND_TCP, |_| Some(0xabd)), None);
        assert_eq!(index_of(h, KIND_UDP, |_| Some(0xabc)), None);
        assert_eq!(index_of(h, KIND_TCP, |_| None), None);
    }

    #[test]
    fn udp_bind_find_unbind() {
        let mut s = crate::testing::boxed(|| Sockets::ZERO);
        let any = SockAddr { port: 53, ..SockAddr::new(&[0; 4], 0).unwrap() };
        let a = s.udp_bind(any).unwrap();
        assert_eq!(s.udp_bind(v4(1, 53)), Err(E_ADDR_IN_USE));
        assert_eq!(s.udp_bind(any), Err(E_ADDR_IN_USE));
        let b = s.udp_bind(v4(1, 54)).unwrap();
        assert_eq!(s.udp_find(4, &v4(1, 0).addr, 53, false), Some(a));
        assert_eq!(s.udp_find(4, &v4(1, 0).addr, 54, false), Some(b));
        assert_eq!(s.udp_find(4, &v4(2, 0).addr, 54, false), None);
        assert_eq!(s.udp_find(6, &v4(1, 0).addr, 53, false), None);
        let h = s.udp_handle(a);
        assert_eq!(s.udp_index(h), Some(a));
        s.udp_unbind(a);
        assert_eq!(s.udp_index(h), None);
        assert_eq!(s.udp_find(4, &v4(1, 0).addr, 53, false), None);
        // The freed index comes back with a new generation.
        let c = s.udp_bind(v4(1, 53)).unwrap();
        assert_eq!(c, a);
        assert_ne!(s.udp_handle(c), h);
        assert_eq!(s.udp_ids.in_use(), 2);
    }

    #[test]
    fn udp_table_full() {
        let mut s = crate::testing::boxed(|| Sockets::ZERO);
        for p in 0..NET_MAX_UDP {
            assert!(s.udp_bind(v4(1, p as u16 + 1)).is_ok());
        }
        assert_eq!(s.udp_bind(v4(1, 60000)), Err(E_TABLE_FULL));
        for p in (0..NET_MAX_UDP).step_by(3) {
            let i = s.udp_find(4, &v4(1, 0).addr, p as u16 + 1, false).unwrap();
            s.udp_unbind(i);
        }
        for p in (0..NET_MAX_UDP).step_by(3) {
            assert!(s.udp_find(4, &v4(1, 0).addr, p as u16 + 1, false).is_none());
        }
        assert!(s.udp_find(4, &v4(1, 0).addr, 2, false).is_some());
    }

    #[test]
    fn listeners() {
        let mut s = crate::testing::boxed(|| Sockets::ZERO);
        let l = s.listen(v4(1, 80), 8).unwrap();
        assert_eq!(s.listen(v4(1, 80), 8), Err(E_ADDR_IN_USE));
        assert_eq!(s.listen(SockAddr { port: 80, ..SockAddr::new(&[0; 4], 0).unwrap() }, 8), Err(E_ADDR_IN_USE));
        let any = s.listen(SockAddr { port: 81, ..SockAddr::new(&[0; 4], 0).unwrap() }, 8).unwrap();
        assert_eq!(s.listener_find(4, &v4(1, 0).addr, 80), Some(l));
        assert_eq!(s.listener_find(4, &v4(9, 0).addr, 81), Some(any));
        assert_eq!(s.listener_find(4, &v4(9, 0).addr, 80), None);
        let h = s.listener_handle(l);
        assert_eq!(s.listener_index(h), Some(l));
        assert_eq!(s.listener_index(h ^ 1 << 16), None);
    }

    #[test]
    fn tcp_hash_free_and_reuse_of_time_wait() {
        let mut s = crate::testing::boxed(|| Sockets::ZERO);
        let mut ids = Vec::new();
        for k in 0..NET_MAX_TCP {
            let i = s.tcp_new(v4(1, 80), v4(2, k as u16)).unwrap();
            s.tcp[i].state = if k % 2 == 0 { ESTABLISHED } else { TIME_WAIT };
            s.tcp[i].rto_at = 1000 + (NET_MAX_TCP - k) as u32; // the last one ends first
            ids.push(i);
        }
        assert!(s.tcp_new(v4(1, 80), v4(3, 1)).is_none());
        for (k, &i) in ids.iter().enumerate() {
            assert_eq!(s.tcp_find(&v4(1, 80), &v4(2, k as u16)), Some(i));
        }
        assert_eq!(s.tcp_reusable(0), Some(ids[NET_MAX_TCP - 1]));
        s.tcp[ids[NET_MAX_TCP - 1]].flags |= flag::ATTACHED; // held: not reused
        assert_eq!(s.tcp_reusable(0), Some(ids[NET_MAX_TCP - 3]));
        let h = s.tcp_handle(ids[5]);
        s.tcp[ids[5]].flags |= flag::ATTACHED;
        assert_eq!(s.tcp_index(h), Some(ids[5]));
        s.tcp_free(ids[5]);
        assert_eq!(s.tcp_index(h), None);
        assert_eq!(s.tcp_find(&v4(1, 80), &v4(2, 5)), None);
        assert_eq!(s.tcp_find(&v4(1, 80), &v4(2, 6)), Some(ids[6]));
        assert_eq!(s.tcp_reusable(0), None); // no longer full
        let j = s.tcp_new(v4(1, 80), v4(3, 1)).unwrap();
        assert_eq!(j, ids[5]);
    }

    #[test]
    fn events_once_per_index() {
        let mut s = crate::testing::boxed(|| Sockets::ZERO);
        s.notify(KIND_TCP, 3);
        s.notify(KIND_TCP, 3);
        s.notify(KIND_UDP, 3);
        s.notify(KIND_LISTENER, 0);
        assert_eq!(s.events.len(), 3);
        assert_eq!(s.next_event(), Some((KIND_TCP, 3)));
        s.notify(KIND_TCP, 3); // taken: may be queued again
        assert_eq!(s.next_event(), Some((KIND_UDP, 3)));
        assert_eq!(s.next_event(), Some((KIND_LISTENER, 0)));
        assert_eq!(s.next_event(), Some((KIND_TCP, 3)));
        assert_eq!(s.next_event(), None);
        s.mark_dirty(4);
        s.mark_dirty(4);
        assert_eq!(s.dirty.len(), 1);
        assert_eq!(s.take_dirty(), Some(4));
        s.mark_dirty(4);
        assert_eq!(s.take_dirty(), Some(4));
        assert_eq!(s.take_dirty(), None);
    }
}
