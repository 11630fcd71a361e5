//! Free ports and `/healthz` polling over plain std sockets (no HTTP client dependency).

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, release it.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener
        .local_addr()
        .context("reading the bound port")?
        .port())
}

/// One `GET path` on `addr`; true when the answer's status is 200.
pub fn get_ok(addr: SocketAddr, path: &str) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        // One write: the request must not trickle out in pieces.
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes())?;
        let mut head = [0u8; 64];
        let mut n = 0;
        // The status line is all we need.
        while n < head.len() {
            let r = s.read(&mut head[n..])?;
            if r == 0 {
                break;
            }
            n += r;
            if head[..n].contains(&b'\n') {
                break;
            }
        }
        let line = String::from_utf8_lossy(&head[..n]);
        Ok(line.starts_with("HTTP/1.") && line.split_whitespace().nth(1) == Some("200"))
    };
    attempt().unwrap_or(false)
}

/// Polls `/healthz` until it answers 200. Fails if the child exits first or nothing
/// answers within `deadline` (generous: a deadline for an event, not a timing).
pub fn wait_healthy(addr: SocketAddr, child: &mut Child, deadline: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if get_ok(addr, "/healthz") {
            return Ok(());
        }
        if let Some(status) = child.try_wait().context("checking the server process")? {
            bail!("the server exited before answering /healthz ({status})");
        }
        if start.elapsed() > deadline {
            bail!(
                "the server did not answer http://{addr}/healthz within {} s",
                deadline.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn get_ok_reads_the_status_line() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().unwrap();
                // Read the whole request first: closing with unread bytes would reset
                // the connection and could discard our answer.
                let mut request = Vec::new();
                let mut buf = [0u8; 512];
                while !request.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "request cut short");
                    request.extend_from_slice(&buf[..n]);
                }
                let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                s.write_all(answer.as_bytes()).unwrap();
            }
        });
        assert!(get_ok(addr, "/healthz"));
        assert!(!get_ok(addr, "/healthz"));
        server.join().unwrap();
    }

    #[test]
    fn nothing_listening_is_not_ok() {
        let port = free_port().unwrap();
        assert!(!get_ok(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "/healthz"
        ));
    }

    #[test]
    fn a_child_that_exits_is_reported() {
        let port = free_port().unwrap();
        let mut child = Command::new("true").spawn().unwrap();
        let err = wait_healthy(
            SocketAddr::from(([127, 0, 0, 1], port)),
            &mut child,
            Duration::from_secs(60),
        )
        .unwrap_err();
        assert!(err.to_string().contains("exited before"), "{err}");
    }
}
