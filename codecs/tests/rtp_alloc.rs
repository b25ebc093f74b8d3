//! Zero allocation: parsing the whole RTP/RTCP corpus (and the committed fuzz seeds),
//! walking every accessor, and running every writer allocates nothing.

#[path = "rtp_corpus.rs"]
mod corpus;

use std::hint::black_box;
use talko_codecs::rtcp::{self, Compound, CompoundWriter, ReportBlock, SenderInfo};
use talko_codecs::rtp::{self, audio_level, Extension, RtpHeader, RtpPacket};
use talko_codecs::testing::{thread_counts, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn seeds(dir: &str) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(dir);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect()
}

#[test]
fn the_allocator_is_counting() {
    let before = thread_counts();
    let v = black_box(vec![1u8; 32]);
    drop(v);
    assert_eq!(thread_counts().since(before).allocs, 1);
}

#[test]
fn parsing_the_rtp_corpus_allocates_nothing() {
    let corpus = corpus::rtp();
    let seeds: Vec<Vec<u8>> = seeds("rtp_parse")
        .into_iter()
        .chain(seeds("rtp_differential"))
        .collect();
    let inputs: Vec<&[u8]> = corpus
        .iter()
        .map(|(_, b, _)| *b)
        .chain(seeds.iter().map(Vec::as_slice))
        .collect();
    let mut ok = 0usize;
    let before = thread_counts();
    for buf in &inputs {
        if let Ok(p) = RtpPacket::try_from(*buf) {
            ok += 1;
            black_box(corpus::walk_rtp(&p));
            black_box(audio_level(&p, 1));
        }
        black_box(RtpPacket::parse_with_limit(buf, 9000).ok());
    }
    let used = thread_counts().since(before);
    assert_eq!(used.allocs, 0, "{used:?}");
    assert!(ok >= 10, "the corpus must exercise valid packets too");
}

#[test]
fn parsing_the_rtcp_corpus_allocates_nothing() {
    let corpus = corpus::rtcp();
    let seeds = seeds("rtcp_parse");
    let inputs: Vec<&[u8]> = corpus
        .iter()
        .map(|(_, b, _)| *b)
        .chain(seeds.iter().map(Vec::as_slice))
        .chain([&corpus::RTCP_OVERSIZE[..]])
        .collect();
    let mut packets = 0usize;
    let before = thread_counts();
    for buf in &inputs {
        packets += corpus::walk_rtcp(buf).0;
        black_box(corpus::rtcp_verdict(buf).ok());
        black_box(Compound::parse_strict(buf).ok());
        if let Ok(c) = Compound::parse_with_limit(buf, 4096) {
            black_box(c.iter().filter(Result::is_ok).count());
        }
        black_box(rtcp::is_rtcp(buf));
    }
    let used = thread_counts().since(before);
    assert_eq!(used.allocs, 0, "{used:?}");
    assert!(packets >= 20, "the corpus must exercise many packets");
}

#[test]
fn writers_allocate_nothing() {
    let mut out = [0u8; 1500];
    let before = thread_counts();
    let exts = [
        Extension {
            id: 1,
            data: &[0x85],
        },
        Extension {
            id: 20,
            data: &[1, 2, 3],
        },
    ];
    let h = RtpHeader {
        payload_type: 111,
        csrcs: &[1, 2],
        extensions: &exts,
        padding: 3,
        ..RtpHeader::default()
    };
    let n = black_box(h.write(&[0xAA; 160], &mut out)).unwrap_or(0);
    black_box(rtp::rewrite_header(&mut out[..n], 9, 9, 9).is_ok());
    let blocks = [ReportBlock::default(); 3];
    let mut w = CompoundWriter::new(&mut out);
    let r = w
        .sender_report(&SenderInfo::default(), &blocks)
        .and_then(|w| w.sdes_cname(1, b"talko"))
        .and_then(|w| w.nack(1, 2, &[1, 2, 3, 40]))
        .and_then(|w| w.pli(1, 2))
        .and_then(|w| w.bye(&[1], Some(b"done")))
        .map(|w| w.len());
    black_box(r.is_ok());
    let used = thread_counts().since(before);
    assert_eq!(used.allocs, 0, "{used:?}");
    assert!(n > 160);
}
