//! Photo and voice-note uploads on the timeline: validation of the bytes (magic, truncation,
//! decompression bombs, Ogg Opus structure), Tap to Show offsets, serving with ranges, and
//! membership checks on every blob.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use talko_codecs::ogg::{OggOpusWriter, OpusHead, OpusTags};

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header announces `w`×`h` pixels, followed by a tiny bogus IDAT.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// A real Ogg Opus file of `frames` 20 ms CELT frames.
fn ogg_opus(frames: usize) -> Vec<u8> {
    let tags = OpusTags {
        vendor: "talko-test",
        comments: &[],
    };
    let mut w = OggOpusWriter::new(Vec::new(), 7, OpusHead::new(1, 48_000), &tags).unwrap();
    for _ in 0..frames {
        // TOC 0xF8: CELT fullband 20 ms, one frame; the payload is opaque to the container.
        w.write_packet(&[0xF8, 0xFF, 0xFE]).unwrap();
    }
    w.finish().unwrap()
}

async fn upload(
    app: &common::TestApp,
    path: &str,
    token: &str,
    ctype: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ctype)
        .body(Body::from(bytes))
        .unwrap();
    let (s, _, b) = app.send(req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

both! {
    async fn photos_upload_serve_with_ranges_and_stay_in_their_group(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "T").await;
        let (s, call) = app.post(&format!("/v1/groups/{g}/calls"), &ana.token, json!({"subject": "demo"})).await;
        assert_eq!(s, StatusCode::CREATED);
        let cid = call["item_id"].as_str().unwrap();
        let path = format!("/v1/groups/{g}/photos?caption=look&call_item_id={cid}&at_offset_ms=12500");
        let (s, item) = upload(app, &path, &ana.token, "image/png", png(800, 600)).await;
        assert_eq!(s, StatusCode::CREATED, "{item}");
        assert_eq!(item["kind"], "photo");
        assert_eq!(item["at_offset_ms"], 12500);
        assert_eq!(item["call_item_id"], cid);
        let url = item["photo"]["url"].as_str().unwrap().to_owned();
        let req = Request::builder().uri(&url).header("authorization", format!("Bearer {}", ana.token))
            .header("range", "bytes=0-9").body(Body::empty()).unwrap();
        let (s, h, body) = app.send(req).await;
        assert_eq!(s, StatusCode::PARTIAL_CONTENT);
        assert_eq!(body.len(), 10);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h["content-type"].to_str().unwrap().starts_with("image/"));
        let (s, _, thumb) = app.send(Request::builder().uri(format!("{url}?size=96"))
            .header("authorization", format!("Bearer {}", ana.token)).body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        let t = image::load_from_memory(&thumb).unwrap();
        assert!(t.width() <= 96 && t.height() <= 96);
        // Not a member: the photo does not exist for Bo.
        let (s, _) = app.get(&url, &bo.token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.get(&format!("{url}?size=7"), &ana.token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
}

both! {
    async fn bad_photos_are_refused_with_specific_codes(app) {
        let ana = app.user("Ana").await;
        let g = app.group(&ana, "T").await;
        let path = format!("/v1/groups/{g}/photos");
        let (s, v) = upload(app, &path, &ana.token, "image/png", b"GIF89a not really".to_vec()).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("photo_unsupported_type")));
        let mut truncated = png(300, 300);
        truncated.truncate(truncated.len() / 2);
        let (s, v) = upload(app, &path, &ana.token, "image/png", truncated).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (s, v) = upload(app, &path, &ana.token, "image/png", png_header_only(10_000, 5_000)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["code"], "photo_too_many_pixels");
        let (s, v) = upload(app, &path, &ana.token, "image/png", Vec::new()).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("empty_body")));
        let (s, v) = upload(app, &format!("{path}?at_offset_ms=5"), &ana.token, "image/png", png(10, 10)).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("offset_needs_call")));
        let (_, list) = app.get(&format!("/v1/groups/{g}/items"), &ana.token).await;
        assert!(list["items"].as_array().unwrap().is_empty(), "nothing was posted");
    }
}

both! {
    async fn voice_notes_are_validated_ogg_opus(app) {
        let ana = app.user("Ana").await;
        let g = app.group(&ana, "T").await;
        let path = format!("/v1/groups/{g}/voice");
        let (s, item) = upload(app, &path, &ana.token, "audio/ogg", ogg_opus(50)).await;
        assert_eq!(s, StatusCode::CREATED, "{item}");
        assert_eq!(item["kind"], "voice");
        let ms = item["voice"]["duration_ms"].as_i64().unwrap();
        assert!((980..=1000).contains(&ms), "{ms}");
        let url = item["voice"]["url"].as_str().unwrap().to_owned();
        let (s, h, body) = app.send(Request::builder().uri(&url).header("authorization", format!("Bearer {}", ana.token))
            .body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["content-type"], "audio/ogg");
        assert_eq!(&body[..4], b"OggS");
        let (s, v) = upload(app, &path, &ana.token, "audio/ogg", b"RIFF....WAVEfmt ".to_vec()).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_voice_note")));
        let mut cut = ogg_opus(50);
        cut.truncate(cut.len() - 7);
        let (s, v) = upload(app, &path, &ana.token, "audio/ogg", cut).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_voice_note")));
    }
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_before_processing() {
    let app = common::TestApp::sqlite_with(|c| c.max_upload_bytes = 10_000).await;
    let ana = app.user("Ana").await;
    let g = app.group(&ana, "T").await;
    let (s, v) = upload(
        &app,
        &format!("/v1/groups/{g}/photos"),
        &ana.token,
        "image/png",
        vec![0u8; 20_000],
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["code"], "body_too_large");
    app.finish().await;
}
