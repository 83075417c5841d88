//! Tests of record batches as a whole.
