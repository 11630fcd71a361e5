//! `training.yaml`: where the run writes (`run_metadata`), the world's size and rules
//! (`environment`), the learner (`population`, `training`), the curriculum, intrinsic
//! exploration, and recording (read in the `recording` module).

use super::recording;
use crate::types::{
    CurriculumConfig, CurriculumKind, DeviceKind, EnvironmentConfig, ExplorationConfig,
    GradientMode, LossKind, NetworkType, PopulationConfig, RecordingConfig, RunMetadata,
    TrainingConfig,
};
use crate::walk::{Errs, Obj, R, as_f64, as_int, as_list, as_nonempty, as_str};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeSet;

#[derive(Debug, Default)]
pub(super) struct TrainOut {
    pub run_metadata: Option<RunMetadata>,
    pub environment: Option<EnvironmentConfig>,
    pub population: Option<PopulationConfig>,
    pub curriculum: Option<CurriculumConfig>,
    pub exploration: Option<ExplorationConfig>,
    pub training: Option<TrainingConfig>,
    pub recording: Option<RecordingConfig>,
    /// `environment.partial_observability`, for cross checks even when other keys fail.
    pub pomdp: Option<bool>,
    pub grid_size: Option<u32>,
    pub temporal: Option<bool>,
    /// `Some(None)` = `enabled_affordances: null` (all); inner entries are (path, name).
    pub enabled: Option<Option<Vec<(String, String)>>>,
}

pub(super) fn parse(
    e: &mut Errs,
    file: &str,
    root: &Value,
    pack_name: &str,
    warnings: &mut Vec<String>,
) -> TrainOut {
    let mut out = TrainOut::default();
    let Some(mut o) = Obj::new(e, file, "", root) else {
        return out;
    };
    // run_metadata (optional)
    match o.opt_obj(e, "run_metadata") {
        Ok(None) => {
            out.run_metadata = Some(RunMetadata {
                output_subdir: pack_name.to_string(),
            })
        }
        Ok(Some(mut m)) => {
            let sub = match m.get_opt("output_subdir") {
                None => Some(pack_name.to_string()),
                Some(v) => as_nonempty(e, file, &m.key("output_subdir"), v).map(str::to_string),
            };
            m.finish(e);
            out.run_metadata = sub.map(|output_subdir| RunMetadata { output_subdir });
        }
        Err(()) => {}
    }

    if let Some(env) = o.req_obj(e, "environment") {
        environment(e, env, &mut out);
    }
    let mut network = None;
    if let Some(p) = o.req_obj(e, "population") {
        network = population(e, p, &mut out);
    }
    if let Some(c) = o.req_obj(e, "curriculum") {
        out.curriculum = curriculum(e, c);
    }
    if let Some(x) = o.req_obj(e, "exploration") {
        out.exploration = exploration(e, x);
    }
    if let Some(t) = o.req_obj(e, "training") {
        out.training = training(e, t, network, warnings);
    }
    // recording (optional)
    match o.opt_obj(e, "recording") {
        Ok(None) => out.recording = Some(RecordingConfig::default()),
        Ok(Some(r)) => out.recording = recording::parse(e, r),
        Err(()) => {}
    }
    o.finish(e);
    out
}

