//! Deterministic example messages: the literal examples in `docs/protocol.md` and the
//! fixtures the frontend's tests replay (`frontend/e2e/fixtures/protocol.json`, built by
//! [`frontend_fixtures`]). This crate's tests check both are current; regenerate them with
//! `TOWNLET_BLESS=1 cargo test -p townlet-protocol`.
//!
//! Episodes are synthetic (a small hand-written walk over the shipped L1 vocabulary), not
//! produced by the environment: they only have to look like real ones to a viewer.

use crate::client::{ClientMessage, Delivery, Filter, Order, RecordingFilters, Speed};
use crate::error::ErrorCode;
use crate::probe::{ObservationParts, ProbeNetwork, ProbeResult, ProbedState};
use crate::server::*;
use std::collections::BTreeMap;

/// Meters of every shipped pack, in index order (docs/packs.md#meters-of-the-shipped-packs).
const METERS: [(&str, MeterTier, f32, f32); 8] = [
    ("energy", MeterTier::Pivotal, 1.0, 0.005),
    ("hygiene", MeterTier::Secondary, 1.0, 0.003),
    ("satiation", MeterTier::Primary, 1.0, 0.004),
    ("money", MeterTier::Resource, 0.5, 0.0),
    ("mood", MeterTier::Primary, 1.0, 0.001),
    ("social", MeterTier::Secondary, 1.0, 0.006),
    ("health", MeterTier::Pivotal, 1.0, 0.0),
    ("fitness", MeterTier::Primary, 1.0, 0.002),
];

const ACTIONS: [&str; 8] = [
    "UP", "DOWN", "LEFT", "RIGHT", "INTERACT", "WAIT", "REST", "MEDITATE",
];

/// Name, hours, and the meter it restores (index) with the amount per interaction.
const AFFORDANCES: [(&str, [u8; 2], usize, f32); 14] = [
    ("Bed", [0, 24], 0, 0.5),
    ("LuxuryBed", [0, 24], 0, 0.75),
    ("Shower", [0, 24], 1, 0.4),
    ("HomeMeal", [0, 24], 2, 0.45),
    ("FastFood", [0, 24], 2, 0.45),
    ("Doctor", [8, 18], 6, 0.25),
    ("Hospital", [0, 24], 6, 0.4),
    ("Therapist", [8, 18], 4, 0.4),
    ("Recreation", [8, 22], 4, 0.25),
    ("Bar", [18, 28], 5, 0.5),
    ("Job", [8, 18], 3, 0.225),
    ("Labor", [8, 18], 3, 0.15),
    ("Gym", [6, 22], 7, 0.3),
    ("Park", [6, 22], 7, 0.2),
];

/// (source, target, threshold) of the shipped cascades
/// (docs/packs.md#cascades-of-the-shipped-packs).
const CASCADES: [(&str, &str, f32); 10] = [
    ("satiation", "health", 0.3),
    ("satiation", "energy", 0.3),
    ("mood", "energy", 0.3),
    ("hygiene", "satiation", 0.3),
    ("hygiene", "fitness", 0.3),
    ("hygiene", "mood", 0.3),
    ("social", "mood", 0.3),
    ("hygiene", "health", 0.3),
    ("hygiene", "energy", 0.3),
    ("social", "energy", 0.3),
];

/// A fixed point in time for examples (2026-01-01T00:00:00Z), so the doc is stable.
pub const EXAMPLE_EPOCH_MS: u64 = 1_767_225_600_000;

/// Small deterministic generator (SplitMix64): examples must not depend on `rand`.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Rounds to 3 decimals so examples stay short and readable.
fn r3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

/// The run id of single-run examples (a plain `townlet-demo`).
pub const MAIN_RUN: &str = "main";
/// The lab of the examples: its title and its two runs' ids.
pub const LAB_TITLE: &str = "Does curiosity help?";
pub const LAB_RUNS: [&str; 2] = ["with-curiosity", "epsilon-only"];

