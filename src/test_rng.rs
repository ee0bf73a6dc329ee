//! A small deterministic generator for the unit tests' random graphs and lists (xorshift
//! 13/7/17): the same seed gives the same sequence on every machine.

pub struct XorShift(pub u64);

impl XorShift {
    /// The next state (also the value returned).
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next value reduced below `n` (below 1 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
