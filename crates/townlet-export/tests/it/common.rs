//! What the export tests share: a world, an episode walking through it, pixels of frames.

use townlet_export::{ExportOptions, ExportWorld, cell_centre};
use townlet_recording::{AffordancePosition, LiveEpisode, RecordedStep};

pub fn world() -> ExportWorld {
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
pub fn episode() -> LiveEpisode {
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

pub fn rgb(frame: &[u8], w: u32, (x, y): (u32, u32)) -> [u8; 3] {
    let o = ((y * w + x) * 3) as usize;
    [frame[o], frame[o + 1], frame[o + 2]]
}

/// A pixel well inside the agent's disc but off the mark drawn on it (for a move right
/// or down, or WAIT's letter): left of centre by a fifth of a cell, so a video's blurred
/// colour edges stay away from it too.
pub fn agent_pixel(opts: &ExportOptions, pos: (i32, i32)) -> (u32, u32) {
    let (cx, cy) = cell_centre(opts, pos.0, pos.1);
    (cx - opts.cell / 5, cy)
}
