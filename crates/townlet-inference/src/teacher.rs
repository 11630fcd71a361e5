//! The teacher's seat on the server side (docs/security.md): the teacher token and its
//! checks (constant-time compare, slower answers after wrong tries from one address),
//! the WebSocket `Origin` check on a non-loopback bind, the presenter's position shared
//! with every session, each live run's control link to its trainer, and the training
//! events a run has had.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use townlet_protocol::{self as proto, ErrorCode, ProtocolError, Role};

/// Environment variable a binary reads the teacher token from (after `--teacher-token`).
pub const TEACHER_TOKEN_ENV: &str = "TOWNLET_TEACHER_TOKEN";

/// The shortest teacher token a server accepts from a flag or the environment.
pub const MIN_TOKEN_LEN: usize = 8;

/// A fresh random teacher token: 128 bits from the OS, as 32 hex digits.
pub fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a token given on the command line or in the environment.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Err(format!(
            "a teacher token needs at least {MIN_TOKEN_LEN} characters from [A-Za-z0-9._~-]"
        ));
    }
    Ok(())
}

/// Compares in time that depends only on the lengths, never on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

/// How long to hold the answer to a wrong token after `failures` wrong tries in a row
/// from one address: 100 ms doubling, at most 5 s.
pub fn penalty(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << failures.saturating_sub(1).min(6));
    Duration::from_millis(ms.min(5_000))
}

/// Wrong tries are forgotten after this long without one.
const FAILURE_MEMORY: Duration = Duration::from_secs(600);

/// A live run's link to its trainer: hands a control on (never waits), and names who
/// sent it.
pub type ControlSink =
    Arc<dyn Fn(proto::TrainingControl, &str) -> Result<(), String> + Send + Sync>;

/// The trainer's side of a live run's teacher link (given to the runner by the caller).
#[derive(Clone)]
pub struct TrainingLink {
    /// Where `training_control` goes.
    pub control: ControlSink,
    /// What the trainer applied (chart markers).
    pub events: flume::Receiver<proto::TrainingEventInfo>,
}

impl fmt::Debug for TrainingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrainingLink")
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// The server-wide teacher state.
#[derive(Debug)]
pub(crate) struct Teacher {
    token: Option<String>,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// Where the presenting teacher is (`active: false` when nobody presents).
    pub presenter: watch::Sender<proto::Presenting>,
    /// Teacher-only messages refused from viewers.
    pub forbidden: AtomicU64,
    /// Connections refused for a wrong teacher token.
    pub bad_tokens: AtomicU64,
    /// Connections refused for a foreign `Origin`.
    pub bad_origins: AtomicU64,
}

impl Teacher {
    pub(crate) fn new(token: Option<String>) -> Teacher {
        Teacher {
            token,
            failures: Mutex::default(),
            presenter: watch::Sender::new(proto::Presenting {
                active: false,
                state: None,
                sent_at: 0,
            }),
            forbidden: AtomicU64::new(0),
            bad_tokens: AtomicU64::new(0),
            bad_origins: AtomicU64::new(0),
        }
    }

    /// The role a `?token=` gives, or how long to wait before refusing a wrong one.
    pub(crate) fn role(&self, given: Option<&str>, addr: Option<IpAddr>) -> Result<Role, Duration> {
        let Some(given) = given else {
            return Ok(Role::Viewer);
        };
        let ok = self
            .token
            .as_deref()
            .is_some_and(|t| constant_time_eq(t.as_bytes(), given.as_bytes()));
        let key = addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        failures.retain(|_, (_, at)| now.duration_since(*at) < FAILURE_MEMORY);
        if ok {
            failures.remove(&key);
            return Ok(Role::Teacher);
        }
        self.bad_tokens.fetch_add(1, Ordering::Relaxed);
        let entry = failures.entry(key).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        Err(penalty(entry.0))
    }

    pub(crate) fn forbidden(&self, what: &str) -> ProtocolError {
        self.forbidden.fetch_add(1, Ordering::Relaxed);
        ProtocolError::new(
            ErrorCode::Forbidden,
            format!(
                "{what} needs the teacher's connection (open the teacher URL the server printed)"
            ),
        )
    }
}

