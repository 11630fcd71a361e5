//! `--teacher-token` for the servers (docs/security.md): the flag, else the
//! `TOWNLET_TEACHER_TOKEN` environment variable, else a fresh random token; and the
//! lines a server prints at start (viewer URL, teacher URL, the exposure warning).

use anyhow::{Result, bail};
use townlet_inference::teacher::{TEACHER_TOKEN_ENV, check_token, exposure_warning, new_token};

/// Help of the `--teacher-token` flag.
pub const HELP: &str = "The teacher token (default: the TOWNLET_TEACHER_TOKEN environment variable, \
else a random one). The teacher URL the server prints carries it; only that page can change \
training or present. At least 8 characters from [A-Za-z0-9._~-].";

/// The token to use: the flag, the environment variable, or a new random one.
pub fn resolve_token(flag: Option<String>) -> Result<String> {
    let (token, from) = match flag {
        Some(t) => (t, "--teacher-token".to_owned()),
        None => match std::env::var(TEACHER_TOKEN_ENV) {
            Ok(t) if !t.is_empty() => (t, TEACHER_TOKEN_ENV.to_owned()),
            _ => return Ok(new_token()),
        },
    };
    if let Err(why) = check_token(&token) {
        bail!("{from}: {why}");
    }
    Ok(token)
}

/// Prints the viewer URL, the teacher URL and, on a non-loopback bind, who can reach it.
pub fn print_urls(title: &str, url: &str, teacher_url: Option<&str>, host: &str, port: u16) {
    println!("{title}: {url}");
    if let Some(t) = teacher_url {
        println!("teacher (keep this link to yourself): {t}");
    }
    if let Some(w) = exposure_warning(host, port) {
        eprintln!("{w}");
    }
}
