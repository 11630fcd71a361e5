//! The episode loop: [`DemoRunner::run`] plays training episodes (begin → steps → finish),
//! checkpoints between them and plays the greedy evaluations that are due.

use super::metrics::{elapsed_ns, now_ms};
use super::{DemoRunner, EpisodeReport, RunSummary, RunnerError};
use crate::threads::thread_cpu_time_ns;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;
use townlet_agent::{ActDecision, StepFeedback};
use townlet_env::Env;
use townlet_recording::{
    AffordancePosition, EndReason, EpisodeMetadata, EpisodeMetrics, RecordedStep, StartState,
};

/// One training episode in progress: the values in force while it is played (captured
/// before the end-of-episode updates change them) and agent 0's running totals (agent 0
/// is the one recorded and streamed).
struct Episode {
    id: u64,
    started: Instant,
    cpu_at_start: u64,
    stage: u8,
    multiplier: f32,
    epsilon: f64,
    intrinsic_weight: f64,
    steps: u32,
    /// Per agent: the step on which it was last active.
    lengths: Vec<u32>,
    end_reason: Option<EndReason>,
    extrinsic: f32,
    intrinsic: f32,
    interactions: Vec<String>,
    visits: BTreeMap<String, u32>,
}

impl DemoRunner {
    /// Run episodes until `max_episodes` or a stop request, then write the final
    /// checkpoint and drain the recorder. `on_episode` sees each finished episode.
    pub fn run(
        &mut self,
        on_episode: &mut dyn FnMut(&EpisodeReport),
    ) -> Result<RunSummary, RunnerError> {
        let start_episode = self.next_episode;
        let mut interrupted = false;
        let mut saved_at: Option<u64> = None;
        while self.next_episode < self.max_episodes {
            if self.stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let e = self.next_episode;
            self.apply_pending_controls(e)?;
            if self.stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let mut report = self.run_episode(e)?;
            let was_interrupted = report.end_reason == EndReason::Interrupted;
            if let Some(ev) = self.evaluation
                && !was_interrupted
                && (e + 1).is_multiple_of(ev.every.max(1))
            {
                report.evaluation = Some(self.evaluate(ev.episodes)?);
            }
            on_episode(&report);
            if !was_interrupted {
                self.offer_snapshot(e);
            }
            self.next_episode = e + 1;
            let last = self.next_episode >= self.max_episodes;
            if was_interrupted
                || last
                || e.is_multiple_of(self.pack.training.checkpoint_interval.max(1))
            {
                self.save_checkpoint(e)?;
                saved_at = Some(e);
            }
            if was_interrupted {
                interrupted = true;
                break;
            }
        }
        // A stop between episodes: make sure the newest state is on disk.
        if self.next_episode > start_episode && saved_at != Some(self.next_episode - 1) {
            self.save_checkpoint(self.next_episode - 1)?;
        }
        let status = if interrupted { "stopped" } else { "finished" };
        self.recorder.set_run_state("status", status)?;
        self.recorder.flush()?;
        Ok(RunSummary {
            run_dir: self.folder.dir.clone(),
            episodes_run: self.next_episode - start_episode,
            next_episode: self.next_episode,
            interrupted,
            last_checkpoint: self.last_checkpoint.clone(),
        })
    }

    fn run_episode(&mut self, e: u64) -> Result<EpisodeReport, RunnerError> {
        let mut ep = self.begin_episode(e);
        self.play_episode(&mut ep)?;
        self.finish_episode(ep)
    }

    /// Reset env and agent for episode `e` and open its recording.
    fn begin_episode(&mut self, e: u64) -> Episode {
        let started = Instant::now();
        let cpu_at_start = thread_cpu_time_ns();
        if self.pack.training.reshuffle_layout_at_episode == Some(e) && !self.reshuffled {
            self.env.randomize_layout();
            self.reshuffled = true;
        }
        let ep = Episode {
            id: e,
            started,
            cpu_at_start,
            stage: self.agent.stage(),
            multiplier: self.agent.multiplier(),
            epsilon: self.agent.epsilon(),
            intrinsic_weight: self.agent.intrinsic_weight(),
            steps: 0,
            lengths: vec![0; self.env.num_agents()],
            end_reason: None,
            extrinsic: 0.0,
            intrinsic: 0.0,
            interactions: Vec::new(),
            visits: BTreeMap::new(),
        };
        self.env.reset();
        self.agent.begin_episode();
        let layout: Vec<AffordancePosition> = self
            .env
            .layout()
            .into_iter()
            .map(|(name, [x, y])| AffordancePosition { name, x, y })
            .collect();
        let p0 = self.env.positions()[0];
        self.recorder.begin_episode(
            e,
            layout,
            StartState {
                position: (p0[0], p0[1]),
                meters: self.env.meters(0).to_vec(),
                time_of_day: self.env.temporal().then_some(self.env.time_of_day() as u8),
            },
        );
        ep
    }

