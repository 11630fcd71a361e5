//! What `hello` tells a viewer about the world (docs/decisions.md#what-hello-carries),
//! built once from the pack and env.

use townlet_config::{Pack, Tier};
use townlet_env::Env;
use townlet_protocol as proto;

/// The world vocabulary of one pack: grid, meters, actions, affordances, cascades.
/// Serializable, so a trainer can announce it to viewer servers elsewhere (a run
/// descriptor on a message bus).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorldInfo {
    pub pack: String,
    pub grid: proto::GridSize,
    pub meters: Vec<proto::MeterInfo>,
    pub actions: Vec<String>,
    pub affordances: Vec<proto::AffordanceInfo>,
    pub cascades: Vec<proto::CascadeInfo>,
    pub temporal: bool,
    pub max_steps_per_episode: u32,
    pub max_episodes: Option<u64>,
    /// The env probes are built on (docs/usage.md#asking-the-agent). Not sent over a bus:
    /// a run served from NATS has no probes.
    #[serde(skip)]
    pub(crate) probe_env: Option<crate::probe::ProbeEnv>,
}

fn tier(t: Tier) -> proto::MeterTier {
    match t {
        Tier::Pivotal => proto::MeterTier::Pivotal,
        Tier::Primary => proto::MeterTier::Primary,
        Tier::Secondary => proto::MeterTier::Secondary,
        Tier::Resource => proto::MeterTier::Resource,
    }
}

impl WorldInfo {
    /// From a loaded pack and an env built on it (names and counts come from the env, so
    /// they are exactly what the episodes use).
    pub fn new(pack: &Pack, env: &Env) -> WorldInfo {
        let meter_names = env.meter_names();
        let meters = meter_names
            .iter()
            .enumerate()
            .map(|(i, name)| proto::MeterInfo {
                name: name.clone(),
                tier: pack
                    .meters
                    .iter()
                    .find(|m| m.index == i)
                    .map_or(proto::MeterTier::Secondary, |m| tier(m.tier)),
            })
            .collect();
        let names = env.affordance_names();
        let affordances = env
            .deployed_affordances()
            .iter()
            .filter_map(|&v| {
                Some(proto::AffordanceInfo {
                    name: names.get(v)?.clone(),
                    operating_hours: pack
                        .affordances
                        .get(v)
                        .map_or([0, 24], |a| a.operating_hours),
                })
            })
            .collect();
        let meter = |i: usize| meter_names.get(i).cloned().unwrap_or_else(|| i.to_string());
        let cascades = pack
            .cascades
            .iter()
            .map(|c| proto::CascadeInfo {
                source: meter(c.source),
                target: meter(c.target),
                threshold: c.threshold,
            })
            .collect();
        let side = env.grid_size();
        WorldInfo {
            pack: pack.name.clone(),
            grid: proto::GridSize {
                width: side,
                height: side,
            },
            meters,
            actions: env.action_names().to_vec(),
            affordances,
            cascades,
            temporal: env.temporal(),
            max_steps_per_episode: pack.curriculum.max_steps_per_episode,
            max_episodes: pack.training.max_episodes,
            probe_env: Some(crate::probe::ProbeEnv {
                env: std::sync::Arc::new(env.clone()),
                pack: std::sync::Arc::new(pack.clone()),
            }),
        }
    }

    /// Builds a one-agent env on the pack to read the vocabulary.
    pub fn from_pack(pack: &Pack) -> Result<WorldInfo, townlet_env::EnvError> {
        let env = Env::new(pack, 1, pack.training.seed)?;
        Ok(WorldInfo::new(pack, &env))
    }

    /// The `hello` message for a new connection (the caller names the run and the runs).
    pub(crate) fn hello(
        &self,
        mode: proto::Mode,
        totals: proto::Totals,
        session: proto::SessionInfo,
    ) -> proto::Hello {
        proto::Hello {
            protocol_version: proto::PROTOCOL_VERSION,
            run_id: String::new(),
            runs: Vec::new(),
            lab_title: None,
            mode,
            pack: self.pack.clone(),
            grid: self.grid,
            meters: self.meters.clone(),
            actions: self.actions.clone(),
            affordances: self.affordances.clone(),
            cascades: self.cascades.clone(),
            temporal: self.temporal,
            max_steps_per_episode: self.max_steps_per_episode,
            max_episodes: self.max_episodes,
            totals,
            limits: proto::Limits::default(),
            session,
            role: proto::Role::Viewer,
        }
    }
}
