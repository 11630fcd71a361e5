//! Versioned binary envelope shared by episode files (docs/decisions.md#episode-files) and
//! checkpoints (docs/decisions.md#checkpoint-container).
//!
//! Layout (all integers little-endian), 21 bytes of header then the body:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..5 | magic (e.g. `TWREC`, `TWCKP`) |
//! | 5..7 | format version (u16) |
//! | 7..9 | flags (u16; bit 0 = body is LZ4 compressed) |
//! | 9..17 | stored body length in bytes (u64) |
//! | 17..21 | CRC-32 (IEEE) of the stored body (u32) |
//!
//! The body is bincode 2 (serde, standard config) of the value, LZ4-compressed (with the
//! uncompressed size prepended, `lz4_flex::compress_prepend_size`) when bit 0 is set.
//! The length and checksum let a reader tell a truncated file from a corrupted one.
//!
//! ```
//! use townlet_codec::{CodecError, decode, encode};
//!
//! let bytes = encode(b"TWDOC", 2, &("hello", vec![1.5f32, 2.0]), true)?;
//! let (version, value): (u16, (String, Vec<f32>)) = decode(b"TWDOC", 1..=2, &bytes)?;
//! assert_eq!((version, value), (2, ("hello".to_string(), vec![1.5, 2.0])));
//! // A reader that only knows version 1 refuses it.
//! let err = decode::<(String, Vec<f32>)>(b"TWDOC", 1..=1, &bytes).unwrap_err();
//! assert!(matches!(err, CodecError::UnsupportedVersion { found: 2, .. }));
//! # Ok::<(), CodecError>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{self, File};
use std::io::Write;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = 21;
/// Flag bit 0: the body is LZ4 compressed.
pub const FLAG_LZ4: u16 = 1;
/// Flags this version of the codec understands; any other bit set is rejected.
const KNOWN_FLAGS: u16 = FLAG_LZ4;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(
        "bad magic: expected {:?}, found {:?} (not a {} file)",
        String::from_utf8_lossy(.expected),
        String::from_utf8_lossy(.found),
        String::from_utf8_lossy(.expected)
    )]
    BadMagic { expected: [u8; 5], found: Vec<u8> },
    #[error("unsupported format version {found} (this build reads versions {min}..={max})")]
    UnsupportedVersion { found: u16, min: u16, max: u16 },
    #[error("truncated data: expected {expected} bytes, found {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 5],
    pub version: u16,
    pub flags: u16,
    pub body_len: u64,
    pub checksum: u32,
}

impl Header {
    pub fn compressed(&self) -> bool {
        self.flags & FLAG_LZ4 != 0
    }
}

