//! `townlet-inference --subscribe`: a viewer server whose runs all come from the bus.

use crate::error::NatsError;
use crate::publish::NatsOptions;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use townlet_inference::{Runs, ServerError, ServerOptions, bind, serve_runs};

/// Binds, subscribes and serves every run on the bus until `stop` resolves. A taken port
/// or a malformed address is an error before anything is served; a NATS server that is
/// down is not (the subscriber keeps trying and the runs appear when it is up).
pub fn serve_bus(
    nats: &NatsOptions,
    server: ServerOptions,
    stale_after: Option<Duration>,
    stop: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), NatsError> {
    let runtime = tokio::runtime::Runtime::new().map_err(NatsError::Runtime)?;
    runtime.block_on(async move {
        let listener = bind(&server).await?;
        let addr = listener.local_addr().map_err(ServerError::Runtime)?;
        let runs = Runs::new(None);
        let subscription = crate::subscribe(nats, runs.clone(), stale_after).await?;
        on_listening(addr);
        serve_runs(listener, runs, server, stop).await?;
        drop(subscription);
        Ok(())
    })
}