/// `environment:`; also keeps the values the cross-file checks need in `out`.
fn environment(e: &mut Errs, mut env: Obj, out: &mut TrainOut) {
    let file = env.file;
    let grid_size = env.req_int::<u32>(e, "grid_size", 1);
    let pomdp = env.req_bool(e, "partial_observability");
    let vision = env.req_int::<u32>(e, "vision_range", 0);
    let temporal = env.opt_bool(e, "enable_temporal_mechanics", false);
    let enabled: Option<Option<Vec<(String, String)>>> = match env.get_opt("enabled_affordances") {
        None => Some(None),
        Some(v) => {
            let key = env.key("enabled_affordances");
            as_list(e, file, &key, v).and_then(|items| {
                let mut names = Some(Vec::new());
                let mut seen = BTreeSet::new();
                for (p, item) in &items {
                    match as_str(e, file, p, item) {
                        Some(s) if !seen.insert(s.to_string()) => {
                            e.push(file, p, format!("'{s}' is listed twice"));
                            names = None;
                        }
                        Some(s) => {
                            if let Some(l) = names.as_mut() {
                                l.push((p.clone(), s.to_string()));
                            }
                        }
                        None => names = None,
                    }
                }
                names.map(Some)
            })
        }
    };
    let mv = env.req_f32(e, "energy_move_depletion", R::In(0.0, 1.0));
    let wait = env.req_f32(e, "energy_wait_depletion", R::In(0.0, 1.0));
    let interact = env.req_f32(e, "energy_interact_depletion", R::In(0.0, 1.0));
    let lifespan = env.opt_int::<u32>(e, "agent_lifespan", 1000, 1);
    env.finish(e);
    let mut wait_ok = true;
    if let (Some(m), Some(w)) = (mv, wait)
        && w >= m
    {
        e.push(
            file,
            "environment.energy_wait_depletion",
            format!("{w} must be less than environment.energy_move_depletion ({m})"),
        );
        wait_ok = false;
    }
    out.pomdp = pomdp;
    out.grid_size = grid_size;
    out.temporal = temporal;
    out.enabled = enabled.clone();
    if let (Some(g), Some(p), Some(v), Some(t), Some(en), Some(m), Some(w), Some(i), Some(l)) = (
        grid_size, pomdp, vision, temporal, enabled, mv, wait, interact, lifespan,
    ) && wait_ok
    {
        out.environment = Some(EnvironmentConfig {
            grid_size: g,
            partial_observability: p,
            vision_range: v,
            enable_temporal_mechanics: t,
            enabled_affordances: en.map(|l| l.into_iter().map(|(_, n)| n).collect()),
            energy_move_depletion: m,
            energy_wait_depletion: w,
            energy_interact_depletion: i,
            agent_lifespan: l,
        });
    }
}

/// `population:`; returns the network type (the `training:` defaults depend on it).
fn population(e: &mut Errs, mut p: Obj, out: &mut TrainOut) -> Option<NetworkType> {
    let file = p.file;
    let n = p.req_int::<usize>(e, "num_agents", 1);
    let lr = p.req_f64(e, "learning_rate", R::Gt(0.0));
    let gamma = p.req_f64(e, "gamma", R::In(0.0, 1.0));
    let cap = p.req_int::<usize>(e, "replay_buffer_capacity", 1);
    let network: Option<NetworkType> = p.req_word(e, "network_type");
    p.finish(e);
    if network == Some(NetworkType::Recurrent) && out.pomdp == Some(false) {
        e.push(
            file,
            "population.network_type",
            "'recurrent' requires environment.partial_observability: true",
        );
    }
    if let (Some(n), Some(lr), Some(g), Some(c), Some(net)) = (n, lr, gamma, cap, network) {
        out.population = Some(PopulationConfig {
            num_agents: n,
            learning_rate: lr,
            gamma: g,
            replay_buffer_capacity: c,
            network_type: net,
        });
    }
    network
}

