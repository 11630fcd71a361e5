//! The MP4: one H.264 video track, one sample per frame.
//!
//! Each drawn frame becomes 4:2:0 YUV (BT.601, limited range, the matrix OpenH264's own
//! RGB conversion and decoder use, signalled in the stream) through a table of the
//! palette's colours, and OpenH264 codes it (Constrained Baseline, its screen-content
//! mode, a fixed quality rather than a bit rate, no frame skipping, a key frame every few
//! seconds so players can seek). The encoder's Annex B output is split
//! into NAL units: the first SPS and PPS go into the track's `avcC`, the rest of each frame
//! becomes one length-prefixed sample. The `mp4` crate writes `ftyp`, `mdat` and `moov`.

use crate::{Canvas, ExportError, ExportOptions, ExportWorld, PALETTE, Plan};
use openh264::OpenH264API;
use openh264::encoder::{
    Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange, RateControlMode,
    UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use std::io::Cursor;
use townlet_recording::LiveEpisode;

/// Ticks per second of the track: every speed the viewer offers (5, 10, 25, 50 steps/s)
/// divides it, so frame times are exact.
const TIMESCALE: u32 = 90_000;

/// Quantiser bounds; the buffer-based rate control settles at the lower one after a few
/// frames (one or two higher after a scene change). At 20 the 3×5-pixel labels and the
/// bars' ends stay sharp (measured on an L1-sized episode: about 1 kB a frame, 36 dB
/// against the drawn frames, most of the difference being 4:2:0 chroma at coloured
/// edges); at 30 the bars smear and a frame is a third smaller.
const QP: (u8, u8) = (20, 24);

/// Seconds between key frames.
const KEY_EVERY_S: f32 = 5.0;

/// A palette colour in BT.601 limited-range YUV (the coefficients of OpenH264's own RGB
/// conversion), ×4 in the chroma so a 2×2 block sums without rounding twice.
fn yuv(rgb: [u8; 3]) -> (u8, u16, u16) {
    let [r, g, b] = rgb.map(f32::from);
    let y = 16.0 + 0.257_812_5 * r + 0.503_906_25 * g + 0.097_656_25 * b;
    let u = 128.0 - 0.148_437_5 * r - 0.289_062_5 * g + 0.4375 * b;
    let v = 128.0 + 0.4375 * r - 0.367_187_5 * g - 0.070_312_5 * b;
    let c = |x: f32| x.round().clamp(0.0, 255.0);
    (c(y) as u8, c(u) as u16, c(v) as u16)
}

/// One frame as 4:2:0 planes, refilled from each canvas.
struct Yuv420 {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    table: Vec<(u8, u16, u16)>,
}

impl Yuv420 {
    fn new(width: u32, height: u32) -> Yuv420 {
        let (width, height) = (width as usize, height as usize);
        let chroma = (width / 2) * (height / 2);
        Yuv420 {
            width,
            height,
            y: vec![0; width * height],
            u: vec![0; chroma],
            v: vec![0; chroma],
            table: PALETTE.iter().map(|&c| yuv(c)).collect(),
        }
    }

    /// The canvas's colours (its size is even: see `frame_size`).
    fn fill(&mut self, canvas: &Canvas) {
        let w = self.width;
        let at = |i: usize| self.table.get(usize::from(canvas.pixels[i])).copied();
        let black = (16, 128, 128);
        for (yy, py) in self.y.iter_mut().zip(0..) {
            *yy = at(py).unwrap_or(black).0;
        }
        for cy in 0..self.height / 2 {
            for cx in 0..w / 2 {
                let top = 2 * cy * w + 2 * cx;
                let (mut u, mut v) = (0, 0);
                for i in [top, top + 1, top + w, top + w + 1] {
                    let (_, pu, pv) = at(i).unwrap_or(black);
                    (u, v) = (u + pu, v + pv);
                }
                let o = cy * (w / 2) + cx;
                self.u[o] = ((u + 2) / 4) as u8;
                self.v[o] = ((v + 2) / 4) as u8;
            }
        }
    }

    fn slices(&self) -> YUVSlices<'_> {
        YUVSlices::new(
            (&self.y, &self.u, &self.v),
            (self.width, self.height),
            (self.width, self.width / 2, self.width / 2),
        )
    }
}

/// A NAL unit without its Annex B start code.
fn strip_start_code(nal: &[u8]) -> &[u8] {
    nal.strip_prefix(&[0, 0, 0, 1])
        .or_else(|| nal.strip_prefix(&[0, 0, 1]))
        .unwrap_or(nal)
}

const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// What one encoded frame holds: the parameter sets (if it carries them) and the sample
/// (the other NAL units, each prefixed with its length).
#[derive(Default)]
struct Access {
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    sample: Vec<u8>,
}

fn split(bits: &openh264::encoder::EncodedBitStream<'_>) -> Access {
    let mut out = Access::default();
    for l in 0..bits.num_layers() {
        let Some(layer) = bits.layer(l) else { continue };
        for n in 0..layer.nal_count() {
            let Some(nal) = layer.nal_unit(n).map(strip_start_code) else {
                continue;
            };
            let Some(&head) = nal.first() else { continue };
            match head & 0x1f {
                NAL_SPS => out.sps = Some(nal.to_vec()),
                NAL_PPS => out.pps = Some(nal.to_vec()),
                NAL_AUD => {}
                _ => {
                    out.sample
                        .extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    out.sample.extend_from_slice(nal);
                }
            }
        }
    }
    out
}

