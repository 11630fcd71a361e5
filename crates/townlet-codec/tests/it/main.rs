//! The codec's integration tests, in one test binary: envelopes in memory and on disk.

mod envelope;
mod files;

use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    id: u64,
    name: String,
    values: Vec<f32>,
    maybe: Option<bool>,
}

pub fn sample() -> Sample {
    Sample {
        id: 123,
        name: "townlet".into(),
        values: (0..500).map(|i| (i % 7) as f32 * 0.5).collect(),
        maybe: Some(true),
    }
}

pub const MAGIC: &[u8; 5] = b"TWTST";
