//! `cargo xtask demo|test|bench|fuzz`.
fn main() {}
