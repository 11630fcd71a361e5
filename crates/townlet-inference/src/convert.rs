//! Recording types → protocol messages. Field names are the same on both sides, so this
//! is a one-to-one copy (streamed values equal the stored ones).

use townlet_protocol as proto;
use townlet_recording as rec;

pub fn end_reason(r: rec::EndReason) -> proto::EndReason {
    match r {
        rec::EndReason::Died => proto::EndReason::Died,
        rec::EndReason::Retired => proto::EndReason::Retired,
        rec::EndReason::Truncated => proto::EndReason::Truncated,
        rec::EndReason::Interrupted => proto::EndReason::Interrupted,
    }
}

pub fn metadata(m: &rec::EpisodeMetadata) -> proto::EpisodeMetadata {
    proto::EpisodeMetadata {
        survival_steps: m.survival_steps,
        total_reward: m.total_reward,
        extrinsic_reward: m.extrinsic_reward,
        intrinsic_reward: m.intrinsic_reward,
        curriculum_stage: m.curriculum_stage,
        depletion_multiplier: m.depletion_multiplier,
        epsilon: m.epsilon,
        intrinsic_weight: m.intrinsic_weight,
        affordance_visits: m.affordance_visits.clone(),
        end_reason: end_reason(m.end_reason),
        timestamp: m.timestamp,
        loss_mean: m.loss_mean,
        td_error_mean: m.td_error_mean,
        q_mean: m.q_mean,
        updates: m.updates,
    }
}

pub fn step_row(s: rec::RecordedStep) -> proto::StepRow {
    proto::StepRow {
        step: s.step,
        position: [s.position.0, s.position.1],
        meters: s.meters,
        action: s.action,
        reward: s.reward,
        intrinsic_reward: s.intrinsic_reward,
        done: s.done,
        q_values: s.q_values,
        epsilon: s.epsilon,
        action_mask: s.action_mask,
        explored: s.explored,
        time_of_day: s.time_of_day,
        interaction_progress: s.interaction_progress,
    }
}

pub fn layout(ep: &rec::LiveEpisode) -> Vec<proto::AffordancePosition> {
    ep.layout
        .iter()
        .map(|p| proto::AffordancePosition {
            name: p.name.clone(),
            x: p.x,
            y: p.y,
        })
        .collect()
}

pub fn start(ep: &rec::LiveEpisode) -> proto::StartState {
    proto::StartState {
        position: [ep.start.position.0, ep.start.position.1],
        meters: ep.start.meters.clone(),
        time_of_day: ep.start.time_of_day,
    }
}

/// The columnar step arrays of the wire format.
pub fn steps(ep: &rec::LiveEpisode) -> proto::StepColumns {
    ep.steps.iter().map(step_row).collect()
}

/// The whole `episode` message.
pub fn episode(
    run_id: &str,
    ep: &rec::LiveEpisode,
    source: proto::Source,
    checkpoint_episode: Option<u64>,
    sent_at: u64,
) -> proto::ServerMessage {
    proto::ServerMessage::Episode(proto::Episode {
        run_id: run_id.to_owned(),
        episode_id: ep.episode_id,
        source,
        checkpoint_episode,
        agent_id: ep.agent_id,
        metadata: metadata(&ep.metadata),
        layout: layout(ep),
        start: start(ep),
        steps: steps(ep),
        finished_at: ep.finished_at,
        sent_at,
    })
}

pub fn summary(
    run_id: &str,
    ep: &rec::LiveEpisode,
    source: proto::Source,
    checkpoint_episode: Option<u64>,
    sent_at: u64,
) -> proto::ServerMessage {
    proto::ServerMessage::EpisodeSummary(proto::EpisodeSummary {
        run_id: run_id.to_owned(),
        episode_id: ep.episode_id,
        source,
        checkpoint_episode,
        metadata: metadata(&ep.metadata),
        finished_at: ep.finished_at,
        sent_at,
    })
}

pub fn history_point(episode_id: u64, m: &rec::EpisodeMetadata) -> proto::HistoryPoint {
    proto::HistoryPoint {
        episode_id,
        survival_steps: m.survival_steps,
        total_reward: m.total_reward,
        extrinsic_reward: m.extrinsic_reward,
        epsilon: m.epsilon,
        intrinsic_weight: m.intrinsic_weight,
        curriculum_stage: m.curriculum_stage,
        end_reason: end_reason(m.end_reason),
    }
}

pub fn recording_info(r: &rec::RecordingRow) -> proto::RecordingInfo {
    proto::RecordingInfo {
        episode_id: r.episode_id,
        reason: r.reason.clone(),
        survival_steps: r.survival_steps,
        total_reward: r.total_reward,
        extrinsic_reward: r.extrinsic_reward,
        curriculum_stage: r.curriculum_stage,
        end_reason: end_reason(r.end_reason),
        timestamp: r.recorded_at,
        file_bytes: r.file_bytes,
    }
}
