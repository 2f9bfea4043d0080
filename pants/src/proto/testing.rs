//! Test helpers shared by the pure layer's unit tests.

/// A tiny xorshift64 generator: deterministic, dependency free.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn step(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).expect("usize fits in u64");
        usize::try_from(self.step() % n).expect("below a usize")
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub(crate) fn bytes(&mut self, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len).map(|_| self.pick(alphabet)).collect()
    }

    pub(crate) fn cuts(&mut self, len: usize) -> Vec<usize> {
        let count = self.below(6);
        (0..count).map(|_| self.below(len + 1)).collect()
    }
}
