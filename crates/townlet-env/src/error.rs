//! Errors of the env: construction from a pack, bad step inputs and bad test-hook values.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum EnvError {
    /// The pack folder did not load (`Env::load`); every validation error is listed.
    #[error(transparent)]
    Config(#[from] townlet_config::ConfigErrors),
    #[error("num_agents must be at least 1")]
    NoAgents,
    #[error("the grid must be square with a side of at least 1, got {width}x{height}")]
    BadGrid { width: u32, height: u32 },
    #[error(
        "{deployed} affordances need {deployed} cells plus one free cell, but the grid has {cells}"
    )]
    TooManyAffordances { deployed: usize, cells: usize },
    #[error("vision_range {0} is too large (at most {max})", max = crate::env::MAX_VISION_RANGE)]
    VisionTooLarge(u32),
    #[error("the pack has no meter named '{0}', which the env needs")]
    MissingMeter(&'static str),
    #[error("custom action '{action}' teleports to {pos:?}, which is off the {size}x{size} grid")]
    TeleportOffGrid {
        action: String,
        pos: [i32; 2],
        size: i32,
    },
    #[error("expected {expected} actions (one per agent), got {got}")]
    ActionCount { expected: usize, got: usize },
    #[error("agent {agent}: action id {action} is outside 0..{action_dim}")]
    InvalidAction {
        agent: usize,
        action: u32,
        action_dim: usize,
    },
    #[error("depletion multiplier must be finite and > 0, got {0}")]
    InvalidMultiplier(f32),
    #[error("agent {agent} does not exist (num_agents = {num_agents})")]
    NoSuchAgent { agent: usize, num_agents: usize },
    #[error("position {pos:?} is off the {size}x{size} grid")]
    OffGrid { pos: [i32; 2], size: i32 },
    #[error("no affordance named '{0}' in this pack")]
    UnknownAffordance(String),
    #[error("affordance '{0}' is not deployed in this pack")]
    NotDeployed(String),
    #[error("cannot put '{name}' at {pos:?}: '{other}' is already there")]
    CellTaken {
        name: String,
        other: String,
        pos: [i32; 2],
    },
    #[error("layout names '{0}' more than once")]
    DuplicateInLayout(String),
    #[error("layout is missing deployed affordances: {0:?}")]
    LayoutIncomplete(Vec<String>),
    #[error("expected {expected} meter values, got {got}")]
    MeterCount { expected: usize, got: usize },
    #[error("no meter named '{0}' in this pack")]
    UnknownMeter(String),
    #[error("meter '{name}': value {value} is outside [0, 1]")]
    MeterValue { name: String, value: f32 },
    #[error("time of day must be in 0..24, got {0}")]
    InvalidTimeOfDay(u32),
}
