//! Limits applied while decoding record batches.

/// How record batches are decoded.
///
/// Build it from [`DecodeOptions::default`] and the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest decompressed size of one batch's records, in bytes. A compressed batch that
    /// would inflate past it is a [`DecodeErrorKind::Decompression`] error, found before more
    /// than this much memory is used.
    ///
    /// [`DecodeErrorKind::Decompression`]: crate::DecodeErrorKind::Decompression
    pub max_decompressed_size: usize,
}

impl DecodeOptions {
    /// The default bound on one batch's decompressed records: 64 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 64 << 20;

    /// These options with another bound on decompressed size.
    pub fn with_max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed_size = bytes;
        self
    }
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_decompressed_size: Self::DEFAULT_MAX_DECOMPRESSED_SIZE,
        }
    }
}
