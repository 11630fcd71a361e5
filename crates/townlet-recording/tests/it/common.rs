//! Shared helpers for the integration tests: synthetic L1-shaped episodes (8 meters,
//! 8 actions) fed through a recorder.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use townlet_config::RecordingConfig;
use townlet_recording::*;

pub const METERS: usize = 8;
pub const ACTIONS: usize = 8;

pub fn step(i: u32, seed: u64, done: bool) -> RecordedStep {
    let f = |k: u64| ((seed * 31 + i as u64 * 7 + k) % 1000) as f32 / 1000.0;
    RecordedStep {
        step: i + 1,
        position: ((i % 8) as i32, ((i / 8) % 8) as i32),
        meters: (0..METERS as u64).map(f).collect(),
        action: (i % ACTIONS as u32) as u8,
        reward: if done { -1.0 } else { 0.01 * f(99) },
        intrinsic_reward: f(50),
        done,
        q_values: Some((0..ACTIONS as u64).map(|k| f(k + 10) - 0.5).collect()),
        epsilon: Some(0.5),
        action_mask: Some(
            (0..ACTIONS)
                .map(|a| !(a + i as usize).is_multiple_of(3))
                .collect(),
        ),
        explored: i.is_multiple_of(4),
        time_of_day: if i.is_multiple_of(2) {
            Some((i % 24) as u8)
        } else {
            None
        },
        interaction_progress: if i.is_multiple_of(5) {
            Some(0.25)
        } else {
            None
        },
    }
}

pub fn steps(n: u32, seed: u64) -> Vec<RecordedStep> {
    (0..n).map(|i| step(i, seed, i + 1 == n)).collect()
}

pub fn layout() -> Vec<AffordancePosition> {
    ["Bed", "Shower", "Job", "Fridge"]
        .iter()
        .enumerate()
        .map(|(i, n)| AffordancePosition {
            name: n.to_string(),
            x: i as i32,
            y: 7 - i as i32,
        })
        .collect()
}

pub fn start() -> StartState {
    StartState {
        position: (3, 4),
        meters: vec![1.0; METERS],
        time_of_day: Some(6),
    }
}

pub fn metadata(episode: u64, stage: u32, reward: f32, n: u32) -> EpisodeMetadata {
    let mut visits = BTreeMap::new();
    visits.insert("Bed".to_string(), 2);
    visits.insert("Job".to_string(), 1);
    EpisodeMetadata {
        survival_steps: n,
        total_reward: reward + 0.5,
        extrinsic_reward: reward,
        intrinsic_reward: 0.5,
        curriculum_stage: stage,
        depletion_multiplier: 0.2 * stage as f32,
        epsilon: 1.0 / (1.0 + episode as f32),
        intrinsic_weight: 0.9,
        affordance_visits: visits,
        end_reason: EndReason::Died,
        timestamp: 1_700_000_000.0 + episode as f64,
        loss_mean: Some(0.125),
        td_error_mean: if episode.is_multiple_of(2) {
            Some(0.25)
        } else {
            None
        },
        q_mean: Some(1.5),
        updates: n / 4,
    }
}

pub fn metrics() -> EpisodeMetrics {
    EpisodeMetrics::from_interactions(["Bed", "Job", "Bed", "Bed"])
}

/// Records one full episode of `n` steps and returns what finish_episode returned.
pub fn run_episode(
    rec: &mut EpisodeRecorder,
    episode: u64,
    stage: u32,
    reward: f32,
    n: u32,
) -> Arc<LiveEpisode> {
    rec.begin_episode(episode, layout(), start());
    for s in steps(n, episode) {
        rec.record_step(s).unwrap();
    }
    rec.finish_episode(metadata(episode, stage, reward, n), metrics())
        .unwrap()
}

pub fn enabled_config() -> RecordingConfig {
    let mut c = RecordingConfig {
        enabled: true,
        ..RecordingConfig::default()
    };
    c.criteria.periodic.enabled = false;
    c
}

pub fn every_episode_config() -> RecordingConfig {
    let mut c = enabled_config();
    c.criteria.periodic.enabled = true;
    c.criteria.periodic.interval = 1;
    c
}