fn curriculum(e: &mut Errs, mut c: Obj) -> Option<CurriculumConfig> {
    let file = c.file;
    let max_steps = c.req_int::<u32>(e, "max_steps_per_episode", 1);
    let adv = c.req_f64(e, "survival_advance_threshold", R::In(0.0, 1.0));
    let ret = c.req_f64(e, "survival_retreat_threshold", R::In(0.0, 1.0));
    let gate: Option<Option<f64>> = match c.req(e, "entropy_gate") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => as_f64(e, file, "curriculum.entropy_gate", v, R::In(0.0, 1.0)).map(Some),
    };
    // `min_steps_at_stage` is the original name; it always counted episodes.
    let new = c.get("min_episodes_at_stage");
    let old = c.get("min_steps_at_stage");
    let min_eps: Option<u32> = match (new, old) {
        (Some(_), Some(_)) => {
            e.push(
                file,
                "curriculum.min_steps_at_stage",
                "give either min_episodes_at_stage or its alias min_steps_at_stage, not both",
            );
            None
        }
        (Some(v), None) => as_int(e, file, "curriculum.min_episodes_at_stage", v, 0),
        (None, Some(v)) => as_int(e, file, "curriculum.min_steps_at_stage", v, 0),
        (None, None) => {
            e.push(
                file,
                "curriculum.min_episodes_at_stage",
                "required key is missing",
            );
            None
        }
    };
    let window: Option<u32> = match c.get_opt("evaluation_window") {
        None => min_eps.map(|m| m.clamp(1, 100)),
        Some(v) => as_int(e, file, "curriculum.evaluation_window", v, 1),
    };
    let kind = c.opt_word(e, "kind", CurriculumKind::Adversarial);
    let stage: Option<u8> = match c.get_opt("static_stage") {
        None => Some(4),
        Some(v) => as_int::<u8>(e, file, "curriculum.static_stage", v, 1).and_then(|s| {
            if s > 5 {
                e.push(
                    file,
                    "curriculum.static_stage",
                    format!("{s} is outside 1..5"),
                );
                None
            } else {
                Some(s)
            }
        }),
    };
    c.finish(e);
    if let (Some(m), Some(a), Some(r), Some(g), Some(me), Some(w), Some(k), Some(s)) =
        (max_steps, adv, ret, gate, min_eps, window, kind, stage)
    {
        Some(CurriculumConfig {
            max_steps_per_episode: m,
            survival_advance_threshold: a,
            survival_retreat_threshold: r,
            entropy_gate: g,
            min_episodes_at_stage: me,
            evaluation_window: w,
            kind: k,
            static_stage: s,
        })
    } else {
        None
    }
}

fn exploration(e: &mut Errs, mut x: Obj) -> Option<ExplorationConfig> {
    let embed = x.req_int::<usize>(e, "embed_dim", 1);
    let w0 = x.req_f64(e, "initial_intrinsic_weight", R::Ge(0.0));
    let var = x.req_f64(e, "variance_threshold", R::Ge(0.0));
    let sw = x.req_int::<usize>(e, "survival_window", 1);
    let rnd_lr = x.opt_f64(e, "rnd_learning_rate", 1e-4, R::Gt(0.0));
    let rnd_bs = x.opt_int::<usize>(e, "rnd_batch_size", 128, 1);
    let decay = x.opt_f64(e, "intrinsic_decay", 0.99, R::InOpenLo(0.0, 1.0));
    let wmin = x.opt_f64(e, "min_intrinsic_weight", 0.0, R::Ge(0.0));
    let msa = x.opt_f64(e, "min_survival_for_annealing", 50.0, R::Ge(0.0));
    x.finish_with(e, |k| {
        k.starts_with("epsilon_")
            .then_some("epsilon_* belong under training:")
    });
    if let (
        Some(embed_dim),
        Some(initial_intrinsic_weight),
        Some(variance_threshold),
        Some(survival_window),
        Some(rnd_learning_rate),
        Some(rnd_batch_size),
        Some(intrinsic_decay),
        Some(min_intrinsic_weight),
        Some(min_survival_for_annealing),
    ) = (embed, w0, var, sw, rnd_lr, rnd_bs, decay, wmin, msa)
    {
        Some(ExplorationConfig {
            embed_dim,
            initial_intrinsic_weight,
            variance_threshold,
            survival_window,
            rnd_learning_rate,
            rnd_batch_size,
            intrinsic_decay,
            min_intrinsic_weight,
            min_survival_for_annealing,
        })
    } else {
        None
    }
}

/// `training.device`: the two built backends plus the words packs may still use.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DeviceWord {
    Flex,
    Ndarray,
    /// The original's name for the CPU backend: flex.
    Cpu,
    /// Not built: flex, with a warning.
    Cuda,
}

