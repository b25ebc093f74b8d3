#![no_main]
// Any byte string: the Ogg Opus reader (strict and crash-tolerant), the Ogg repair
// planner and the WAV header repair planner must return a value or an error, never
// panic or hang.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(r) = talko_codecs::ogg::OggOpusReader::new(data) {
        assert!(r.is_finished());
        assert!(r.valid_len() == data.len());
    }
    if let Ok(r) = talko_codecs::ogg::OggOpusReader::new_unfinished(data) {
        assert!(r.valid_len() <= data.len());
    }
    if let Ok(plan) = talko_codecs::ogg::repair::plan(data) {
        assert!(plan.keep_len <= data.len());
        let (off, len) = plan.last_page;
        let mut page = data[off..off + len].to_vec();
        talko_codecs::ogg::repair::mark_eos(&mut page).expect("planned page is a page");
    }
    let len = data.len() as u64;
    if let Ok(plan) = talko_codecs::wav::repair_plan(data, len) {
        assert!(plan.keep_len <= len);
        assert!(plan.data_size_offset + 4 <= len);
    }
});
