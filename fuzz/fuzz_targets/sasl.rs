#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dekaf_state::fuzz::fuzz_sasl(data);
});
