#![no_main]

// Registered in Cargo.toml once dekaf-proto exposes `fuzz_record_batches`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dekaf_proto::fuzz_record_batches(data);
});
