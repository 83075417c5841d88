#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dekaf_proto::fuzz::fuzz_request(data);
});