/// A run picker entry with a plausible sparkline for `episodes` episodes.
pub fn run_info(id: &str, name: &str, status: RunStatus, episodes: u64) -> RunInfo {
    let mut overrides = BTreeMap::new();
    if id == LAB_RUNS[1] {
        overrides.insert("exploration.initial_intrinsic_weight".into(), "0".into());
    }
    // Up to 50 on a real server; 8 keep the examples short.
    let points = episodes.min(8);
    let sparkline = (0..points)
        .map(|i| {
            let trend = ((i + 1) as f32 / points as f32).sqrt();
            let slope = if overrides.is_empty() { 260.0 } else { 180.0 };
            (45.0 + trend * slope + Mix(i + episodes).unit() * 20.0).round()
        })
        .collect::<Vec<f32>>();
    RunInfo {
        id: id.into(),
        name: name.into(),
        pack: "L1_full_observability".into(),
        seed: 1,
        overrides,
        status,
        mode: Mode::Live,
        episodes,
        best_survival: (episodes > 0).then_some(if id == LAB_RUNS[1] { 401 } else { 500 }),
        mean_survival_100: sparkline
            .last()
            .map(|&m| (f64::from(m) * 10.0).round() / 10.0),
        curriculum_stage: 1 + (episodes / 400).min(4) as u32,
        sparkline,
    }
}

/// The runs of the example lab (one still training, one finished).
pub fn lab_runs() -> Vec<RunInfo> {
    vec![
        run_info(LAB_RUNS[0], "with curiosity", RunStatus::Live, 1234),
        run_info(LAB_RUNS[1], "epsilon only", RunStatus::Finished, 1000),
    ]
}

/// `hello` of a viewer watching lab run `run_id` (one of [`LAB_RUNS`]).
pub fn lab_hello(run_id: &str) -> Hello {
    Hello {
        run_id: run_id.into(),
        runs: lab_runs(),
        lab_title: Some(LAB_TITLE.into()),
        ..hello(false)
    }
}

/// `hello` for an L1-like (or, with `temporal`, L3-like) pack, single run `main`.
pub fn hello(temporal: bool) -> Hello {
    let mut run = run_info(MAIN_RUN, "2026-01-01_000000", RunStatus::Live, 1234);
    if temporal {
        run.pack = "L3_temporal_mechanics".into();
    }
    Hello {
        protocol_version: crate::PROTOCOL_VERSION,
        run_id: MAIN_RUN.into(),
        runs: vec![run],
        lab_title: None,
        mode: Mode::Live,
        pack: if temporal {
            "L3_temporal_mechanics".into()
        } else {
            "L1_full_observability".into()
        },
        grid: GridSize {
            width: 8,
            height: 8,
        },
        meters: METERS
            .iter()
            .map(|(name, tier, _, _)| MeterInfo {
                name: (*name).into(),
                tier: *tier,
            })
            .collect(),
        actions: ACTIONS.iter().map(|a| (*a).into()).collect(),
        affordances: AFFORDANCES
            .iter()
            .map(|(name, hours, _, _)| AffordanceInfo {
                name: (*name).into(),
                operating_hours: *hours,
            })
            .collect(),
        cascades: CASCADES
            .iter()
            .map(|(s, t, th)| CascadeInfo {
                source: (*s).into(),
                target: (*t).into(),
                threshold: *th,
            })
            .collect(),
        temporal,
        max_steps_per_episode: 500,
        max_episodes: Some(10_000),
        totals: Totals {
            episodes_trained: 1234,
            steps_trained: 187_400,
            episodes_streamed: 1234,
            dropped: 3,
        },
        limits: Limits::default(),
        session: SessionInfo {
            delivery: Delivery::Episode,
            speed: Speed::Factor(1.0),
            filter: Filter::All,
            greedy: false,
        },
        role: crate::Role::Viewer,
    }
}

