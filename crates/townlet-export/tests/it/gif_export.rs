//! A recorded episode exports as an animated GIF: one frame per step, the agent drawn on
//! its cell in the first and the last frame, step ranges and bad options.

use townlet_export::{AGENT_RGB, ExportError, ExportOptions, ExportWorld, cell_centre};
use townlet_recording::{AffordancePosition, LiveEpisode, RecordedStep};

fn world() -> ExportWorld {
    ExportWorld {
        grid: 5,
        meters: ["energy", "hygiene", "satiation", "money"]
            .map(String::from)
            .to_vec(),
        actions: ["UP", "DOWN", "LEFT", "RIGHT", "INTERACT", "WAIT"]
            .map(String::from)
            .to_vec(),
    }
}

/// A walk along the top row, then down the right edge: 9 steps.
fn episode() -> LiveEpisode {
    let mut ep = LiveEpisode {
        episode_id: 42,
        agent_id: 0,
        metadata: Default::default(),
        layout: vec![AffordancePosition {
            name: "Bed".into(),
            x: 2,
            y: 2,
        }],
        start: Default::default(),
        steps: Default::default(),
        finished_at: 0,
    };
    let path: Vec<((i32, i32), u8)> = (1..5)
        .map(|x| ((x, 0), 3))
        .chain((1..5).map(|y| ((4, y), 1)))
        .chain(std::iter::once(((4, 4), 5)))
        .collect();
    for (i, (pos, action)) in path.into_iter().enumerate() {
        let s = RecordedStep {
            step: i as u32 + 1,
            position: pos,
            meters: vec![1.0 - 0.1 * i as f32, 0.5, 0.3, 0.1],
            action,
            ..Default::default()
        };
        ep.steps.push(&s).expect("step fits");
    }
    ep
}

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

fn rgb(frame: &[u8], w: u32, (x, y): (u32, u32)) -> [u8; 3] {
    let o = ((y * w + x) * 3) as usize;
    [frame[o], frame[o + 1], frame[o + 2]]
}

/// A pixel on the agent's disc but off the mark drawn on it: left of centre for a move
/// right or down, below centre for WAIT's letter.
fn agent_pixel(opts: &ExportOptions, pos: (i32, i32)) -> (u32, u32) {
    let (cx, cy) = cell_centre(opts, pos.0, pos.1);
    (cx - opts.cell / 4, cy + opts.cell / 5)
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
