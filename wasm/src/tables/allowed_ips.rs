//! AllowedIPs: cryptokey routing tables, one path-compressed binary trie per family
//! (as Linux's allowedips.c / wireguard-go's trie), nodes from a table that grows by the
//! page (2,048 nodes of 32 bytes each), up to what the prefix limit needs.
//!
//! Addresses are `u128` keys, most significant bit first; IPv4 sits in the top 32 bits so
//! both families share the bit arithmetic. A node is a prefix (`cidr` leading bits of
//! `key`, host bits zero); a node without a peer is a branch and always has two children
//! (removal re-compresses), so a family with P prefixes has < 2P nodes and a lookup
//! visits at most `cidr + 1` nodes: O(address bits).
//!
//! Each peer's prefixes are also a doubly linked list, kept beside the nodes (not in them:
//! lookups never touch it), so removing a peer's routes costs its own prefixes, not a walk of
//! the whole table.

use crate::consts::{DEFAULT_MAX_PREFIXES, MAX_PREFIXES, ROUTE_ENTRY_LEN};
use crate::errors::*;
use crate::tables::chunked::Chunked;
use crate::tables::{Pages, PAGE};

/// Node 0 is the null link; at most one branch node per prefix.
const MAX_NODES: usize = 2 * MAX_PREFIXES + 1;

const LIVE: u32 = 1;
const HAS_PEER: u32 = 2;
const V6: u32 = 4;
/// `meta`: peer id in the low 20 bits, flags in bits 20-22, cidr in the top byte.
const PEER_MASK: u32 = (1 << 20) - 1;
const FLAGS_SHIFT: u32 = 20;
const CIDR_SHIFT: u32 = 24;

#[derive(Clone, Copy)]
struct Node {
    key: u128,
    child: [u32; 2],
    parent: u32,
    meta: u32,
}

impl Node {
    const ZERO: Node = Node { key: 0, child: [0; 2], parent: 0, meta: 0 };
    fn new(key: u128, cidr: u8, flags: u32, peer: u32) -> Node {
        Node {
            key,
            child: [0; 2],
            parent: 0,
            meta: peer & PEER_MASK | flags << FLAGS_SHIFT | (cidr as u32) << CIDR_SHIFT,
        }
    }
    #[inline]
    fn cidr(&self) -> u8 {
        (self.meta >> CIDR_SHIFT) as u8
    }
    #[inline]
    fn flags(&self) -> u32 {
        (self.meta >> FLAGS_SHIFT) & 7
    }
    #[inline]
    fn has_peer(&self) -> bool {
        self.flags() & HAS_PEER != 0
    }
    #[inline]
    fn peer(&self) -> u32 {
        self.meta & PEER_MASK
    }
    fn set_peer(&mut self, peer: u32) {
        self.meta = (self.meta & !PEER_MASK) | (peer & PEER_MASK) | HAS_PEER << FLAGS_SHIFT;
    }
    fn clear_peer(&mut self) {
        self.meta &= !(HAS_PEER << FLAGS_SHIFT);
    }
}

/// Nodes per chunk (one page).
const CHUNK: usize = PAGE / core::mem::size_of::<Node>();
/// List links (previous, next node of the same peer) per page.
const LINK_CHUNK: usize = PAGE / 8;
/// Peers' list heads per page.
const HEAD_CHUNK: usize = PAGE / 4;
const PEERS: usize = PEER_MASK as usize + 1;

pub struct AllowedIps {
    roots: [u32; 2],
    nodes: Chunked<'static, Node, CHUNK, { (MAX_NODES + CHUNK - 1) / CHUNK }>,
    /// Per node with a peer: the previous and next node of that peer's list (0 = none).
    links: Chunked<'static, [u32; 2], LINK_CHUNK, { (MAX_NODES + LINK_CHUNK - 1) / LINK_CHUNK }>,
    /// Per peer: the first node of its list (0 = none).
    heads: Chunked<'static, u32, HEAD_CHUNK, { PEERS / HEAD_CHUNK }>,
    /// Absorbs writes to a node that does not exist (never happens; no panic if it did).
    sink: Node,
    /// Next never-used node (0 in a zeroed table means 1: node 0 is reserved).
    bump: u32,
    /// Freed nodes, linked through `child[0]`.
    free_head: u32,
    free_count: u32,
    prefixes: u32,
    /// Most prefixes; 0 = `DEFAULT_MAX_PREFIXES`.
    limit: u32,
}