/// The fixed L1 layout used by examples: each affordance on its own cell.
pub fn layout(seed: u64) -> Vec<AffordancePosition> {
    let mut cells: Vec<(i32, i32)> = (0..8).flat_map(|x| (0..8).map(move |y| (x, y))).collect();
    let mut rng = Mix(seed ^ 0x5EED);
    for i in (1..cells.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        cells.swap(i, j);
    }
    AFFORDANCES
        .iter()
        .zip(cells)
        .map(|((name, ..), (x, y))| AffordancePosition {
            name: (*name).into(),
            x,
            y,
        })
        .collect()
}

/// A synthetic episode of at most `max_steps` steps: the agent wanders towards whichever
/// affordance restores its lowest meter; it dies when energy or health reaches 0, else
/// the episode is truncated at `max_steps`.
pub fn episode(episode_id: u64, max_steps: u32, temporal: bool) -> Episode {
    let mut rng = Mix(episode_id.wrapping_mul(7919).wrapping_add(17));
    let layout = layout(0);
    let mut meters: Vec<f32> = METERS.iter().map(|m| m.2).collect();
    let mut pos = [rng.below(8) as i32, rng.below(8) as i32];
    let mut hour: u8 = 0;
    let start = StartState {
        position: pos,
        meters: meters.clone(),
        time_of_day: temporal.then_some(0),
    };
    // Depletion grows with the id so later "training" episodes are not all identical.
    let harshness = 1.0 + (episode_id % 7) as f32 * 0.6;
    let epsilon = (0.9f32 * 0.999f32.powi(episode_id as i32)).max(0.05);
    let mut steps = StepColumns::default();
    let mut visits: BTreeMap<String, u32> = BTreeMap::new();
    let mut extrinsic = 0.0f32;
    let mut intrinsic = 0.0f32;
    let intrinsic_weight = 0.1f32;
    let mut progress = 0.0f32;
    let mut end_reason = EndReason::Truncated;
    for step in 1..=max_steps {
        // Target: the affordance restoring the lowest meter.
        let lowest = (0..meters.len())
            .filter(|&i| i != 3 || meters[3] < 0.2)
            .min_by(|&a, &b| meters[a].total_cmp(&meters[b]))
            .unwrap_or(0);
        let target = AFFORDANCES
            .iter()
            .position(|a| a.2 == lowest)
            .map(|i| (layout[i].x, layout[i].y))
            .unwrap_or((0, 0));
        let mask: Vec<bool> = (0..ACTIONS.len())
            .map(|a| match a {
                0 => pos[1] > 0,
                1 => pos[1] < 7,
                2 => pos[0] > 0,
                3 => pos[0] < 7,
                4 => layout.iter().any(|l| (l.x, l.y) == (pos[0], pos[1])),
                _ => true,
            })
            .collect();
        let greedy = if (pos[0], pos[1]) == target {
            4
        } else if pos[0] < target.0 {
            3
        } else if pos[0] > target.0 {
            2
        } else if pos[1] < target.1 {
            1
        } else {
            0
        };
        let explored = rng.unit() < epsilon;
        let action = if explored {
            let allowed: Vec<usize> = (0..mask.len()).filter(|&a| mask[a]).collect();
            allowed[rng.below(allowed.len() as u64) as usize]
        } else {
            greedy
        };
        let q_values: Vec<f32> = (0..ACTIONS.len())
            .map(|a| {
                let base = if a == greedy { 1.4 } else { 0.6 };
                r3(base + rng.unit() * 0.5)
            })
            .collect();
        // Apply the action.
        match action {
            0 => pos[1] -= 1,
            1 => pos[1] += 1,
            2 => pos[0] -= 1,
            3 => pos[0] += 1,
            _ => {}
        }
        if action < 4 {
            meters[0] -= 0.005;
            meters[1] -= 0.003;
            meters[2] -= 0.004;
        }
        let mut interacted = false;
        if action == 4
            && let Some(i) = layout.iter().position(|l| (l.x, l.y) == (pos[0], pos[1]))
        {
            let (name, _, meter, amount) = AFFORDANCES[i];
            if temporal {
                progress += 0.25;
                if progress >= 1.0 {
                    progress = 0.0;
                }
            }
            meters[meter] += amount;
            if meter != 3 {
                meters[3] -= 0.03;
            }
            *visits.entry(name.to_owned()).or_default() += 1;
            interacted = true;
        }
        if !interacted {
            progress = 0.0;
        }
        for (m, (_, _, _, rate)) in meters.iter_mut().zip(METERS) {
            *m -= rate * harshness;
        }
        if meters[2] < 0.3 {
            meters[6] -= 0.004 * harshness;
            meters[0] -= 0.005;
        }
        for m in meters.iter_mut() {
            *m = r3(m.clamp(0.0, 1.0));
        }
        let dead = meters[0] <= 0.0 || meters[6] <= 0.0;
        let reward = if dead { 0.0 } else { r3(meters[6] * meters[0]) };
        let novelty = r3(0.02 + rng.unit() * 0.08);
        extrinsic += reward;
        intrinsic += intrinsic_weight * novelty;
        if temporal {
            hour = (hour + 1) % 24;
        }
        steps.push(StepRow {
            step,
            position: pos,
            meters: meters.clone(),
            action: action as u8,
            reward,
            intrinsic_reward: novelty,
            done: dead,
            q_values: Some(q_values),
            epsilon: Some(r3(epsilon)),
            action_mask: Some(mask),
            explored,
            time_of_day: temporal.then_some(hour),
            interaction_progress: temporal.then_some(progress),
        });
        if dead {
            end_reason = EndReason::Died;
            break;
        }
    }
    let survival_steps = steps.len() as u32;
    let finished_at = EXAMPLE_EPOCH_MS + episode_id * 1500;
    Episode {
        run_id: MAIN_RUN.into(),
        episode_id,
        source: Source::Training,
        checkpoint_episode: None,
        agent_id: 0,
        metadata: EpisodeMetadata {
            survival_steps,
            total_reward: r3(extrinsic + intrinsic),
            extrinsic_reward: r3(extrinsic),
            intrinsic_reward: r3(intrinsic),
            curriculum_stage: 1 + (episode_id / 400).min(4) as u32,
            depletion_multiplier: 0.2,
            epsilon: r3(epsilon),
            intrinsic_weight,
            affordance_visits: visits,
            end_reason,
            // Seconds at the start: finished_at minus the episode's wall time.
            timestamp: (finished_at - u64::from(survival_steps)) as f64 / 1000.0,
            loss_mean: Some(0.0123),
            td_error_mean: Some(0.087),
            q_mean: Some(1.42),
            updates: survival_steps / 4,
        },
        layout,
        start,
        steps,
        finished_at,
        sent_at: finished_at + 4,
    }
}

