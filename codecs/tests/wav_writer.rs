//! WAV writer: round trip through hound's reader, a valid header after every flush, and
//! the header repair of a crash-cut file.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use talko_codecs::wav::{repair_plan, WavError, WavWriter};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talko-wav-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

fn ramp(n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i * 37) % 65536) as u16 as i16).collect()
}

#[test]
fn samples_round_trip_through_hound() {
    let path = scratch("round.wav");
    let mut w = WavWriter::new(BufWriter::new(File::create(&path).expect("create"))).expect("new");
    let pcm = ramp(48_000);
    for chunk in pcm.chunks(960) {
        w.write_samples(chunk).expect("write");
    }
    w.write_silence(500).expect("silence");
    assert_eq!(w.samples(), 48_500);
    assert_eq!(w.bytes(), 44 + 2 * 48_500);
    w.finish().expect("finish");
    assert_eq!(fs::metadata(&path).expect("meta").len(), 44 + 2 * 48_500);
    let mut r = hound::WavReader::open(&path).expect("valid wav");
    let spec = r.spec();
    assert_eq!(
        (spec.sample_rate, spec.bits_per_sample, spec.channels),
        (48_000, 16, 1)
    );
    let got: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    assert_eq!(&got[..48_000], &pcm[..]);
    assert!(got[48_000..].iter().all(|&s| s == 0));
    let _ = fs::remove_file(&path);
}

#[test]
fn header_is_valid_after_each_flush_while_still_writing() {
    let path = scratch("flush.wav");
    let mut w = WavWriter::new(BufWriter::new(File::create(&path).expect("create"))).expect("new");
    for second in 1..=3u32 {
        for _ in 0..50 {
            w.write_samples(&ramp(960)).expect("write");
        }
        w.flush().expect("flush");
        // Another process reading now sees a complete file of `second` seconds.
        let r = hound::WavReader::open(&path).expect("valid while recording");
        assert_eq!(r.duration(), second * 48_000);
    }
    w.finish().expect("finish");
    let _ = fs::remove_file(&path);
}

#[test]
fn repair_plan_fixes_sizes_of_a_cut_file() {
    let path = scratch("cut.wav");
    let mut w = WavWriter::new(BufWriter::new(File::create(&path).expect("create"))).expect("new");
    w.write_samples(&ramp(9600)).expect("write");
    w.flush().expect("flush");
    w.write_samples(&ramp(4800)).expect("write");
    w.finish().expect("finish");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    let mut head = [0u8; 44];
    f.read_exact(&mut head).expect("header");
    // Simulate the stale header of a crash: sizes as of the flush, plus a torn sample.
    f.seek(SeekFrom::Start(4)).expect("seek");
    f.write_all(&(36u32 + 2 * 9600).to_le_bytes())
        .expect("riff");
    f.seek(SeekFrom::Start(40)).expect("seek");
    f.write_all(&(2u32 * 9600).to_le_bytes()).expect("data");
    f.seek(SeekFrom::End(0)).expect("seek");
    f.write_all(&[0x12]).expect("torn byte");
    let len = f.metadata().expect("meta").len();
    f.seek(SeekFrom::Start(0)).expect("seek");
    f.read_exact(&mut head).expect("header");
    let plan = repair_plan(&head, len).expect("plan");
    assert!(!plan.already_valid);
    assert_eq!(plan.keep_len, 44 + 2 * 14_400);
    assert_eq!(plan.data_size, 2 * 14_400);
    assert_eq!(plan.data_size_offset, 40);
    f.set_len(plan.keep_len).expect("truncate");
    f.seek(SeekFrom::Start(4)).expect("seek");
    f.write_all(&plan.riff_size.to_le_bytes()).expect("riff");
    f.seek(SeekFrom::Start(plan.data_size_offset))
        .expect("seek");
    f.write_all(&plan.data_size.to_le_bytes()).expect("data");
    drop(f);
    let r = hound::WavReader::open(&path).expect("repaired");
    assert_eq!(r.duration(), 14_400);
    let _ = fs::remove_file(&path);
}

#[test]
fn repair_plan_rejects_foreign_and_short_headers() {
    assert_eq!(repair_plan(b"RIFX", 100).err(), Some(WavError::BadHeader));
    assert_eq!(repair_plan(&[], 0).err(), Some(WavError::BadHeader));
    let mut head = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    head.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(repair_plan(&head, 1000).err(), Some(WavError::BadHeader));
}

#[test]
fn a_full_disk_is_an_io_error_not_a_panic() {
    let full = OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        panic!("/dev/full is missing: this test needs a Linux /dev");
    };
    // /dev/full accepts seeks and fails every write with ENOSPC.
    let w = WavWriter::new(BufWriter::with_capacity(16, full));
    let err = match w {
        Err(e) => e,
        Ok(mut w) => {
            let r = w.write_samples(&ramp(960)).and_then(|()| w.flush());
            r.expect_err("writing to /dev/full must fail")
        }
    };
    assert_eq!(err, WavError::Io(std::io::ErrorKind::StorageFull));
}

#[test]
fn writing_and_flushing_reuse_the_writers_buffers() {
    #[global_allocator]
    static A: talko_codecs::testing::CountingAlloc = talko_codecs::testing::CountingAlloc;
    let mut disk = vec![0u8; 44 + 2 * 960 * 600];
    let cursor = std::io::Cursor::new(&mut disk[..]);
    let mut w = WavWriter::new(BufWriter::with_capacity(64 * 1024, cursor)).expect("new");
    let pcm = ramp(960);
    w.write_samples(&pcm).expect("warm-up");
    w.flush().expect("flush");
    let before = talko_codecs::testing::thread_counts();
    for i in 1..500 {
        w.write_samples(&pcm).expect("write");
        if i % 50 == 0 {
            w.flush().expect("flush");
        }
    }
    assert_eq!(
        talko_codecs::testing::thread_counts().since(before).allocs,
        0
    );
    w.finish().expect("finish");
}