/// Family number (4 or 6) → trie index and address length in bytes.
pub fn family(f: u32) -> Option<(usize, usize)> {
    match f {
        4 => Some((0, 4)),
        6 => Some((1, 16)),
        _ => None,
    }
}

/// Longest prefix of a trie: 32 for IPv4 (index 0), 128 for IPv6.
pub fn max_bits(fam: usize) -> u8 {
    if fam == 0 {
        32
    } else {
        128
    }
}

/// An address (4 or 16 bytes) as a trie key.
pub fn key_of(addr: &[u8]) -> u128 {
    let mut k = 0u128;
    for &b in addr.iter().take(16) {
        k = (k << 8) | b as u128;
    }
    if addr.len() == 4 {
        k << 96
    } else {
        k
    }
}

/// A `ts_route_list` entry: `family u8` (4 or 6), `cidr u8`, 2 zero bytes, `addr[16]`
/// (IPv4 in the first 4 bytes, the rest zero).
pub fn route_entry(fam: usize, key: u128, cidr: u8) -> [u8; ROUTE_ENTRY_LEN] {
    let mut e = [0u8; ROUTE_ENTRY_LEN];
    e[0] = if fam == 0 { 4 } else { 6 };
    e[1] = cidr;
    if fam == 0 {
        e[4..8].copy_from_slice(&((key >> 96) as u32).to_be_bytes());
    } else {
        e[4..20].copy_from_slice(&key.to_be_bytes());
    }
    e
}

fn mask(cidr: u8) -> u128 {
    if cidr == 0 {
        0
    } else {
        !0u128 << (128 - cidr.min(128) as u32)
    }
}

/// Leading bits `a` and `b` have in common (128 if equal). wasm has no 128-bit shifts (a
/// variable one is a call into compiler-builtins), but counting zeros is two `i64.clz`.
#[inline]
fn common(a: u128, b: u128) -> u32 {
    (a ^ b).leading_zeros()
}

/// Bit `pos` (0 = most significant) of `key`, from one 64-bit half (no 128-bit shift).
#[inline]
fn bit(key: u128, pos: u8) -> usize {
    let pos = pos as u32;
    if pos < 64 {
        (((key >> 64) as u64 >> (63 - pos)) & 1) as usize
    } else if pos < 128 {
        ((key as u64 >> (127 - pos)) & 1) as usize
    } else {
        0
    }
}

impl AllowedIps {
    pub const ZERO: AllowedIps = AllowedIps {
        roots: [0; 2],
        nodes: Chunked::EMPTY,
        links: Chunked::EMPTY,
        heads: Chunked::EMPTY,
        sink: Node::ZERO,
        bump: 0,
        free_head: 0,
        free_count: 0,
        prefixes: 0,
        limit: 0,
    };

    /// Prefixes in the table, both families.
    pub fn len(&self) -> usize {
        self.prefixes as usize
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Most prefixes the table takes.
    pub fn limit(&self) -> usize {
        if self.limit == 0 {
            DEFAULT_MAX_PREFIXES
        } else {
            self.limit as usize
        }
    }

    /// Sets the limit (`1 ..= MAX_PREFIXES`) while the table has no node. 0 or E_BAD_ARG.
    pub fn set_limit(&mut self, limit: u32) -> i32 {
        if limit == 0 || limit as usize > MAX_PREFIXES || self.pages() > 0 {
            return E_BAD_ARG;
        }
        self.limit = limit;
        0
    }

    /// Pages the nodes and the peers' lists hold.
    pub fn pages(&self) -> usize {
        self.nodes.chunks() + self.links.chunks() + self.heads.chunks()
    }

    /// Nodes in use (prefixes and branches), nodes that exist.
    pub fn node_counts(&self) -> (usize, usize) {
        let used = (self.bump.max(1) as usize - 1) - self.free_count as usize;
        (used, self.nodes.chunks() * CHUNK)
    }

    #[inline]
    fn node(&self, i: u32) -> Node {
        match self.nodes.get(i as usize) {
            Some(n) => *n,
            None => Node::ZERO,
        }
    }

    fn node_mut(&mut self, i: u32) -> &mut Node {
        match self.nodes.get_mut(i as usize) {
            Some(n) => n,
            None => &mut self.sink,
        }
    }

    /// Makes sure `k` (≤ 2) nodes can be allocated: from the free list, else from never-used
    /// nodes, growing a chunk when the bump reaches the end of the last one.
    fn reserve<P: Pages<'static>>(&mut self, k: usize, pages: &mut P) -> bool {
        if self.free_count as usize >= k {
            return true;
        }
        let bump = self.bump.max(1) as usize;
        let need = k - self.free_count as usize;
        if bump + need > MAX_NODES.min(2 * self.limit() + 1) {
            return false;
        }
        (bump..bump + need).all(|i| self.nodes.ensure(i, Node::ZERO, pages) && self.links.ensure(i, [0; 2], pages))
    }