/// The `episode_summary` of an episode.
pub fn summary_of(episode: &Episode) -> EpisodeSummary {
    episode.summary(episode.sent_at)
}

/// A chart history point of an episode.
pub fn history_point(episode: &Episode) -> HistoryPoint {
    episode.metadata.history_point(episode.episode_id)
}

/// A `stats` message; with `history_len > 0` it carries that many history points
/// (episodes `episodes_trained - history_len ..`), as the first stats of a connection.
pub fn stats(episodes_trained: u64, history_len: u64) -> Stats {
    let first = episodes_trained.saturating_sub(history_len);
    let history = (history_len > 0).then(|| {
        (first..episodes_trained)
            .map(|id| {
                // Cheap closed-form history so a 1000-point fixture stays fast to build.
                let mut rng = Mix(id);
                let trend = (id as f32 / 10.0).sqrt();
                let survival = (40.0 + trend * 12.0 + rng.unit() * 60.0) as u32;
                let epsilon = (0.9 * 0.999f32.powf(id as f32)).max(0.05);
                HistoryPoint {
                    episode_id: id,
                    survival_steps: survival,
                    total_reward: r3(survival as f32 * 0.61),
                    extrinsic_reward: r3(survival as f32 * 0.6),
                    epsilon: r3(epsilon),
                    intrinsic_weight: 0.1,
                    curriculum_stage: 1 + (id / 400).min(4) as u32,
                    end_reason: if rng.unit() < 0.9 {
                        EndReason::Died
                    } else {
                        EndReason::Truncated
                    },
                }
            })
            .collect()
    });
    Stats {
        run_id: MAIN_RUN.into(),
        episodes_trained,
        steps_trained: episodes_trained * 152,
        steps_per_second: 6120.5,
        epsilon: r3((0.9 * 0.999f32.powf(episodes_trained as f32)).max(0.05)),
        intrinsic_weight: 0.1,
        curriculum_stage: 1 + (episodes_trained / 400).min(4) as u32,
        depletion_multiplier: 0.2,
        queue_len: 0,
        dropped: 3,
        skipped: 0,
        last_loss: Some(0.0118),
        clients: 2,
        uptime_s: 61,
        history,
        sent_at: EXAMPLE_EPOCH_MS + 61_000,
    }
}

