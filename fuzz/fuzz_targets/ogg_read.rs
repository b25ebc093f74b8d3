#![no_main]
// Placeholder until this target's parser lands; replaced by the real target.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data.len();
});