    /// Puts node `n` first in `peer`'s list.
    fn link(&mut self, n: u32, peer: u32) {
        let head = self.heads.get(peer as usize).copied().unwrap_or(0);
        if let Some(l) = self.links.get_mut(n as usize) {
            *l = [0, head];
        }
        if let Some(l) = self.links.get_mut(head as usize) {
            l[0] = n;
        }
        if let Some(h) = self.heads.get_mut(peer as usize) {
            *h = n;
        }
    }

    /// Takes node `n` out of `peer`'s list.
    fn unlink(&mut self, n: u32, peer: u32) {
        let [prev, next] = self.links.get(n as usize).copied().unwrap_or([0; 2]);
        if prev != 0 {
            if let Some(l) = self.links.get_mut(prev as usize) {
                l[1] = next;
            }
        } else if let Some(h) = self.heads.get_mut(peer as usize) {
            *h = next;
        }
        if next != 0 {
            if let Some(l) = self.links.get_mut(next as usize) {
                l[0] = prev;
            }
        }
        if let Some(l) = self.links.get_mut(n as usize) {
            *l = [0; 2];
        }
    }

    /// A node (after `reserve`): the free list first, then the bump.
    fn alloc(&mut self, key: u128, cidr: u8, peer: Option<u32>, fam: usize) -> u32 {
        let i = if self.free_head != 0 {
            let i = self.free_head;
            self.free_head = self.node(i).child[0];
            self.free_count -= 1;
            i
        } else {
            let i = self.bump.max(1);
            if self.nodes.get(i as usize).is_none() {
                return 0;
            }
            self.bump = i + 1;
            i
        };
        let flags = LIVE | if peer.is_some() { HAS_PEER } else { 0 } | if fam == 1 { V6 } else { 0 };
        *self.node_mut(i) = Node::new(key, cidr, flags, peer.unwrap_or(0));
        if let Some(p) = peer {
            self.link(i, p);
        }
        i
    }

    fn release(&mut self, i: u32) {
        let head = self.free_head;
        *self.node_mut(i) = Node { child: [head, 0], ..Node::ZERO };
        self.free_head = i;
        self.free_count += 1;
    }

    /// Makes `new` take `old`'s place under `parent` (0 = the family root).
    fn relink(&mut self, fam: usize, parent: u32, old: u32, new: u32) {
        if parent == 0 {
            if let Some(r) = self.roots.get_mut(fam) {
                *r = new;
            }
        } else {
            let p = self.node_mut(parent);
            if p.child[0] == old {
                p.child[0] = new;
            } else {
                p.child[1] = new;
            }
        }
        if new != 0 {
            self.node_mut(new).parent = parent;
        }
    }

