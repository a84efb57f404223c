//! A table's storage: up to `C` chunks of `N` elements, one page each, grown on demand and
//! possibly sparse (element `i` lives in chunk `i / N`; a chunk exists once something in it
//! was needed). A lookup is one more load than a flat array's: the chunk's pointer, from a
//! directory of `C` entries that stays in cache.

use crate::tables::Pages;

/// `'a`: how long the pages live (`'static` for the tunnel's tables).
pub struct Chunked<'a, T, const N: usize, const C: usize> {
    chunks: [Option<&'a mut [T; N]>; C],
    /// Chunks that exist.
    count: u32,
}

impl<'a, T: Copy, const N: usize, const C: usize> Chunked<'a, T, N, C> {
    const NONE: Option<&'a mut [T; N]> = None;
    /// No chunk at all.
    pub const EMPTY: Self = Chunked { chunks: [Self::NONE; C], count: 0 };
    /// Elements there can ever be.
    pub const MAX: usize = N * C;

    /// Element `i`, if its chunk exists.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        match self.chunks.get(i / N) {
            Some(Some(c)) => c.get(i % N),
            _ => None,
        }
    }

    /// Element `i`, if its chunk exists.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        match self.chunks.get_mut(i / N) {
            Some(Some(c)) => c.get_mut(i % N),
            _ => None,
        }
    }

    /// Makes element `i`'s chunk exist (new elements are `init`); false if `i` is beyond
    /// [`Chunked::MAX`] or no page could be had.
    pub fn ensure<P: Pages<'a>>(&mut self, i: usize, init: T, pages: &mut P) -> bool {
        let slot = match self.chunks.get_mut(i / N) {
            Some(s) => s,
            None => return false,
        };
        if slot.is_none() {
            match pages.private::<T, N>(init) {
                Some(c) => *slot = Some(c),
                None => return false,
            }
            self.count += 1;
        }
        true
    }

    /// Chunks that exist.
    pub fn chunks(&self) -> usize {
        self.count as usize
    }

    /// Gives every chunk back; the table is empty afterwards.
    pub fn release<P: Pages<'a>>(&mut self, pages: &mut P) {
        for c in self.chunks.iter_mut() {
            if let Some(page) = c.take() {
                pages.release(page);
            }
        }
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::HeapPages;

    #[test]
    fn sparse_chunks_on_demand() {
        let mut t: Box<Chunked<u32, 4, 8>> = Box::new(Chunked::EMPTY);
        let mut pages = HeapPages::new(3);
        assert_eq!(Chunked::<u32, 4, 8>::MAX, 32);
        assert!(t.get(0).is_none());
        assert!(t.ensure(13, 5, &mut pages));
        assert_eq!((t.get(12), t.get(15), t.get(11), t.get(16)), (Some(&5), Some(&5), None, None));
        *t.get_mut(13).unwrap() = 9;
        assert!(t.ensure(14, 5, &mut pages)); // same chunk: nothing new
        assert_eq!((t.get(13), t.chunks(), pages.taken), (Some(&9), 1, 1));
        assert!(!t.ensure(32, 0, &mut pages), "beyond MAX");
        assert!(t.ensure(0, 1, &mut pages) && t.ensure(31, 1, &mut pages));
        assert!(!t.ensure(20, 1, &mut pages), "no page left");
        assert_eq!(t.chunks(), 3);
        t.release(&mut pages);
        assert_eq!((t.chunks(), pages.taken, pages.released), (0, 3, 3));
        assert!(t.get(13).is_none());
    }
}