/// Serialises `value` into a complete envelope.
pub fn encode<T: Serialize + ?Sized>(
    magic: &[u8; 5],
    version: u16,
    value: &T,
    compress: bool,
) -> Result<Vec<u8>, CodecError> {
    let raw = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    let (body, flags) = if compress {
        (lz4_flex::compress_prepend_size(&raw), FLAG_LZ4)
    } else {
        (raw, 0)
    };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Parses and checks the header only (magic, version range, flags); the body is not read.
pub fn decode_header(
    magic: &[u8; 5],
    versions: RangeInclusive<u16>,
    bytes: &[u8],
) -> Result<Header, CodecError> {
    // Check the magic on whatever is there first so a short non-Townlet file says "bad magic".
    let have = bytes.len().min(5);
    if bytes[..have] != magic[..have] {
        return Err(CodecError::BadMagic {
            expected: *magic,
            found: bytes[..have].to_vec(),
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(CodecError::Truncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        });
    }
    let version = u16::from_le_bytes([bytes[5], bytes[6]]);
    if !versions.contains(&version) {
        return Err(CodecError::UnsupportedVersion {
            found: version,
            min: *versions.start(),
            max: *versions.end(),
        });
    }
    let flags = u16::from_le_bytes([bytes[7], bytes[8]]);
    if flags & !KNOWN_FLAGS != 0 {
        return Err(CodecError::Corrupt(format!(
            "unknown header flags {flags:#06x}"
        )));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[9..17]);
    let mut sum = [0u8; 4];
    sum.copy_from_slice(&bytes[17..21]);
    Ok(Header {
        magic: *magic,
        version,
        flags,
        body_len: u64::from_le_bytes(len),
        checksum: u32::from_le_bytes(sum),
    })
}

/// Checks the envelope and returns the header with the raw (decompressed) bincode body.
pub fn decode_body(
    magic: &[u8; 5],
    versions: RangeInclusive<u16>,
    bytes: &[u8],
) -> Result<(Header, Vec<u8>), CodecError> {
    let header = decode_header(magic, versions, bytes)?;
    let stored = &bytes[HEADER_LEN..];
    let found = stored.len() as u64;
    if found < header.body_len {
        return Err(CodecError::Truncated {
            expected: HEADER_LEN as u64 + header.body_len,
            found: HEADER_LEN as u64 + found,
        });
    }
    if found > header.body_len {
        return Err(CodecError::Corrupt(format!(
            "{} unexpected trailing bytes after the body",
            found - header.body_len
        )));
    }
    let actual = crc32(stored);
    if actual != header.checksum {
        return Err(CodecError::Corrupt(format!(
            "checksum mismatch (stored {:#010x}, computed {actual:#010x})",
            header.checksum
        )));
    }
    let raw = if header.compressed() {
        // LZ4 expands at most ~255×; refuse a size prefix beyond that before allocating it.
        if stored.len() >= 4 {
            let claimed = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]) as u64;
            if claimed > (stored.len() as u64).saturating_mul(255) + 64 {
                return Err(CodecError::Corrupt(format!(
                    "LZ4 body claims {claimed} bytes from {} stored",
                    stored.len()
                )));
            }
        }
        lz4_flex::decompress_size_prepended(stored)
            .map_err(|e| CodecError::Corrupt(format!("LZ4 body: {e}")))?
    } else {
        stored.to_vec()
    };
    Ok((header, raw))
}

/// Decodes an envelope produced by [`encode`]; returns the format version found and the value.
pub fn decode<T: DeserializeOwned>(
    magic: &[u8; 5],
    versions: RangeInclusive<u16>,
    bytes: &[u8],
) -> Result<(u16, T), CodecError> {
    let (header, raw) = decode_body(magic, versions, bytes)?;
    let (value, used) = bincode::serde::decode_from_slice(&raw, bincode::config::standard())
        .map_err(|e| CodecError::Corrupt(format!("body does not decode: {e}")))?;
    if used != raw.len() {
        return Err(CodecError::Corrupt(format!(
            "body has {} undecoded bytes",
            raw.len() - used
        )));
    }
    Ok((header.version, value))
}

/// `<path>.tmp` next to `path` (the name the atomic writer uses).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: `<path>.tmp`, fsync, rename, fsync the folder.
/// A reader never sees a half-written file under `path`. Creates the parent folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CodecError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| CodecError::Io { path: p, source }
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        // Best effort: leave no stray temp file behind.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable; directories can only be fsynced on Unix.
    #[cfg(unix)]
    {
        let dir = File::open(&parent).map_err(io(&parent))?;
        dir.sync_all().map_err(io(&parent))?;
    }
    Ok(())
}

/// Reads a whole file, naming the path in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CodecError> {
    fs::read(path).map_err(|source| CodecError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// [`encode`] then [`write_atomic`]; returns the number of bytes written.
pub fn encode_to_file<T: Serialize + ?Sized>(
    path: &Path,
    magic: &[u8; 5],
    version: u16,
    value: &T,
    compress: bool,
) -> Result<u64, CodecError> {
    let bytes = encode(magic, version, value, compress)?;
    write_atomic(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// [`read_file`] then [`decode`].
pub fn decode_file<T: DeserializeOwned>(
    path: &Path,
    magic: &[u8; 5],
    versions: RangeInclusive<u16>,
) -> Result<(u16, T), CodecError> {
    let bytes = read_file(path)?;
    decode(magic, versions, &bytes)
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as used by zip and PNG.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};