    /// Step every agent until all are done, the step cap is reached or a stop is
    /// requested; the agent learns from each step and agent 0's steps are recorded.
    fn play_episode(&mut self, ep: &mut Episode) -> Result<(), RunnerError> {
        let n = self.env.num_agents();
        let a_dim = self.env.action_dim();
        let max_steps = self.pack.curriculum.max_steps_per_episode;
        let mut obs = vec![0.0f32; n * self.env.obs_dim()];
        let mut masks = vec![false; n * a_dim];
        let mut actions = vec![0u32; n];
        let mut active = vec![true; n];
        let mut terminal = vec![false; n];
        while ep.steps < max_steps {
            self.poll_controls(ep.id)?;
            if self
                .stop_after_steps
                .is_some_and(|k| self.steps_this_process >= k)
            {
                self.stop.store(true, Ordering::Relaxed);
            }
            if self.stop.load(Ordering::Relaxed) {
                ep.end_reason = Some(EndReason::Interrupted);
                break;
            }
            let t_obs = Instant::now();
            obs.copy_from_slice(self.env.observations());
            masks.copy_from_slice(self.env.action_masks());
            let mut env_ns = elapsed_ns(t_obs);
            let decisions = self.agent.act(&obs, &masks);
            for (i, dec) in decisions.iter().enumerate() {
                actions[i] = if active[i] { dec.action } else { 0 };
            }
            let t_env = Instant::now();
            let res = self.env.step(&actions, ep.multiplier)?;
            env_ns += elapsed_ns(t_env);
            self.phase.env_ns += env_ns;
            ep.steps += 1;
            self.steps_this_process += 1;
            for i in 0..n {
                terminal[i] = active[i] && res.dones[i];
            }
            let rewards = res.rewards.clone();
            let dones = res.dones.clone();
            let reason0 = res.end_reasons[0];
            let interaction0 = res.successful_interactions[0];
            self.agent.observe(
                StepFeedback {
                    obs: &obs,
                    next_obs: self.env.observations(),
                    rewards: &rewards,
                    terminal: &terminal,
                    active: &active,
                },
                &decisions,
            );
            if active[0] {
                self.record_agent0_step(
                    ep,
                    &decisions[0],
                    rewards[0],
                    dones[0],
                    interaction0,
                    &masks[..a_dim],
                )?;
            }
            for i in 0..n {
                if active[i] {
                    ep.lengths[i] = ep.steps;
                    if dones[i] {
                        active[i] = false;
                        if i == 0 {
                            ep.end_reason = Some(match reason0 {
                                Some(townlet_env::EndReason::Retired) => EndReason::Retired,
                                _ => EndReason::Died,
                            });
                        }
                    }
                }
            }
            if active.iter().all(|a| !a) {
                break;
            }
        }
        Ok(())
    }

    /// Add agent 0's step to the episode's totals and to its recording.
    fn record_agent0_step(
        &mut self,
        ep: &mut Episode,
        dec: &ActDecision,
        reward: f32,
        done: bool,
        interaction: Option<usize>,
        mask: &[bool],
    ) -> Result<(), RunnerError> {
        ep.extrinsic += reward;
        ep.intrinsic += (ep.intrinsic_weight as f32) * dec.novelty;
        if let Some(k) = interaction {
            let name = self.env.affordance_names()[k].clone();
            *ep.visits.entry(name.clone()).or_insert(0) += 1;
            ep.interactions.push(name);
        }
        let t_rec = Instant::now();
        let temporal = self.env.temporal();
        let pos = self.env.positions()[0];
        let progress = if temporal {
            self.env
                .current_interaction(0)
                .map(|p| p.ticks_done as f32 / p.required_ticks.max(1) as f32)
                .or(Some(0.0))
        } else {
            None
        };
        self.recorder.record_step(RecordedStep {
            step: ep.steps,
            position: (pos[0], pos[1]),
            meters: self.env.meters(0).to_vec(),
            action: dec.action as u8,
            reward,
            intrinsic_reward: dec.novelty,
            done,
            q_values: Some(dec.q_values.clone()),
            epsilon: Some(ep.epsilon as f32),
            action_mask: Some(mask.to_vec()),
            explored: dec.explored,
            time_of_day: temporal.then_some(self.env.time_of_day() as u8),
            interaction_progress: progress,
        })?;
        self.phase.record_ns += elapsed_ns(t_rec);
        Ok(())
    }

