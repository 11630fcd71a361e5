//! Envelopes on disk: the atomic writer and the reader.

use std::fs;

use crate::{MAGIC, Sample, sample};
use townlet_codec::*;

#[test]
fn atomic_file_round_trip() {
    let dir = std::env::temp_dir().join(format!("townlet-codec-test-{}", std::process::id()));
    let path = dir.join("sub").join("x.bin");
    let n = encode_to_file(&path, MAGIC, 1, &sample(), true).unwrap();
    assert_eq!(n, fs::metadata(&path).unwrap().len());
    assert!(!temp_path(&path).exists());
    let (_, back): (u16, Sample) = decode_file(&path, MAGIC, 1..=1).unwrap();
    assert_eq!(back, sample());
    // Overwrite in place.
    encode_to_file(&path, MAGIC, 1, &"other", false).unwrap();
    let (_, s): (u16, String) = decode_file(&path, MAGIC, 1..=1).unwrap();
    assert_eq!(s, "other");
    let missing = read_file(&dir.join("nope")).unwrap_err();
    assert!(missing.to_string().contains("nope"));
    // The OS error is the source, not repeated in the message.
    let os = std::error::Error::source(&missing).expect("an io::Error source");
    assert!(!missing.to_string().contains(&os.to_string()));
    fs::remove_dir_all(&dir).unwrap();
}
