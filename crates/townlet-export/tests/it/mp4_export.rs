//! A recorded episode exports as an MP4 (H.264): the boxes a player needs (ftyp, moov with
//! an avc1 track and its avcC, mdat), one sample per step at the chosen speed, and frames
//! that decode to the agent on its first and last cells; odd frame sizes are padded.

use crate::common::{agent_pixel, episode, rgb, world};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use std::io::Cursor;
use townlet_export::{AGENT_RGB, ExportOptions};

/// The boxes inside `b` (an MP4 or a box's payload): type and payload.
fn boxes(mut b: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let size = u32::from_be_bytes(b[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = b[4..8].try_into().unwrap();
        let (head, size) = match size {
            1 => (
                16,
                u64::from_be_bytes(b[8..16].try_into().unwrap()) as usize,
            ),
            0 => (8, b.len()),
            n => (8, n),
        };
        assert!(
            size >= head && size <= b.len(),
            "box {kind:?} of {size} bytes"
        );
        out.push((kind, &b[head..size]));
        b = &b[size..];
    }
    assert!(b.is_empty(), "{} stray bytes", b.len());
    out
}

/// The payload of the box at `path` (a container's children follow `skip` bytes of its
/// own fields: 8 in stsd, 78 in avc1).
fn find<'a>(b: &'a [u8], path: &[&[u8; 4]]) -> &'a [u8] {
    let mut at = b;
    for kind in path {
        at = boxes(at)
            .into_iter()
            .find(|(k, _)| k == *kind)
            .unwrap_or_else(|| panic!("no {} box", String::from_utf8_lossy(*kind)))
            .1;
        at = match *kind {
            b"stsd" => &at[8..],
            b"avc1" => &at[78..],
            _ => at,
        };
    }
    at
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Every frame of the MP4's video track, decoded by OpenH264 (RGB per pixel), and the
/// track's width.
fn decode(bytes: &[u8]) -> (u32, Vec<Vec<u8>>) {
    let mut mp4 =
        mp4::Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64).expect("an MP4");
    let track = mp4.tracks().values().next().expect("a track");
    assert_eq!(
        track.media_type().expect("media type"),
        mp4::MediaType::H264
    );
    let (id, n) = (track.track_id(), track.sample_count());
    let start = |nal: &[u8]| [&[0, 0, 0, 1], nal].concat();
    // Annex B for the decoder: the parameter sets, then each NAL with a start code.
    let mut stream = start(track.sequence_parameter_set().expect("SPS"));
    stream.extend(start(track.picture_parameter_set().expect("PPS")));
    let mut decoder = Decoder::new().expect("decoder");
    let mut frames = Vec::new();
    for i in 1..=n {
        let sample = mp4.read_sample(id, i).expect("read").expect("sample");
        let mut s = &sample.bytes[..];
        while !s.is_empty() {
            let len = be32(s, 0) as usize;
            stream.extend(start(&s[4..4 + len]));
            s = &s[4 + len..];
        }
        if let Some(yuv) = decoder.decode(&stream).expect("decodes") {
            frames.push(to_rgb(&yuv));
        }
        stream.clear();
    }
    for yuv in decoder.flush_remaining().expect("flush") {
        frames.push(to_rgb(&yuv));
    }
    let width = track_width(bytes);
    (width, frames)
}

fn to_rgb(yuv: &openh264::decoder::DecodedYUV<'_>) -> Vec<u8> {
    let (w, h) = yuv.dimensions();
    let mut rgb = vec![0; w * h * 3];
    yuv.write_rgb8(&mut rgb);
    rgb
}

/// The width in the track header (16.16 fixed point).
fn track_width(bytes: &[u8]) -> u32 {
    let tkhd = find(bytes, &[b"moov", b"trak", b"tkhd"]);
    be32(tkhd, tkhd.len() - 8) >> 16
}

/// Colours equal after H.264's quantisation and 4:2:0 chroma.
fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 24)
}