/// Whether the browser's `Origin` names the host it connected to (`Host`). No `Origin`
/// (not a browser) passes; so does any origin on a loopback bind.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Some(host) = host else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
}

/// Whether `host` (the `--host` value) is reachable only from this machine.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost" || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The warning a binary prints when it binds beyond this machine.
pub fn exposure_warning(host: &str, port: u16) -> Option<String> {
    (!is_loopback_host(host)).then(|| {
        format!(
            "warning: listening on {host}:{port}: anyone who can reach this address on the network \
             can watch; only the teacher URL (keep its token private) can change training. \
             WebSocket connections from other sites' pages are refused (Origin check)."
        )
    })
}

/// The training events of a run, as the server holds them.
#[derive(Debug, Default)]
pub(crate) struct Events(Mutex<Vec<proto::TrainingEventInfo>>);

impl Events {
    pub(crate) fn push(&self, e: proto::TrainingEventInfo) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    pub(crate) fn replace(&self, all: Vec<proto::TrainingEventInfo>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = all;
    }

    pub(crate) fn all(&self) -> Vec<proto::TrainingEventInfo> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The events stored in a run folder's `metrics.db` (none without one).
pub(crate) async fn stored_events(
    run_dir: Option<std::path::PathBuf>,
) -> Vec<proto::TrainingEventInfo> {
    let Some(dir) = run_dir else {
        return Vec::new();
    };
    tokio::task::spawn_blocking(move || {
        let db = townlet_recording::Database::open_read(&dir.join("metrics.db")).ok()?;
        db.training_events().ok()
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default()
    .into_iter()
    .map(event_info)
    .collect()
}

/// The wire form of a stored event.
pub fn event_info(e: townlet_recording::TrainingEvent) -> proto::TrainingEventInfo {
    proto::TrainingEventInfo {
        time_ms: e.time_ms,
        episode: e.episode,
        who: e.who,
        control: e.control,
        old: e.old,
        new: e.new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abcdef12", b"abcdef12"));
        assert!(!constant_time_eq(b"abcdef12", b"abcdef13"));
        assert!(!constant_time_eq(b"abcdef12", b"abcdef1"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
        let t = new_token();
        assert_eq!(t.len(), 32);
        assert!(check_token(&t).is_ok());
        assert!(check_token("short").is_err());
        assert!(check_token("has space in it").is_err());
    }

    #[test]
    fn wrong_tokens_slow_down_per_address() {
        let t = Teacher::new(Some("secret-token".into()));
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        assert_eq!(t.role(None, a), Ok(Role::Viewer));
        assert_eq!(t.role(Some("nope"), a), Err(penalty(1)));
        assert_eq!(t.role(Some("nope"), a), Err(penalty(2)));
        assert_eq!(t.role(Some("nope"), b), Err(penalty(1)));
        assert!(penalty(2) > penalty(1));
        assert_eq!(penalty(40), Duration::from_secs(5));
        assert_eq!(t.role(Some("secret-token"), a), Ok(Role::Teacher));
        assert_eq!(t.role(Some("nope"), a), Err(penalty(1)));
        let none = Teacher::new(None);
        assert!(none.role(Some("anything"), a).is_err());
    }

    #[test]
    fn origin_must_name_the_host() {
        assert!(origin_allowed(None, Some("10.0.0.5:8766")));
        assert!(origin_allowed(
            Some("http://10.0.0.5:8766"),
            Some("10.0.0.5:8766")
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            Some("10.0.0.5:8766")
        ));
        assert!(!origin_allowed(Some("null"), Some("10.0.0.5:8766")));
        assert!(!origin_allowed(Some("http://10.0.0.5:8766"), None));
        assert!(is_loopback_host("127.0.0.1") && is_loopback_host("localhost"));
        assert!(!is_loopback_host("0.0.0.0"));
        assert!(exposure_warning("127.0.0.1", 1).is_none());
        assert!(exposure_warning("0.0.0.0", 1).is_some());
    }
}
