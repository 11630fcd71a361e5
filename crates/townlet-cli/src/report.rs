//! How a binary reports a failed run: the error once, then each cause once.

use std::fmt::Write as _;
use std::process::ExitCode;

/// `error: <what failed>` then one `  caused by: <cause>` line per distinct cause. A
/// cause whose text the line above already ends with is skipped, so an error that
/// repeats its source's text is still said once.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut said: Vec<String> = Vec::new();
    for (i, cause) in err.chain().enumerate() {
        let text = cause.to_string();
        if said.iter().any(|s| s.ends_with(&text)) {
            continue;
        }
        if i == 0 {
            let _ = write!(out, "error: {text}");
        } else {
            let _ = write!(out, "\n  caused by: {text}");
        }
        said.push(text);
    }
    out
}

/// Print `err` on stderr as [`render`] does and return the failure exit code (1).
pub fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("{}", render(err));
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(io).context("reading pack.yaml");
        assert_eq!(
            render(&err),
            "error: reading pack.yaml\n  caused by: no such file"
        );
    }

    #[test]
    fn a_repeated_cause_is_skipped() {
        let err = anyhow::anyhow!("no such file").context("pack.yaml: no such file");
        assert_eq!(render(&err), "error: pack.yaml: no such file");
    }
}
