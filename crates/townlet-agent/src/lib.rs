//! townlet-agent
