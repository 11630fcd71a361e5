//! Server options and binding (docs/decisions.md#speeds-and-limits,
//! docs/decisions.md#server-start-up).

use crate::error::ServerError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Default port.
pub const DEFAULT_PORT: u16 = 8766;

/// Everything that tunes the server; `ServerOptions::default()` is what the binaries use.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address to listen on; `127.0.0.1` unless told otherwise.
    pub host: String,
    /// Port; 0 picks a free one (tests).
    pub port: u16,
    /// The built frontend (`frontend/dist`). `None` or a missing folder: `/` explains how
    /// to build it.
    pub static_dir: Option<PathBuf>,
    /// Connected WebSocket clients at most (1000); one more is refused.
    pub max_clients: usize,
    /// A client that has not read (write blocked) or answered a ping for this long is
    /// dropped (30 s).
    pub client_timeout: Duration,
    /// How often the server pings each client.
    pub ping_interval: Duration,
    /// Largest inbound frame (64 KiB). Frames up to 4× this get an `error` and
    /// close 1009; larger ones are cut off by the WebSocket layer with 1009.
    pub max_frame: usize,
    /// Outgoing messages queued per client before the oldest are dropped (skipped).
    pub client_queue: usize,
    /// `stats` interval (about once a second).
    pub stats_interval: Duration,
    /// Kernel send buffer of accepted sockets (inherited from the listener); `None`
    /// keeps the system default. Tests set it small so a client that stops reading is
    /// noticed quickly.
    pub socket_send_buffer: Option<u32>,
    /// How long `serve` waits for clients to take their close frame on shutdown.
    pub shutdown_grace: Duration,
    /// The teacher token (`/ws?token=`, docs/security.md); `None`: nobody is a teacher.
    /// The binaries always set one (random unless given).
    pub teacher_token: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            static_dir: None,
            max_clients: 1000,
            client_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            max_frame: townlet_protocol::MAX_INBOUND_FRAME_BYTES as usize,
            client_queue: 256,
            stats_interval: Duration::from_secs(1),
            socket_send_buffer: None,
            shutdown_grace: Duration::from_secs(3),
            teacher_token: None,
        }
    }
}

impl ServerOptions {
    /// The socket address `host:port` names.
    pub fn addr(&self) -> Result<SocketAddr, ServerError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = if host == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse()
                .map_err(|_| ServerError::Address(self.host.clone()))?
        };
        Ok(SocketAddr::new(ip, self.port))
    }
}

/// Binds the listening socket first: a taken port is a [`ServerError::Bind`], never
/// a panic. Serve it with [`crate::serve`].
pub async fn bind(opts: &ServerOptions) -> Result<tokio::net::TcpListener, ServerError> {
    let addr = opts.addr()?;
    let err = |source| ServerError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(err)?;
    // Restarting the server right after a stop must not fail on TIME_WAIT sockets.
    socket.set_reuseaddr(true).map_err(err)?;
    if let Some(size) = opts.socket_send_buffer {
        socket.set_send_buffer_size(size).map_err(err)?;
    }
    socket.bind(addr).map_err(err)?;
    socket.listen(1024).map_err(err)
}