/// One example of every server message type, in [`ServerMessage::TYPES`] order: a viewer
/// of the example lab watching run `with-curiosity`.
pub fn server_examples() -> Vec<(&'static str, ServerMessage)> {
    let run = LAB_RUNS[0];
    let mut ep = episode(1234, 3, false);
    ep.run_id = run.into();
    let first = ep
        .step_message(0)
        .map(|m| m.row)
        .unwrap_or_else(unreachable_row);
    let mut checkpoint_ep = episode(17, 2, false);
    checkpoint_ep.run_id = run.into();
    checkpoint_ep.source = Source::Checkpoint;
    checkpoint_ep.checkpoint_episode = Some(5000);
    let mut stats_example = stats(1234, 2);
    stats_example.run_id = run.into();
    stats_example.history = stats_example
        .history
        .map(|h| h.into_iter().take(2).collect());
    let mut runs = lab_runs();
    runs[0].curriculum_stage += 1;
    vec![
        ("hello", ServerMessage::Hello(lab_hello(run))),
        (
            "runs",
            ServerMessage::Runs(RunsMessage {
                runs,
                lab_title: Some(LAB_TITLE.into()),
            }),
        ),
        (
            "episode_summary",
            ServerMessage::EpisodeSummary(summary_of(&ep)),
        ),
        ("episode", ServerMessage::Episode(ep.clone())),
        (
            "episode_start",
            ServerMessage::EpisodeStart(EpisodeStart {
                run_id: run.into(),
                episode_id: checkpoint_ep.episode_id,
                source: checkpoint_ep.source,
                checkpoint_episode: checkpoint_ep.checkpoint_episode,
                agent_id: 0,
                layout: checkpoint_ep.layout.iter().take(2).cloned().collect(),
                start: checkpoint_ep.start.clone(),
                total_steps: checkpoint_ep.steps.len() as u32,
                finished_at: checkpoint_ep.finished_at,
                sent_at: checkpoint_ep.sent_at,
            }),
        ),
        (
            "step",
            ServerMessage::Step(StepMessage {
                run_id: run.into(),
                episode_id: ep.episode_id,
                index: 0,
                row: first,
            }),
        ),
        (
            "episode_end",
            ServerMessage::EpisodeEnd(EpisodeEnd {
                run_id: run.into(),
                episode_id: checkpoint_ep.episode_id,
                source: checkpoint_ep.source,
                metadata: checkpoint_ep.metadata.clone(),
                sent_at: checkpoint_ep.sent_at + 400,
            }),
        ),
        ("stats", ServerMessage::Stats(stats_example)),
        (
            "model_loaded",
            ServerMessage::ModelLoaded(ModelLoaded {
                run_id: run.into(),
                checkpoint: "checkpoint_ep005000.ckpt".into(),
                checkpoint_episode: 5000,
                epsilon: 0.05,
                curriculum_stage: 3,
                depletion_multiplier: 0.5,
                loaded_at: EXAMPLE_EPOCH_MS + 90_000,
            }),
        ),
        (
            "recordings",
            ServerMessage::Recordings(Recordings {
                run_id: run.into(),
                items: vec![
                    recording_info(1200, "periodic", 212, 130.5, 2, EndReason::Died),
                    recording_info(
                        1100,
                        "stage_transition_before",
                        500,
                        401.2,
                        2,
                        EndReason::Truncated,
                    ),
                ],
                total: 2,
            }),
        ),
        ("probe", ServerMessage::Probe(probe_result(run))),
        (
            "error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::UnknownRun,
                message:
                    "no run `with-curiosty` on this server (runs: with-curiosity, epsilon-only)"
                        .into(),
                request: Some("watch".into()),
                run_id: None,
            }),
        ),
        (
            "training_events",
            ServerMessage::TrainingEvents(crate::TrainingEvents {
                run_id: run.into(),
                events: vec![crate::TrainingEventInfo {
                    time_ms: EXAMPLE_EPOCH_MS + 95_000,
                    episode: 1235,
                    who: "teacher".into(),
                    control: "epsilon".into(),
                    old: "schedule (0.4121)".into(),
                    new: "0.05".into(),
                }],
                full: false,
            }),
        ),
        (
            "presenting",
            ServerMessage::Presenting(crate::Presenting {
                active: true,
                state: Some(presenter_state(run)),
                sent_at: EXAMPLE_EPOCH_MS + 96_000,
            }),
        ),
    ]
}

