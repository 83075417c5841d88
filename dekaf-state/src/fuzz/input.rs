//! The fuzz input read as a stream of choices. Past its end every choice reads as zero, which
//! the drivers make the most ordinary choice (answer the oldest request, successfully).

/// A cursor over the fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1).min(self.data.len());
        b
    }

    /// A number in `0..n` (0 for `n` = 0).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 | 1 => 0,
            2..=256 => usize::from(self.byte()) % n,
            _ => usize::from(self.u16()) % n,
        }
    }

    /// True with probability `p`/256 (never past the end).
    pub fn chance(&mut self, p: u8) -> bool {
        self.byte() > u8::MAX - p
    }

    /// A coin flip.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// Two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// Four bytes, big-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Eight bytes, big-endian.
    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// One of `items` (the first past the end).
    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> Option<&'b T> {
        items.get(self.below(items.len()))
    }

    /// An offset or count that is usually small, sometimes an edge value.
    pub fn i64_interesting(&mut self) -> i64 {
        match self.byte() {
            0..=199 => i64::from(self.byte()),
            200..=219 => i64::from(self.u16()),
            220..=229 => -1,
            230..=234 => -2,
            235..=239 => i64::MAX,
            240..=244 => i64::MIN,
            245..=249 => i64::from(i32::MAX),
            _ => self.u64() as i64,
        }
    }

    /// Like [`i64_interesting`](Self::i64_interesting) for an i32.
    pub fn i32_interesting(&mut self) -> i32 {
        match self.byte() {
            0..=199 => i32::from(self.byte() % 8),
            200..=219 => i32::from(self.byte()),
            220..=229 => -1,
            230..=239 => i32::MAX,
            240..=244 => i32::MIN,
            _ => self.u32() as i32,
        }
    }

    /// Up to `max` raw bytes of the input, the length read first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let want = usize::from(self.u16()).min(max);
        let start = self.pos;
        let end = start.saturating_add(want).min(self.data.len());
        self.pos = end;
        self.data.get(start..end).unwrap_or_default()
    }
}
