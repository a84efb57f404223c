//! The tables' own pages: a page allocator over `memory.grow`, the crate's only allocator.
//!
//! The tables grow by whole 64 KiB pages. A **private** page holds a chunk of a table (peers'
//! counters, keypairs, the index hash, AllowedIPs nodes); [`Mem`](super::Mem) refuses every range
//! from TypeScript that touches one, so no pointer from TypeScript can alias what Rust holds
//! references to, wherever `memory.grow` put the page (between two slab chunks, say). A
//! **public** page is heap memory like a slab chunk (the peers' sockaddrs, which `sendmmsg` reads
//! in place).
//!
//! Tables only grow, except the index hash, which moves to a table twice the size and gives its
//! old pages back: given-back pages are kept on a free list (linked through their first four
//! bytes) and handed out again before memory grows.
//!
//! [`PageMap`] is the allocator's state, a plain value in the instance static; all its use goes
//! through [`Mem`](super::Mem), which holds a pointer to it.

use super::PAGE;

/// Pages linear memory can have (4 GiB).
pub const MAX_PAGES: usize = 1 << 16;
const WORDS: usize = MAX_PAGES / 64;

/// Which pages are private, the free private pages, and counts.
pub struct PageMap {
    /// Bit `p` set: page `p` (bytes `p * PAGE ..`) is private, in use or free.
    private: [u64; WORDS],
    /// First free private page + 1 (0 = none); each free page holds the next one's + 1.
    free_head: u32,
    free: u32,
    /// Private pages that exist (in use or free).
    private_pages: u32,
    public_pages: u32,
}

impl PageMap {
    pub const ZERO: PageMap = PageMap { private: [0; WORDS], free_head: 0, free: 0, private_pages: 0, public_pages: 0 };

    /// True if any byte of `[start, end)` (`end > start`) lies in a private page.
    #[inline]
    pub fn overlaps(&self, start: usize, end: usize) -> bool {
        if self.private_pages == 0 {
            return false;
        }
        let (mut p, last) = (start / PAGE, (end - 1) / PAGE);
        while p <= last {
            let w = match self.private.get(p / 64) {
                Some(&w) => w,
                None => return false,
            };
            if w == 0 {
                p = (p / 64 + 1) * 64; // a whole word of public pages
                continue;
            }
            if (w >> (p % 64)) & 1 == 1 {
                return true;
            }
            p += 1;
        }
        false
    }

    /// Marks page `p` private.
    pub fn mark(&mut self, p: usize) {
        if let Some(w) = self.private.get_mut(p / 64) {
            *w |= 1 << (p % 64);
            self.private_pages += 1;
        }
    }

    pub fn is_private(&self, p: usize) -> bool {
        self.private.get(p / 64).map_or(false, |w| (w >> (p % 64)) & 1 == 1)
    }

    /// The free list's head page (`None`: empty).
    pub fn free_head(&self) -> Option<usize> {
        (self.free_head as usize).checked_sub(1)
    }

    /// Takes the head page off the free list; `next` is what it held (the next page + 1).
    pub fn pop(&mut self, next: u32) {
        self.free_head = next;
        self.free -= 1;
    }

    /// Puts private page `p` on the free list; returns what the page must hold (the old head).
    pub fn push(&mut self, p: usize) -> u32 {
        let next = self.free_head;
        self.free_head = p as u32 + 1;
        self.free += 1;
        next
    }

    pub fn count_public(&mut self) {
        self.public_pages += 1;
    }

    /// Private pages in use, private pages free, public pages.
    pub fn counts(&self) -> (u32, u32, u32) {
        (self.private_pages - self.free, self.free, self.public_pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_marks_and_free_list() {
        let mut m = PageMap::ZERO;
        assert!(!m.overlaps(0, usize::MAX / 2));
        m.mark(700);
        assert!(m.is_private(700) && !m.is_private(699));
        assert!(!m.overlaps(699 * PAGE, 700 * PAGE));
        assert!(m.overlaps(699 * PAGE, 700 * PAGE + 1));
        assert!(m.overlaps(701 * PAGE - 1, 701 * PAGE));
        assert!(!m.overlaps(701 * PAGE, 702 * PAGE));
        assert!(m.overlaps(0, 4000 * PAGE)); // a long range: skips whole words
        assert_eq!(m.free_head(), None);
        assert_eq!(m.push(700), 0);
        m.mark(9);
        assert_eq!(m.push(9), 701);
        assert_eq!(m.counts(), (0, 2, 0));
        assert_eq!(m.free_head(), Some(9));
        m.pop(701);
        assert_eq!(m.free_head(), Some(700));
        assert_eq!(m.counts(), (1, 1, 0));
    }
}
