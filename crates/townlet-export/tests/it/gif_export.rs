//! A recorded episode exports as an animated GIF: one frame per step, the agent drawn on
//! its cell in the first and the last frame, step ranges and bad options.

use crate::common::{agent_pixel, episode, rgb, world};
use townlet_export::{AGENT_RGB, ExportError, ExportOptions};

/// Every frame of a GIF, composed as a viewer shows it (RGB per pixel).
fn decode(bytes: &[u8]) -> (u32, Vec<Vec<u8>>) {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let mut dec = opts.read_info(bytes).expect("a GIF");
    let (w, h) = (u32::from(dec.width()), u32::from(dec.height()));
    let palette = dec.global_palette().expect("global palette").to_vec();
    let mut screen = vec![0u8; (w * h * 3) as usize];
    let mut frames = Vec::new();
    while let Some(f) = dec.read_next_frame().expect("frame") {
        for fy in 0..u32::from(f.height) {
            for fx in 0..u32::from(f.width) {
                let idx = f.buffer[(fy * u32::from(f.width) + fx) as usize] as usize;
                let (x, y) = (u32::from(f.left) + fx, u32::from(f.top) + fy);
                let o = ((y * w + x) * 3) as usize;
                screen[o..o + 3].copy_from_slice(&palette[idx * 3..idx * 3 + 3]);
            }
        }
        frames.push(screen.clone());
    }
    (w, frames)
}

#[test]
fn one_frame_per_step_with_the_agent_on_its_first_and_last_cells() {
    let ep = episode();
    let opts = ExportOptions::default();
    let bytes = townlet_export::episode_gif(&ep, &world(), &opts).expect("export");
    let (w, frames) = decode(&bytes);
    assert_eq!(frames.len(), ep.len(), "one frame per step");
    let first = ep.step(0).expect("first").position;
    let last = ep.step(ep.len() - 1).expect("last").position;
    assert_eq!(rgb(&frames[0], w, agent_pixel(&opts, first)), AGENT_RGB);
    assert_ne!(rgb(&frames[0], w, agent_pixel(&opts, last)), AGENT_RGB);
    let end = frames.last().expect("frames");
    assert_eq!(rgb(end, w, agent_pixel(&opts, last)), AGENT_RGB);
    assert_ne!(rgb(end, w, agent_pixel(&opts, first)), AGENT_RGB);
    // The composed frames equal the frames drawn directly.
    let drawn = townlet_export::frames(&ep, &world(), &opts).expect("frames");
    let (x, y) = agent_pixel(&opts, last);
    assert_eq!(drawn.last().and_then(|c| c.rgb(x, y)), Some(AGENT_RGB));
}

#[test]
fn a_step_range_exports_only_those_steps() {
    let ep = episode();
    let opts = ExportOptions {
        steps: Some(3..=5),
        fps: 10.0,
        ..ExportOptions::default()
    };
    let bytes = townlet_export::episode_gif(&ep, &world(), &opts).expect("export");
    let (w, frames) = decode(&bytes);
    assert_eq!(frames.len(), 3);
    let third = ep.step(2).expect("step 3").position;
    assert_eq!(rgb(&frames[0], w, agent_pixel(&opts, third)), AGENT_RGB);
}

#[test]
fn bad_options_are_errors_naming_the_value() {
    let ep = episode();
    let bad = |o: ExportOptions| townlet_export::episode_gif(&ep, &world(), &o).unwrap_err();
    let e = bad(ExportOptions {
        steps: Some(4..=12),
        ..ExportOptions::default()
    });
    assert!(
        matches!(e, ExportError::Range { to: 12, len: 9, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("4..=12"), "{e}");
    let e = bad(ExportOptions {
        fps: 0.0,
        ..ExportOptions::default()
    });
    assert!(e.to_string().contains("speed 0"), "{e}");
    let mut empty = episode();
    empty.steps = Default::default();
    let e = townlet_export::episode_gif(&empty, &world(), &ExportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no steps"), "{e}");
}
