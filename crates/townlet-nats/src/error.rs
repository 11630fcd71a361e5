//! What can go wrong joining the bus; each message names the flag, address or file.

use std::path::PathBuf;

/// Errors of the publisher and the subscriber. Variants wrapping another error keep it as
/// the `source()`, so a binary prints each cause once.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(
        "{url:?} is not a NATS server address (nats://HOST:PORT, nats://USER:PASS@HOST:PORT or tls://HOST:PORT)"
    )]
    Url {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the NATS credentials file {path}")]
    Creds {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the NATS server at {url}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("run id {0:?} cannot name a run on the bus: 1 to 64 characters from A-Z a-z 0-9 _ -")]
    RunId(String),
    #[error(
        "cannot create or open the Townlet streams and bucket on the NATS server (is JetStream enabled? nats-server -js)"
    )]
    Layout {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot start the NATS client's runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Server(#[from] townlet_inference::ServerError),
}

/// The address without a password, for logs and messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(super::redact("nats://u:p@h:4222"), "nats://***@h:4222");
        assert_eq!(super::redact("nats://h:4222"), "nats://h:4222");
    }
}
