#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dekaf_sim::fuzz::fuzz_consumer(data);
});
