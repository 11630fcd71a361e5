//! townlet-codec
