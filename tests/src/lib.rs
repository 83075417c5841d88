//! Shared helpers for dekaf's cross-crate tests.