fn training(
    e: &mut Errs,
    mut t: Obj,
    network: Option<NetworkType>,
    warnings: &mut Vec<String>,
) -> Option<TrainingConfig> {
    let file = t.file;
    let device = t.opt_word(e, "device", DeviceWord::Flex).map(|d| match d {
        DeviceWord::Ndarray => DeviceKind::Ndarray,
        DeviceWord::Cuda => {
            warnings.push(format!(
                "{file}: training.device: 'cuda' is not built; using flex"
            ));
            DeviceKind::Flex
        }
        DeviceWord::Flex | DeviceWord::Cpu => DeviceKind::Flex,
    });
    let max_episodes: Option<Option<u64>> = match t.get_opt("max_episodes") {
        None => Some(None),
        Some(v) => as_int::<u64>(e, file, "training.max_episodes", v, 1).map(Some),
    };
    let train_freq = t.req_int::<u32>(e, "train_frequency", 1);
    let target_freq = t.req_int::<u32>(e, "target_update_frequency", 1);
    let grad = t.req_f64(e, "max_grad_norm", R::Gt(0.0));
    let default_bs = if network == Some(NetworkType::Recurrent) {
        16
    } else {
        64
    };
    let bs = t.opt_int::<usize>(e, "batch_size", default_bs, 1);
    let seq = t.opt_int::<usize>(e, "sequence_length", 8, 1);
    let eps_start = t.req_f64(e, "epsilon_start", R::In(0.0, 1.0));
    let eps_decay = t.req_f64(e, "epsilon_decay", R::InOpenLo(0.0, 1.0));
    let eps_min = t.req_f64(e, "epsilon_min", R::In(0.0, 1.0));
    let mut eps_ok = true;
    if let (Some(s), Some(m)) = (eps_start, eps_min)
        && m > s
    {
        e.push(
            file,
            "training.epsilon_min",
            format!("{m} is greater than training.epsilon_start ({s})"),
        );
        eps_ok = false;
    }
    let ckpt = t.opt_int::<u64>(e, "checkpoint_interval", 100, 1);
    let keep = t.opt_int::<usize>(e, "keep_checkpoints", 5, 0);
    let snap = t.opt_int::<u64>(e, "snapshot_interval", 10, 1);
    let seed = t.opt_int::<u64>(e, "seed", 0, 0);
    let loss = t.opt_word(e, "loss", LossKind::Mse);
    let huber = t.opt_f64(e, "huber_delta", 1.0, R::Gt(0.0));
    let ddqn = t.opt_bool(e, "double_dqn", false);
    let gradients = t.opt_word(e, "gradients", GradientMode::Manual);
    let overlap = t.opt_bool(e, "overlap_updates", true);
    let adam = t.opt_f64(e, "adam_epsilon", 1e-8, R::Gt(0.0));
    let burn_in = t.opt_int::<usize>(e, "burn_in", 0, 0);
    let reshuffle: Option<Option<u64>> = match t.get("reshuffle_layout_at_episode") {
        None => Some(Some(5000)),
        Some(Value::Null) => Some(None),
        Some(v) => as_int::<u64>(e, file, "training.reshuffle_layout_at_episode", v, 0).map(Some),
    };
    t.finish(e);
    if let (
        Some(device),
        Some(max_episodes),
        Some(train_frequency),
        Some(target_update_frequency),
        Some(max_grad_norm),
        Some(batch_size),
        Some(sequence_length),
        Some(epsilon_start),
        Some(epsilon_decay),
        Some(epsilon_min),
        Some(checkpoint_interval),
        Some(keep_checkpoints),
        Some(snapshot_interval),
        Some(seed),
        Some(loss),
        Some(huber_delta),
        Some(double_dqn),
        Some(gradients),
        Some(overlap_updates),
        Some(adam_epsilon),
        Some(burn_in),
        Some(reshuffle_layout_at_episode),
    ) = (
        device,
        max_episodes,
        train_freq,
        target_freq,
        grad,
        bs,
        seq,
        eps_start,
        eps_decay,
        eps_min,
        ckpt,
        keep,
        snap,
        seed,
        loss,
        huber,
        ddqn,
        gradients,
        overlap,
        adam,
        burn_in,
        reshuffle,
    ) && eps_ok
    {
        Some(TrainingConfig {
            device,
            max_episodes,
            train_frequency,
            target_update_frequency,
            max_grad_norm,
            batch_size,
            sequence_length,
            epsilon_start,
            epsilon_decay,
            epsilon_min,
            checkpoint_interval,
            keep_checkpoints,
            snapshot_interval,
            seed,
            loss,
            huber_delta,
            double_dqn,
            gradients,
            overlap_updates,
            adam_epsilon,
            burn_in,
            reshuffle_layout_at_episode,
        })
    } else {
        None
    }
}