/// The MP4 container, opened once the first frame has given the parameter sets.
struct Muxer {
    writer: mp4::Mp4Writer<Cursor<Vec<u8>>>,
    time: u64,
}

const TRACK: u32 = 1;

impl Muxer {
    fn new(width: u32, height: u32, sps: Vec<u8>, pps: Vec<u8>) -> Result<Muxer, ExportError> {
        // avcC copies profile, compatibility and level from the SPS's first bytes.
        if sps.len() < 4 || pps.is_empty() {
            return Err(ExportError::H264Output("no usable SPS / PPS"));
        }
        let brand = |b: &[u8; 4]| mp4::FourCC { value: *b };
        let config = mp4::Mp4Config {
            major_brand: brand(b"isom"),
            minor_version: 512,
            compatible_brands: [b"isom", b"iso2", b"avc1", b"mp41"].map(brand).to_vec(),
            timescale: 1000,
        };
        let mut writer = mp4::Mp4Writer::write_start(Cursor::new(Vec::new()), &config)
            .map_err(ExportError::Mp4)?;
        writer
            .add_track(&mp4::TrackConfig {
                track_type: mp4::TrackType::Video,
                timescale: TIMESCALE,
                language: "und".into(),
                media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                    width: width as u16,
                    height: height as u16,
                    seq_param_set: sps,
                    pic_param_set: pps,
                }),
            })
            .map_err(ExportError::Mp4)?;
        Ok(Muxer { writer, time: 0 })
    }

    fn sample(&mut self, bytes: Vec<u8>, duration: u32, is_sync: bool) -> Result<(), ExportError> {
        let sample = mp4::Mp4Sample {
            start_time: self.time,
            duration,
            rendering_offset: 0,
            is_sync,
            bytes: bytes.into(),
        };
        self.writer
            .write_sample(TRACK, &sample)
            .map_err(ExportError::Mp4)?;
        self.time += u64::from(duration);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, ExportError> {
        self.writer.write_end().map_err(ExportError::Mp4)?;
        Ok(self.writer.into_writer().into_inner())
    }
}

/// The episode (or `opts.steps` of it) as an MP4 video (H.264), one frame per step at
/// `opts.fps` frames per second.
pub fn episode_mp4(
    ep: &LiveEpisode,
    world: &ExportWorld,
    opts: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let plan = Plan::new(ep, world, opts)?;
    let (w, h) = (plan.width, plan.height);
    let config = EncoderConfig::new()
        .usage_type(UsageType::ScreenContentRealTime)
        // No bit-rate target: the quantiser steps down while frames are delivered (all
        // are: skipping is off), within QP. Screen content has neither of the next two;
        // saying so keeps OpenH264 from printing warnings on stderr.
        .rate_control_mode(RateControlMode::Bufferbased)
        .qp(QpRange::new(QP.0, QP.1))
        .adaptive_quantization(false)
        .background_detection(false)
        .max_frame_rate(FrameRate::from_hz(opts.fps))
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(
            (opts.fps * KEY_EVERY_S).round().max(1.0) as u32,
        ))
        .vui(VuiConfig::bt601())
        .num_threads(1);
    let mut encoder =
        Encoder::with_api_config(OpenH264API::from_source(), config).map_err(ExportError::H264)?;
    let mut frame = Yuv420::new(w, h);
    let duration = (TIMESCALE as f32 / opts.fps).round() as u32;
    let mut muxer: Option<Muxer> = None;
    // A frame the encoder skipped after all lengthens the one before it.
    let mut pending: Option<(Vec<u8>, u32, bool)> = None;
    plan.render(|canvas| {
        frame.fill(canvas);
        let bits = encoder.encode(&frame.slices()).map_err(ExportError::H264)?;
        let is_sync = matches!(bits.frame_type(), FrameType::IDR);
        let access = split(&bits);
        if muxer.is_none()
            && let (Some(sps), Some(pps)) = (access.sps, access.pps)
        {
            muxer = Some(Muxer::new(w, h, sps, pps)?);
        }
        let Some(mux) = muxer.as_mut() else {
            // Nothing can be written before the parameter sets: the first frame is a key
            // frame with them, or the encoder is not working.
            return Err(ExportError::H264Output(
                "the first frame carried no SPS / PPS",
            ));
        };
        if access.sample.is_empty() {
            if let Some(p) = pending.as_mut() {
                p.1 += duration;
            }
            return Ok(());
        }
        if let Some((bytes, d, sync)) = pending.replace((access.sample, duration, is_sync)) {
            mux.sample(bytes, d, sync)?;
        }
        Ok(())
    })?;
    let mut mux = muxer.ok_or(ExportError::H264Output("no frame"))?;
    if let Some((bytes, d, sync)) = pending {
        mux.sample(bytes, d, sync)?;
    }
    mux.finish()
}