/// The teacher's position in the examples.
pub fn presenter_state(run: &str) -> crate::PresenterState {
    crate::PresenterState {
        run_id: run.into(),
        episode_id: Some(1234),
        step: 57,
        playing: true,
        speed: Speed::Factor(2.0),
        overlays: vec!["q_values".into()],
    }
}

// `episode(_, 3, _)` always has a first step (max_steps ≥ 1); this keeps the example
// builder free of `unwrap`.
fn unreachable_row() -> StepRow {
    StepRow {
        step: 1,
        position: [0, 0],
        meters: vec![1.0; METERS.len()],
        action: 5,
        reward: 1.0,
        intrinsic_reward: 0.0,
        done: false,
        q_values: None,
        epsilon: None,
        action_mask: None,
        explored: false,
        time_of_day: None,
        interaction_progress: None,
    }
}

/// A `recordings` list entry.
pub fn recording_info(
    episode_id: u64,
    reason: &str,
    survival_steps: u32,
    extrinsic_reward: f32,
    curriculum_stage: u32,
    end_reason: EndReason,
) -> RecordingInfo {
    RecordingInfo {
        episode_id,
        reason: reason.into(),
        survival_steps,
        total_reward: extrinsic_reward + 1.5,
        extrinsic_reward,
        curriculum_stage,
        end_reason,
        timestamp: EXAMPLE_EPOCH_MS + episode_id * 1500,
        file_bytes: u64::from(survival_steps) * 31 + 120,
    }
}

