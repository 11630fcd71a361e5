//! Episode export (docs/benchmarks.md#episode-export-issue-16-item-7): a 500-step episode
//! of the pack's world (a seeded random walk through the real environment, so the agent
//! moves, acts and every meter changes each step; a new life starts where one ends)
//! exported as an animated GIF and as an MP4 with the default options, each timed over a
//! few runs.

use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use townlet_export::{ExportOptions, ExportWorld};
use townlet_recording::{AffordancePosition, LiveEpisode, RecordedStep};

#[derive(Debug, Clone, Serialize)]
pub struct FormatReport {
    pub format: String,
    /// Seconds per export, one per run.
    pub seconds: Vec<f64>,
    pub bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub steps: usize,
    pub width: u32,
    pub height: u32,
    pub formats: Vec<FormatReport>,
}

/// The walk: `steps` seeded random actions among those the mask allows.
pub fn episode(pack: &Path, steps: usize, seed: u64) -> Result<(LiveEpisode, ExportWorld)> {
    let pack = townlet_config::load_pack(pack)
        .with_context(|| format!("loading the pack {}", pack.display()))?;
    let mut env = townlet_env::Env::new(&pack, 1, seed)?;
    env.reset();
    let world = ExportWorld {
        grid: env.grid_size(),
        meters: env.meter_names().to_vec(),
        actions: env.action_names().to_vec(),
    };
    let layout = env
        .layout()
        .into_iter()
        .map(|(name, [x, y])| AffordancePosition { name, x, y })
        .collect();
    let mut ep = LiveEpisode {
        episode_id: 1,
        agent_id: 0,
        metadata: Default::default(),
        layout,
        start: Default::default(),
        steps: Default::default(),
        finished_at: 0,
    };
    // xorshift64*: enough for a walk, and the same walk for a seed everywhere.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for i in 0..steps {
        let allowed: Vec<u32> = env
            .action_masks()
            .iter()
            .zip(0u32..)
            .filter_map(|(&ok, a)| ok.then_some(a))
            .collect();
        let action = match allowed.len() {
            0 => 0,
            n => allowed[(next() % n as u64) as usize],
        };
        let done = env.step(&[action], 1.0)?.dones[0];
        let [x, y] = env.positions()[0];
        let step = RecordedStep {
            step: i as u32 + 1,
            position: (x, y),
            meters: env.meters(0).to_vec(),
            action: action as u8,
            done,
            time_of_day: env.temporal().then(|| env.time_of_day() as u8),
            ..Default::default()
        };
        ep.steps.push(&step)?;
        if done {
            env.reset();
        }
    }
    Ok((ep, world))
}

pub fn run(pack: &Path, steps: usize, runs: usize, seed: u64) -> Result<ExportReport> {
    let (ep, world) = episode(pack, steps, seed)?;
    let opts = ExportOptions::default();
    let frame = townlet_export::frames(
        &ep,
        &world,
        &ExportOptions {
            steps: Some(1..=1),
            ..opts.clone()
        },
    )?;
    let (width, height) = frame.first().map_or((0, 0), |c| (c.width, c.height));
    type Export = fn(
        &LiveEpisode,
        &ExportWorld,
        &ExportOptions,
    ) -> Result<Vec<u8>, townlet_export::ExportError>;
    let formats: [(&str, Export); 2] = [
        ("GIF", townlet_export::episode_gif),
        ("MP4", townlet_export::episode_mp4),
    ];
    let mut out = Vec::new();
    for (format, export) in formats {
        let mut seconds = Vec::new();
        let mut bytes = 0;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            bytes = export(&ep, &world, &opts)?.len();
            seconds.push(t.elapsed().as_secs_f64());
        }
        out.push(FormatReport {
            format: format.into(),
            seconds,
            bytes,
        });
    }
    Ok(ExportReport {
        steps: ep.len(),
        width,
        height,
        formats: out,
    })
}

pub fn print(r: &ExportReport) {
    println!(
        "{} steps, {}×{} px frames, default options (40 px cells, 5 steps/s):",
        r.steps, r.width, r.height
    );
    for f in &r.formats {
        let times: Vec<String> = f.seconds.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "  {:4} {:>10} bytes ({:.2} MB) in {} s",
            f.format,
            f.bytes,
            f.bytes as f64 / 1e6,
            times.join(" / ")
        );
    }
    println!("(target: a 500-step L1 episode exports in under 5 s, each format)");
}
