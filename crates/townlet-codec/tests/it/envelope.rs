//! Encode and decode in memory: round trips, and every kind of damage rejected.

use crate::{MAGIC, Sample, sample};
use townlet_codec::*;

#[test]
fn crc32_known_vector() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn round_trip_both_modes() {
    for compress in [false, true] {
        let bytes = encode(MAGIC, 3, &sample(), compress).unwrap();
        let header = decode_header(MAGIC, 1..=3, &bytes).unwrap();
        assert_eq!(header.compressed(), compress);
        assert_eq!(header.version, 3);
        let (v, back): (u16, Sample) = decode(MAGIC, 1..=3, &bytes).unwrap();
        assert_eq!(v, 3);
        assert_eq!(back, sample());
    }
}

#[test]
fn compression_shrinks_repetitive_data() {
    let plain = encode(MAGIC, 1, &sample(), false).unwrap();
    let lz4 = encode(MAGIC, 1, &sample(), true).unwrap();
    assert!(lz4.len() < plain.len(), "{} vs {}", lz4.len(), plain.len());
}

#[test]
fn rejects_bad_magic() {
    let bytes = encode(MAGIC, 1, &sample(), true).unwrap();
    let err = decode::<Sample>(b"TWCKP", 1..=1, &bytes).unwrap_err();
    assert!(matches!(err, CodecError::BadMagic { .. }), "{err}");
    let err = decode::<Sample>(MAGIC, 1..=1, b"hello").unwrap_err();
    assert!(matches!(err, CodecError::BadMagic { .. }), "{err}");
}

#[test]
fn rejects_unknown_version() {
    let bytes = encode(MAGIC, 7, &sample(), true).unwrap();
    let err = decode::<Sample>(MAGIC, 1..=2, &bytes).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::UnsupportedVersion {
                found: 7,
                min: 1,
                max: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn rejects_truncation_anywhere() {
    let bytes = encode(MAGIC, 1, &sample(), true).unwrap();
    for cut in [0, 3, 5, 10, HEADER_LEN, HEADER_LEN + 1, bytes.len() - 1] {
        let err = decode::<Sample>(MAGIC, 1..=1, &bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, CodecError::Truncated { .. }),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn rejects_corruption() {
    for compress in [false, true] {
        let bytes = encode(MAGIC, 1, &sample(), compress).unwrap();
        // Flip one bit in every body byte in turn (sampled) : the checksum must catch it.
        for pos in (HEADER_LEN..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[pos] ^= 0x10;
            let err = decode::<Sample>(MAGIC, 1..=1, &bad).unwrap_err();
            assert!(matches!(err, CodecError::Corrupt(_)), "pos {pos}: {err}");
        }
        // Unknown flag bits and trailing garbage are corruption too.
        let mut bad = bytes.clone();
        bad[8] |= 0x80;
        assert!(matches!(
            decode::<Sample>(MAGIC, 1..=1, &bad),
            Err(CodecError::Corrupt(_))
        ));
        let mut bad = bytes.clone();
        bad.push(0);
        assert!(matches!(
            decode::<Sample>(MAGIC, 1..=1, &bad),
            Err(CodecError::Corrupt(_))
        ));
    }
}

#[test]
fn absurd_lz4_size_prefix_is_corrupt() {
    // A well-formed envelope (valid checksum) whose LZ4 size prefix claims 4 GiB.
    let mut body = vec![0xFF, 0xFF, 0xFF, 0xFF];
    body.extend_from_slice(&[0x10, 0x41]);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&FLAG_LZ4.to_le_bytes());
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let err = decode::<Sample>(MAGIC, 1..=1, &bytes).unwrap_err();
    assert!(matches!(err, CodecError::Corrupt(_)), "{err}");
}

#[test]
fn wrong_type_is_corrupt_not_panic() {
    let bytes = encode(MAGIC, 1, &"just a string", false).unwrap();
    let err = decode::<Sample>(MAGIC, 1..=1, &bytes).unwrap_err();
    assert!(matches!(err, CodecError::Corrupt(_)), "{err}");
}