    /// Inserts `key/cidr` (host bits are masked) for `peer` (below 2^20); an existing prefix
    /// moves. E_TABLE_FULL at the limit or when no page can be had for a node.
    pub fn insert<P: Pages<'static>>(
        &mut self,
        fam: usize,
        key: u128,
        cidr: u8,
        peer: u32,
        pages: &mut P,
    ) -> Result<(), i32> {
        if fam > 1 || cidr > max_bits(fam) || peer > PEER_MASK {
            return Err(E_BAD_ARG);
        }
        if !self.heads.ensure(peer as usize, 0, pages) {
            return Err(E_TABLE_FULL);
        }
        let key = key & mask(cidr);
        let mut parent = 0u32;
        let mut cur = self.roots[fam];
        loop {
            if cur == 0 {
                if self.len() >= self.limit() || !self.reserve(1, pages) {
                    return Err(E_TABLE_FULL);
                }
                let n = self.alloc(key, cidr, Some(peer), fam);
                if parent == 0 {
                    self.roots[fam] = n;
                } else {
                    let pc = self.node(parent).cidr();
                    self.node_mut(parent).child[bit(key, pc)] = n;
                }
                self.node_mut(n).parent = parent;
                self.prefixes += 1;
                return Ok(());
            }
            let nd = self.node(cur);
            let nc = nd.cidr();
            let common = ((nd.key ^ key).leading_zeros().min(128) as u8).min(nc).min(cidr);
            if common == nc && nc == cidr {
                if !nd.has_peer() {
                    if self.len() >= self.limit() {
                        return Err(E_TABLE_FULL);
                    }
                    self.prefixes += 1;
                } else if nd.peer() == peer {
                    return Ok(());
                } else {
                    self.unlink(cur, nd.peer());
                }
                self.node_mut(cur).set_peer(peer);
                self.link(cur, peer);
                return Ok(());
            }
            if common == nc {
                // `cur` is a proper prefix of the new one: descend.
                parent = cur;
                cur = nd.child[bit(key, nc)];
                continue;
            }
            if self.len() >= self.limit() || !self.reserve(2, pages) {
                return Err(E_TABLE_FULL);
            }
            self.prefixes += 1;
            if common == cidr {
                // The new prefix contains `cur`: it takes `cur`'s place, `cur` below it.
                let n = self.alloc(key, cidr, Some(peer), fam);
                self.relink(fam, parent, cur, n);
                self.node_mut(n).child[bit(nd.key, cidr)] = cur;
                self.node_mut(cur).parent = n;
            } else {
                // They diverge at bit `common`: a branch node holds both.
                let b = self.alloc(key & mask(common), common, None, fam);
                let n = self.alloc(key, cidr, Some(peer), fam);
                self.relink(fam, parent, cur, b);
                self.node_mut(b).child[bit(nd.key, common)] = cur;
                self.node_mut(b).child[bit(key, common)] = n;
                self.node_mut(cur).parent = b;
                self.node_mut(n).parent = b;
            }
            return Ok(());
        }
    }

    /// Longest-prefix match.
    #[inline]
    pub fn lookup(&self, fam: usize, key: u128) -> Option<u32> {
        let mut cur = *self.roots.get(fam)?;
        let mut best = None;
        let top = max_bits(fam);
        while cur != 0 {
            let nd = match self.nodes.get(cur as usize) {
                Some(n) => n,
                None => break,
            };
            let cidr = nd.cidr();
            if common(nd.key, key) < cidr as u32 {
                break;
            }
            if nd.has_peer() {
                best = Some(nd.peer());
            }
            if cidr >= top {
                break;
            }
            cur = nd.child[bit(key, cidr)];
        }
        best
    }

    /// The node holding exactly `key/cidr`, if it is a prefix.
    fn find(&self, fam: usize, key: u128, cidr: u8) -> u32 {
        let key = key & mask(cidr);
        let mut cur = match self.roots.get(fam) {
            Some(&r) => r,
            None => return 0,
        };
        while cur != 0 {
            let nd = self.node(cur);
            let nc = nd.cidr();
            if nc > cidr || common(nd.key, key) < nc as u32 {
                return 0;
            }
            if nc == cidr {
                return if nd.has_peer() { cur } else { 0 };
            }
            cur = nd.child[bit(key, nc)];
        }
        0
    }

    /// Removes one prefix; `E_NO_ROUTE` if it is not present.
    pub fn remove(&mut self, fam: usize, key: u128, cidr: u8) -> Result<(), i32> {
        if fam > 1 || cidr > max_bits(fam) {
            return Err(E_BAD_ARG);
        }
        match self.find(fam, key, cidr) {
            0 => Err(E_NO_ROUTE),
            n => {
                self.remove_node(n);
                Ok(())
            }
        }
    }

    /// Drops `n`'s peer, then unlinks nodes that no longer route or branch.
    fn remove_node(&mut self, n: u32) {
        let nd = self.node(n);
        let fam = (nd.flags() & V6 != 0) as usize;
        self.unlink(n, nd.peer());
        self.node_mut(n).clear_peer();
        self.prefixes -= 1;
        let mut cur = n;
        // At most two steps: the node itself, then its (branch) parent if it lost a child.
        for _ in 0..2 {
            let nd = self.node(cur);
            if nd.has_peer() || (nd.child[0] != 0 && nd.child[1] != 0) {
                return;
            }
            let only = nd.child[0] | nd.child[1];
            self.relink(fam, nd.parent, cur, only);
            self.release(cur);
            if only != 0 || nd.parent == 0 {
                return;
            }
            cur = nd.parent;
        }
    }

    /// Removes every prefix of `peer`; returns how many. Walks the peer's own list.
    pub fn remove_peer(&mut self, peer: u32) -> u32 {
        let mut removed = 0;
        let mut n = self.heads.get(peer as usize).copied().unwrap_or(0);
        while n != 0 {
            // Removing `n` never frees another node with a peer, so `next` stays in the list.
            let next = self.links.get(n as usize).map_or(0, |l| l[1]);
            self.remove_node(n);
            removed += 1;
            n = next;
        }
        removed
    }

    /// Calls `f(family, key, cidr)` for each of `peer`'s prefixes: IPv4 first, each family
    /// in address order (a shorter prefix before the longer ones it contains).
    pub fn for_each(&self, peer: u32, mut f: impl FnMut(usize, u128, u8)) {
        for fam in 0..2 {
            // Pre-order DFS; a path has at most 129 nodes (cidr strictly increases), and
            // each visited node leaves at most one sibling on the stack.
            let mut stack = [0u32; 160];
            let mut sp = 0;
            if self.roots[fam] != 0 {
                stack[0] = self.roots[fam];
                sp = 1;
            }
            while sp > 0 {
                sp -= 1;
                let nd = self.node(stack[sp]);
                if nd.has_peer() && nd.peer() == peer {
                    f(fam, nd.key, nd.cidr());
                }
                for &c in [nd.child[1], nd.child[0]].iter() {
                    if c != 0 && sp < stack.len() {
                        stack[sp] = c;
                        sp += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> u128 {
        key_of(&a)
    }
    fn v6(s: &str) -> u128 {
        // Tiny parser for full-form or "x:y::" test addresses.
        let (head, tail) = match s.find("::") {
            Some(i) => (&s[..i], &s[i + 2..]),
            None => (s, ""),
        };
        let h: Vec<u16> =
            head.split(':').filter(|x| !x.is_empty()).map(|x| u16::from_str_radix(x, 16).unwrap()).collect();
        let t: Vec<u16> =
            tail.split(':').filter(|x| !x.is_empty()).map(|x| u16::from_str_radix(x, 16).unwrap()).collect();
        let mut w = h;
        w.resize(8 - t.len(), 0);
        w.extend(t);
        w.iter().fold(0u128, |k, &x| (k << 16) | x as u128)
    }

    fn table() -> Box<AllowedIps> {
        crate::testing::boxed(|| AllowedIps::ZERO)
    }

    /// `insert` with pages from the heap.
    trait Put {
        fn put(&mut self, fam: usize, key: u128, cidr: u8, peer: u32) -> Result<(), i32>;
    }
    impl Put for AllowedIps {
        fn put(&mut self, fam: usize, key: u128, cidr: u8, peer: u32) -> Result<(), i32> {
            self.insert(fam, key, cidr, peer, &mut crate::testing::HeapPages::unlimited())
        }
    }

    /// Brute-force longest-prefix match over a list of (key, cidr, peer).
    fn reference(entries: &[(u128, u8, u32)], key: u128) -> Option<u32> {
        entries.iter().filter(|e| (e.0 ^ key) & mask(e.1) == 0).max_by_key(|e| e.1).map(|e| e.2)
    }

    #[test]
    fn longest_prefix_v4() {
        let mut t = table();
        t.put(0, v4([10, 0, 0, 0]), 8, 1).unwrap();
        t.put(0, v4([10, 1, 0, 0]), 16, 2).unwrap();
        t.put(0, v4([10, 1, 2, 3]), 32, 3).unwrap();
        t.put(0, v4([10, 1, 2, 99]), 24, 4).unwrap(); // host bits masked → 10.1.2.0/24
        assert_eq!(t.lookup(0, v4([10, 9, 9, 9])), Some(1));
        assert_eq!(t.lookup(0, v4([10, 1, 9, 9])), Some(2));
        assert_eq!(t.lookup(0, v4([10, 1, 2, 3])), Some(3));
        assert_eq!(t.lookup(0, v4([10, 1, 2, 4])), Some(4));
        assert_eq!(t.lookup(0, v4([11, 0, 0, 0])), None);
        assert_eq!(t.lookup(1, v4([10, 0, 0, 0])), None); // other family
        t.put(0, 0, 0, 7).unwrap();
        assert_eq!(t.lookup(0, v4([11, 0, 0, 0])), Some(7));
        assert_eq!(t.lookup(0, v4([255, 255, 255, 255])), Some(7));
        assert_eq!(t.len(), 5);
        assert_eq!(t.put(0, 0, 33, 1), Err(E_BAD_ARG));
    }

    #[test]
    fn longest_prefix_v6() {
        let mut t = table();
        t.put(1, v6("fd00::"), 8, 1).unwrap();
        t.put(1, v6("fd00:1::"), 32, 2).unwrap();
        t.put(1, v6("fd00:1::5"), 128, 3).unwrap();
        t.put(1, v6("2001:db8::"), 32, 4).unwrap();
        assert_eq!(t.lookup(1, v6("fd12::1")), Some(1));
        assert_eq!(t.lookup(1, v6("fd00:1:2::1")), Some(2));
        assert_eq!(t.lookup(1, v6("fd00:1::5")), Some(3));
        assert_eq!(t.lookup(1, v6("fd00:1::6")), Some(2));
        assert_eq!(t.lookup(1, v6("2001:db8:ffff::")), Some(4));
        assert_eq!(t.lookup(1, v6("2001:db9::")), None);
        assert_eq!(t.lookup(0, v6("fd00::")), None);
        t.put(1, v6("::"), 0, 9).unwrap();
        assert_eq!(t.lookup(1, v6("2001:db9::")), Some(9));
        assert_eq!(t.put(1, 0, 129, 1), Err(E_BAD_ARG));
    }

    #[test]
    fn move_remove_remove_peer() {
        let mut t = table();
        t.put(0, v4([10, 0, 0, 0]), 24, 1).unwrap();
        t.put(0, v4([10, 0, 1, 0]), 24, 1).unwrap();
        t.put(1, v6("fd00::"), 64, 1).unwrap();
        t.put(0, v4([10, 0, 0, 0]), 16, 2).unwrap();
        // Move 10.0.1.0/24 to peer 3: count unchanged.
        t.put(0, v4([10, 0, 1, 0]), 24, 3).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.lookup(0, v4([10, 0, 1, 1])), Some(3));
        // Remove the /24 of peer 1: the /16 now covers it.
        assert_eq!(t.remove(0, v4([10, 0, 0, 7]), 24), Ok(()));
        assert_eq!(t.lookup(0, v4([10, 0, 0, 1])), Some(2));
        assert_eq!(t.remove(0, v4([10, 0, 0, 0]), 24), Err(E_NO_ROUTE));
        assert_eq!(t.remove(0, v4([10, 0, 0, 0]), 8), Err(E_NO_ROUTE));
        assert_eq!(t.len(), 3);
        assert_eq!(t.remove_peer(1), 1);
        assert_eq!(t.lookup(1, v6("fd00::1")), None);
        assert_eq!(t.remove_peer(1), 0);
        assert_eq!(t.remove_peer(3), 1);
        assert_eq!(t.remove_peer(2), 1);
        assert_eq!(t.len(), 0);
        assert_eq!(t.roots, [0, 0]);
        // Every node went back to the free list.
        assert_eq!(t.node_counts().0, 0);
    }

    #[test]
    fn many_prefixes_match_brute_force() {
        let mut t = table();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // 14,000 draws per family (> 10,000 distinct each); short prefixes make many of them nest.
        let mut m4 = std::collections::HashMap::new();
        let mut m6 = std::collections::HashMap::new();
        for _ in 0..14_000 {
            let r = rng();
            let a = r as u32 as u128;
            let cidr = 8 + (r >> 32) as u8 % 25;
            let peer = (r >> 40) as u32 % 1000;
            let k = (a << 96) & mask(cidr);
            t.put(0, k, cidr, peer).unwrap();
            m4.insert((k, cidr), peer);
            let r2 = rng();
            let a6 = (0xfd00u128 << 112) | ((r2 as u128 & 0xffff_ffff) << 80) | rng() as u128;
            let c6 = 16 + (r2 >> 32) as u8 % 113;
            let k6 = a6 & mask(c6);
            t.put(1, k6, c6, peer).unwrap();
            m6.insert((k6, c6), peer);
        }
        let mut e4: Vec<(u128, u8, u32)> = m4.iter().map(|(k, p)| (k.0, k.1, *p)).collect();
        let e6: Vec<(u128, u8, u32)> = m6.iter().map(|(k, p)| (k.0, k.1, *p)).collect();
        e4.sort();
        assert!(e4.len() > 10_000 && e6.len() > 10_000, "{} {}", e4.len(), e6.len());
        assert_eq!(t.len(), e4.len() + e6.len());
        for i in 0..4000 {
            let r = rng();
            let k4 = if i % 2 == 0 {
                (r as u32 as u128) << 96
            } else {
                let pick = &e4[(r >> 32) as usize % e4.len()];
                pick.0 | (((rng() as u32 as u128) << 96) & !mask(pick.1))
            };
            assert_eq!(t.lookup(0, k4), reference(&e4, k4));
            let pick = &e6[(r >> 32) as usize % e6.len()];
            let k6 = pick.0 | (rng() as u128 & !mask(pick.1));
            assert_eq!(t.lookup(1, k6), reference(&e6, k6));
        }
        // Remove half, check again, then list one peer against the reference.
        for (i, e) in e4.clone().iter().enumerate() {
            if i % 2 == 0 {
                t.remove(0, e.0, e.1).unwrap();
            }
        }
        let e4: Vec<_> = e4.iter().enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, e)| *e).collect();
        for _ in 0..2000 {
            let pick = &e4[rng() as usize % e4.len()];
            let k4 = pick.0 | (((rng() as u32 as u128) << 96) & !mask(pick.1));
            assert_eq!(t.lookup(0, k4), reference(&e4, k4));
        }
        // Per-peer removal walks the peer's list: it removes exactly that peer's prefixes.
        let gone = e4[1].2;
        let n4 = e4.iter().filter(|e| e.2 == gone).count();
        let n6 = e6.iter().filter(|e| e.2 == gone).count();
        assert_eq!(t.remove_peer(gone) as usize, n4 + n6);
        assert_eq!(t.remove_peer(gone), 0);
        let e4: Vec<_> = e4.iter().filter(|e| e.2 != gone).copied().collect();
        let e6: Vec<_> = e6.iter().filter(|e| e.2 != gone).copied().collect();
        assert_eq!(t.len(), e4.len() + e6.len());
        for _ in 0..2000 {
            let pick = &e4[rng() as usize % e4.len()];
            let k4 = pick.0 | (((rng() as u32 as u128) << 96) & !mask(pick.1));
            assert_eq!(t.lookup(0, k4), reference(&e4, k4));
            let pick = &e6[rng() as usize % e6.len()];
            let k6 = pick.0 | (rng() as u128 & !mask(pick.1));
            assert_eq!(t.lookup(1, k6), reference(&e6, k6));
        }
        let mut listed = Vec::new();
        t.for_each(e4[0].2, |f, k, c| listed.push((f, k, c)));
        let mut want: Vec<_> = e4.iter().filter(|e| e.2 == e4[0].2).map(|e| (0usize, e.0, e.1)).collect();
        want.extend(e6.iter().filter(|e| e.2 == e4[0].2).map(|e| (1usize, e.0, e.1)));
        want.sort();
        assert_eq!(listed, want); // address order, IPv4 first
    }

    #[test]
    fn the_limit_and_pages_that_run_out() {
        let mut t = table();
        assert_eq!(t.set_limit(70_000), 0);
        for i in 0..70_000u128 {
            let fam = (i % 2) as usize;
            let k = if fam == 0 { (i / 2) << 96 } else { i << 64 };
            t.put(fam, k, if fam == 0 { 32 } else { 64 }, (i % 1000) as u32).unwrap();
        }
        assert_eq!(t.len(), 70_000);
        assert_eq!(t.put(0, 0xffff_ffffu128 << 96, 32, 1), Err(E_TABLE_FULL));
        // Moving an existing prefix still works when full.
        assert_eq!(t.put(0, 0, 32, 1), Ok(()));
        assert_eq!(t.lookup(0, 0), Some(1));
        assert_eq!(t.remove_peer(1), 71); // 70 with i % 1000 == 1, plus the moved one
        assert!(t.put(0, 0xffff_ffffu128 << 96, 32, 1).is_ok());
        assert_eq!(t.set_limit(80_000), E_BAD_ARG, "nodes exist");
        // Pages that run out: a table that may take one page of nodes (and one of list links,
        // one of list heads) holds what fits in it.
        let mut u = table();
        let mut one = crate::testing::HeapPages::new(3);
        let mut n = 0u32;
        while u.insert(0, (n as u128) << 96, 32, 1, &mut one).is_ok() {
            n += 1;
        }
        assert_eq!(u.insert(0, 0xffu128 << 120, 32, 1, &mut one), Err(E_TABLE_FULL));
        assert!(n as usize >= CHUNK / 2 - 1 && (n as usize) < CHUNK, "{}", n);
        assert_eq!(u.node_counts(), (2 * n as usize - 1, CHUNK));
        assert_eq!(u.lookup(0, 5u128 << 96), Some(1));
        assert_eq!(u.insert(0, 0, 32, 1 << 20, &mut one), Err(E_BAD_ARG), "peer ids have 20 bits");
    }

    #[test]
    fn netns_sh_130560_prefixes_on_one_peer_and_more_peers_beside() {
        // netns.sh: AllowedIPs=$a.$b.0.0/16,$a::$b/128 for a in 1..255, b in 0..255, one peer.
        let mut t = table();
        let mut pages = crate::testing::HeapPages::unlimited();
        for a in 1..=255u128 {
            for b in 0..=255u128 {
                t.insert(0, (a << 120) | (b << 112), 16, 7, &mut pages).unwrap();
                t.insert(1, (a << 112) | b, 128, 7, &mut pages).unwrap();
            }
        }
        assert_eq!(t.len(), 130_560);
        assert_eq!(t.lookup(0, (200u128 << 120) | (17 << 112) | (9 << 96)), Some(7));
        assert_eq!(t.lookup(0, 0), None);
        assert_eq!(t.lookup(1, (200u128 << 112) | 17), Some(7));
        assert_eq!(t.lookup(1, (200u128 << 112) | 256), None);
        let mut listed = 0;
        t.for_each(7, |_, _, _| listed += 1);
        assert_eq!(listed, 130_560);
        // Then more peers, to 400,000 prefixes in all (six times the old fixed table).
        let mut x: u64 = 77;
        while t.len() < 400_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let peer = (x >> 44) as u32 % 50 + 8;
            t.insert(1, (0xfd00u128 << 112) | ((x as u128) << 32), 96, peer, &mut pages).unwrap();
        }
        assert_eq!(t.lookup(1, (200u128 << 112) | 17), Some(7));
        let (used, exist) = t.node_counts();
        assert!(used < 2 * 400_000 && exist >= used && exist - used < CHUNK, "{} {}", used, exist);
        assert_eq!(t.remove_peer(7), 130_560);
        assert_eq!(t.lookup(0, (200u128 << 120) | (17 << 112)), None);
        for p in 8..58 {
            t.remove_peer(p);
        }
        assert!(t.is_empty());
        assert_eq!(t.node_counts().0, 0);
        assert_eq!(t.roots, [0, 0]);
    }
}