/// One example of every client message type, in [`ClientMessage::TYPES`] order.
pub fn client_examples() -> Vec<(&'static str, ClientMessage)> {
    vec![
        (
            "subscribe",
            ClientMessage::Subscribe {
                delivery: Delivery::Episode,
                speed: Speed::Factor(2.0),
                filter: Filter::All,
            },
        ),
        (
            "next",
            ClientMessage::Next {
                after: Some(1234),
                order: Order::Latest,
            },
        ),
        ("get_episode", ClientMessage::GetEpisode { id: 1200 }),
        (
            "set_speed",
            ClientMessage::SetSpeed {
                speed: Speed::Instant,
            },
        ),
        ("pause", ClientMessage::Pause),
        ("resume", ClientMessage::Resume),
        ("step", ClientMessage::Step),
        ("jump_live", ClientMessage::JumpLive),
        (
            "set_filter",
            ClientMessage::SetFilter {
                filter: Filter::EveryNth { n: 10 },
            },
        ),
        ("set_policy", ClientMessage::SetPolicy { greedy: true }),
        (
            "list_recordings",
            ClientMessage::ListRecordings {
                filters: RecordingFilters {
                    stage: Some(2),
                    reason: Some("periodic".into()),
                    end_reason: None,
                    min_reward: Some(50.0),
                    max_reward: None,
                    limit: Some(20),
                },
            },
        ),
        (
            "load_replay",
            ClientMessage::LoadReplay { episode_id: 1200 },
        ),
        ("seek", ClientMessage::Seek { index: 120 }),
        (
            "watch",
            ClientMessage::Watch {
                run_id: LAB_RUNS[1].into(),
            },
        ),
        (
            "probe",
            ClientMessage::Probe {
                run_id: LAB_RUNS[0].into(),
                episode_id: 1234,
                step: 2,
                meters: Some(vec![0.2, 0.9, 0.8, 0.5, 1.0, 1.0, 1.0, 1.0]),
                time_of_day: None,
            },
        ),
        (
            "training_control",
            ClientMessage::TrainingControl {
                run_id: Some(LAB_RUNS[0].into()),
                control: crate::TrainingControl::SetEpsilon { value: Some(0.05) },
            },
        ),
        ("present", ClientMessage::Present { on: true }),
        (
            "presenter_state",
            ClientMessage::PresenterState {
                state: presenter_state(LAB_RUNS[0]),
            },
        ),
        ("follow", ClientMessage::Follow { on: false }),
    ]
}

/// A `probe` answer on a 3×3 corner of the town (real answers cover the whole grid):
/// the agent at `[1, 1]` next to a Bed at `[2, 1]`, low energy (a what-if).
pub fn probe_result(run: &str) -> ProbeResult {
    let mut mix = Mix(16);
    let side = 3u32;
    let meters = vec![0.2, 0.9, 0.8, 0.5, 1.0, 1.0, 1.0, 1.0];
    let mut q_values = Vec::new();
    let mut masks = Vec::new();
    for y in 0..side as i32 {
        for x in 0..side as i32 {
            let toward_bed = 2.0 - (2 - x).abs() as f32 - (1 - y).abs() as f32;
            let q: Vec<f32> = (0..ACTIONS.len())
                .map(|a| r3(10.0 + toward_bed + mix.unit() - if a == 3 { 0.0 } else { 0.8 }))
                .collect();
            let mut m = vec![true; ACTIONS.len()];
            m[0] = y != 0;
            m[2] = x != 0;
            m[4] = x == 2 && y == 1;
            q_values.push(q);
            masks.push(m);
        }
    }
    ProbeResult {
        run_id: run.into(),
        episode_id: 1234,
        step: 2,
        network: ProbeNetwork {
            after_episode: 1230,
            source: Source::Training,
            network_type: "simple".into(),
            exact: false,
        },
        state: ProbedState {
            position: [1, 1],
            meters: meters.clone(),
            time_of_day: None,
            what_if: true,
        },
        grid: GridSize {
            width: side,
            height: side,
        },
        q_values,
        masks,
        observation: ObservationParts {
            spatial_kind: "grid".into(),
            side,
            origin: [0, 0],
            spatial: vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
            position: vec![0.5, 0.5],
            meters,
            affordance: None,
            temporal: vec![0.0, 1.0, 0.0, 0.004],
        },
        compute_ms: 3.5,
    }
}