#[test]
fn one_sample_per_step_in_an_avc1_track_with_the_agent_on_its_first_and_last_cells() {
    let ep = episode();
    let opts = ExportOptions::default();
    let bytes = townlet_export::episode_mp4(&ep, &world(), &opts).expect("export");
    // The boxes a browser needs.
    let top: Vec<[u8; 4]> = boxes(&bytes).into_iter().map(|(k, _)| k).collect();
    assert_eq!(top.first(), Some(b"ftyp"), "{top:?}");
    assert!(top.contains(b"moov") && top.contains(b"mdat"), "{top:?}");
    assert_eq!(&find(&bytes, &[b"ftyp"])[..4], b"isom");
    let stbl = find(&bytes, &[b"moov", b"trak", b"mdia", b"minf", b"stbl"]);
    let avcc = find(stbl, &[b"stsd", b"avc1", b"avcC"]);
    assert_eq!(avcc[0], 1, "avcC version");
    assert_eq!(avcc[4] & 3, 3, "4-byte NAL lengths");
    assert_eq!(avcc[1], 66, "Baseline profile (every browser decodes it)");
    // One sample per step, each lasting 1/fps s.
    let stsz = find(stbl, &[b"stsz"]);
    assert_eq!(be32(stsz, 8) as usize, ep.len(), "one sample per step");
    let mdhd = find(&bytes, &[b"moov", b"trak", b"mdia", b"mdhd"]);
    let (timescale, duration) = (be32(mdhd, 12), be32(mdhd, 16));
    assert_eq!(
        duration,
        timescale * ep.len() as u32 / 5,
        "9 frames at 5 fps"
    );
    // The frames, decoded.
    let (w, frames) = decode(&bytes);
    assert_eq!(frames.len(), ep.len(), "one frame per step");
    let first = ep.step(0).expect("first").position;
    let last = ep.step(ep.len() - 1).expect("last").position;
    let at = |f: &[u8], p| rgb(f, w, agent_pixel(&opts, p));
    assert!(
        near(at(&frames[0], first), AGENT_RGB),
        "{:?}",
        at(&frames[0], first)
    );
    assert!(!near(at(&frames[0], last), AGENT_RGB));
    let end = frames.last().expect("frames");
    assert!(near(at(end, last), AGENT_RGB), "{:?}", at(end, last));
    assert!(!near(at(end, first), AGENT_RGB));
}

#[test]
fn a_step_range_at_another_speed_and_an_odd_frame_size() {
    let ep = episode();
    // 5 cells of 25 px beside the 170 px panel: 295 px, padded to 296.
    let opts = ExportOptions {
        steps: Some(3..=5),
        fps: 10.0,
        cell: 25,
    };
    let bytes = townlet_export::episode_mp4(&ep, &world(), &opts).expect("export");
    let stbl = find(&bytes, &[b"moov", b"trak", b"mdia", b"minf", b"stbl"]);
    assert_eq!(be32(find(stbl, &[b"stsz"]), 8), 3);
    let (w, frames) = decode(&bytes);
    assert_eq!((w, frames.len()), (296, 3));
    let third = ep.step(2).expect("step 3").position;
    let c = rgb(&frames[0], w, agent_pixel(&opts, third));
    assert!(near(c, AGENT_RGB), "{c:?}");
    let drawn = townlet_export::frames(&ep, &world(), &opts).expect("frames");
    assert_eq!(drawn[0].width, 296, "the GIF's frames are padded alike");
}

#[test]
fn bad_options_are_the_same_errors_as_for_the_gif() {
    let ep = episode();
    for opts in [
        ExportOptions {
            fps: 0.0,
            ..ExportOptions::default()
        },
        ExportOptions {
            steps: Some(4..=12),
            ..ExportOptions::default()
        },
    ] {
        let mp4 = townlet_export::episode_mp4(&ep, &world(), &opts).unwrap_err();
        let gif = townlet_export::episode_gif(&ep, &world(), &opts).unwrap_err();
        assert_eq!(mp4.to_string(), gif.to_string());
    }
    // The slowest and the fastest speed are fine.
    for fps in [0.1, 100.0] {
        let opts = ExportOptions {
            fps,
            steps: Some(1..=2),
            ..ExportOptions::default()
        };
        let bytes = townlet_export::episode_mp4(&ep, &world(), &opts).expect("export");
        let stbl = find(&bytes, &[b"moov", b"trak", b"mdia", b"minf", b"stbl"]);
        assert_eq!(be32(find(stbl, &[b"stsz"]), 8), 2, "{fps} fps");
    }
}