    /// Close the episode: the agent's end-of-episode updates (curriculum, annealing),
    /// the recording's metadata, and the report.
    fn finish_episode(&mut self, ep: Episode) -> Result<EpisodeReport, RunnerError> {
        let end_reason = ep.end_reason.unwrap_or(EndReason::Truncated);
        let interrupted = end_reason == EndReason::Interrupted;
        let t_end = Instant::now();
        let end = self.agent.end_episode(ep.id, &ep.lengths, interrupted);
        self.phase.episode_end_ns += elapsed_ns(t_end);
        let loss = self.agent.take_loss_summary();
        let metadata = EpisodeMetadata {
            survival_steps: ep.lengths[0],
            total_reward: ep.extrinsic + ep.intrinsic,
            extrinsic_reward: ep.extrinsic,
            intrinsic_reward: ep.intrinsic,
            curriculum_stage: u32::from(ep.stage),
            depletion_multiplier: ep.multiplier,
            epsilon: ep.epsilon as f32,
            intrinsic_weight: ep.intrinsic_weight as f32,
            affordance_visits: ep.visits,
            end_reason,
            timestamp: now_ms() as f64 / 1000.0,
            loss_mean: loss.loss_mean,
            td_error_mean: loss.td_error_mean,
            q_mean: loss.q_mean,
            updates: loss.updates,
        };
        let t_rec = Instant::now();
        self.recorder
            .finish_episode(metadata, EpisodeMetrics::from_interactions(ep.interactions))?;
        self.phase.record_ns += elapsed_ns(t_rec);
        self.phase.env_steps += u64::from(ep.steps);
        self.phase.total_ns += elapsed_ns(ep.started);
        self.phase.cpu_ns += thread_cpu_time_ns().saturating_sub(ep.cpu_at_start);
        let transition = end.transitions.iter().find(|t| t.agent == 0);
        if let Some(t) = transition {
            tracing::info!(
                "curriculum: episode {} stage {} → {} ({:?}, survival {:.2})",
                ep.id,
                t.from,
                t.to,
                t.reason,
                t.survival_mean
            );
        }
        Ok(EpisodeReport {
            episode: ep.id,
            length: ep.lengths[0],
            end_reason,
            extrinsic_reward: ep.extrinsic,
            intrinsic_reward: ep.intrinsic,
            stage: ep.stage,
            multiplier: ep.multiplier,
            epsilon: ep.epsilon,
            intrinsic_weight: ep.intrinsic_weight,
            total_steps: self.agent.total_steps(),
            loss_mean: loss.loss_mean,
            stage_changed_to: transition.map(|t| t.to),
            cpu_ns: thread_cpu_time_ns().saturating_sub(ep.cpu_at_start),
            wall_ns: ep.started.elapsed().as_nanos() as u64,
            evaluation: None,
        })
    }

    /// Greedy evaluation (docs/decisions.md#greedy-evaluation-in-learn-check): `episodes`
    /// episodes of one agent with ε = 0 in a copy of the training world (same layout, same
    /// stage), not trained on, recorded or streamed. Training continues afterwards exactly
    /// as it would have without it.
    pub fn evaluate(&mut self, episodes: u32) -> Result<Vec<u32>, RunnerError> {
        let mut env = Env::new(&self.pack, 1, self.seed ^ 0xe7a1_u64)?;
        env.set_layout(&self.env.layout())?;
        let multiplier = self.agent.multiplier();
        let cap = self.pack.curriculum.max_steps_per_episode;
        self.agent.isolated(|agent| {
            let mut lengths = Vec::with_capacity(episodes as usize);
            for _ in 0..episodes {
                env.reset();
                agent.reset_hidden();
                let mut t = 0;
                while t < cap {
                    let obs = env.observations().to_vec();
                    let masks = env.action_masks().to_vec();
                    let decision = agent.act_with(&obs, &masks, 0.0, false);
                    let action = decision.first().map_or(0, |d| d.action);
                    t += 1;
                    if env.step(&[action], multiplier)?.dones[0] {
                        break;
                    }
                }
                lengths.push(t);
            }
            Ok(lengths)
        })
    }
}
