//! townlet-env