/// The fixture file the frontend's unit tests and e2e fixture server replay: one wire
/// example of every message (`server`, `client`, keyed by type) and a small stream
/// (`stream`: two `hello`s, a `stats` with 200 history points, episodes of L1 and of a
/// temporal pack, a long L1 episode, a replay, a `recordings` list, and a two-run lab:
/// `lab_hello_a`/`_b`, `lab_stats_a`/`_b` (history), `lab_episodes_a`/`_b`, `lab_runs`). Compact JSON, deterministic.
pub fn frontend_fixtures() -> String {
    use serde_json::{Map, Value};
    let wire = |m: &ServerMessage| -> Value {
        serde_json::from_str(&crate::to_json(m)).unwrap_or(Value::Null)
    };
    let mut server = Map::new();
    for (name, m) in server_examples() {
        server.insert(name.into(), wire(&m));
    }
    let mut client = Map::new();
    for (name, m) in client_examples() {
        client.insert(
            name.into(),
            serde_json::from_str(&m.to_json()).unwrap_or(Value::Null),
        );
    }
    let mut stream = Map::new();
    stream.insert(
        "hello_live".into(),
        wire(&ServerMessage::Hello(hello(false))),
    );
    stream.insert(
        "hello_temporal".into(),
        wire(&ServerMessage::Hello(hello(true))),
    );
    stream.insert(
        "stats_history".into(),
        wire(&ServerMessage::Stats(stats(1200, 200))),
    );
    let episodes: Vec<Value> = [
        (1195u64, 60u32),
        (1196, 80),
        (1197, 40),
        (1198, 70),
        (1199, 50),
    ]
    .iter()
    .map(|&(id, n)| wire(&ServerMessage::Episode(episode(id, n, false))))
    .collect();
    stream.insert("episodes".into(), Value::Array(episodes));
    let temporal: Vec<Value> = [(1198u64, 60u32), (1199, 48)]
        .iter()
        .map(|&(id, n)| wire(&ServerMessage::Episode(episode(id, n, true))))
        .collect();
    stream.insert("temporal_episodes".into(), Value::Array(temporal));
    // A long L1 episode (up to 500 steps) for measuring playback smoothness at 50×.
    stream.insert(
        "long_episode".into(),
        wire(&ServerMessage::Episode(episode(1190, 500, false))),
    );
    let mut replay = episode(1100, 64, false);
    replay.source = Source::Replay;
    stream.insert(
        "replay_episode".into(),
        wire(&ServerMessage::Episode(replay)),
    );
    stream.insert(
        "recordings".into(),
        wire(&ServerMessage::Recordings(Recordings {
            run_id: MAIN_RUN.into(),
            items: vec![
                recording_info(1150, "periodic", 212, 130.5, 3, EndReason::Died),
                recording_info(
                    1100,
                    "stage_transition_before",
                    64,
                    40.2,
                    3,
                    EndReason::Died,
                ),
                recording_info(1050, "performance_top", 500, 401.2, 2, EndReason::Truncated),
            ],
            total: 3,
        })),
    );
    // A lab of two runs: each run's hello, stats history and two episodes, and a `runs`.
    for (key, run) in [("a", LAB_RUNS[0]), ("b", LAB_RUNS[1])] {
        stream.insert(
            format!("lab_hello_{key}"),
            wire(&ServerMessage::Hello(lab_hello(run))),
        );
        let mut history = stats(1200, 100);
        history.run_id = run.into();
        stream.insert(
            format!("lab_stats_{key}"),
            wire(&ServerMessage::Stats(history)),
        );
        let offset = if key == "a" { 0 } else { 3 };
        let episodes: Vec<Value> = [(1198u64, 60u32), (1199, 70)]
            .iter()
            .map(|&(id, n)| {
                let mut ep = episode(id + offset, n, false);
                ep.episode_id = id;
                ep.run_id = run.into();
                wire(&ServerMessage::Episode(ep))
            })
            .collect();
        stream.insert(format!("lab_episodes_{key}"), Value::Array(episodes));
    }
    stream.insert(
        "lab_runs".into(),
        wire(&ServerMessage::Runs(RunsMessage {
            runs: lab_runs(),
            lab_title: Some(LAB_TITLE.into()),
        })),
    );
    let mut root = Map::new();
    root.insert(
        "protocol_version".into(),
        Value::from(crate::PROTOCOL_VERSION),
    );
    root.insert("server".into(), Value::Object(server));
    root.insert("client".into(), Value::Object(client));
    root.insert("stream".into(), Value::Object(stream));
    Value::Object(root).to_string() + "\n"
}
