//! `GET /api/runs/<run>/episodes/<id>.gif` (docs/usage.md#taking-an-episode-away): an
//! episode of the ring or the recordings as an animated GIF. Query: `from`, `to` (1-based
//! steps, inclusive) and `fps` (steps per second, default 5). Drawn and encoded on
//! tokio's blocking pool, never on a runtime worker.

use crate::hub::Hub;
use crate::replay;
use crate::runs::Runs;
use std::collections::HashMap;
use std::sync::Arc;
use townlet_export::{ExportOptions, ExportWorld, episode_gif};
use townlet_protocol::{ErrorCode, ProtocolError};
use warp::http::StatusCode;
use warp::reply::{self, Reply, Response};
use warp::{Filter, Rejection};

fn bad(message: String) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidValue, message)
}

/// The export options of a query.
fn options(q: &HashMap<String, String>) -> Result<ExportOptions, ProtocolError> {
    fn num<T: std::str::FromStr>(
        q: &HashMap<String, String>,
        key: &str,
    ) -> Result<Option<T>, ProtocolError> {
        q.get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| bad(format!("{key}: not a number: {v:?}")))
            })
            .transpose()
    }
    let from: Option<u32> = num(q, "from")?;
    let to: Option<u32> = num(q, "to")?;
    let mut opts = ExportOptions::default();
    if let Some(fps) = num::<f32>(q, "fps")? {
        opts.fps = fps;
    }
    if from.is_some() || to.is_some() {
        opts.steps = Some(from.unwrap_or(1)..=to.unwrap_or(u32::MAX));
    }
    Ok(opts)
}

fn world(hub: &Hub) -> ExportWorld {
    ExportWorld {
        grid: hub.world.grid.width,
        meters: hub.world.meters.iter().map(|m| m.name.clone()).collect(),
        actions: hub.world.actions.clone(),
    }
}

async fn gif(
    runs: Runs,
    run: String,
    file: String,
    q: HashMap<String, String>,
) -> Result<Vec<u8>, ProtocolError> {
    let hub = runs.hub(&run).ok_or_else(|| {
        ProtocolError::new(
            ErrorCode::UnknownRun,
            format!("no run `{run}` on this server"),
        )
    })?;
    let id: u64 = file
        .strip_suffix(".gif")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("`{file}`: expected <episode id>.gif")))?;
    let mut opts = options(&q)?;
    let episode = match hub.get(id) {
        Some(e) => Arc::clone(&e.episode),
        None => replay::load(hub.run_dir.as_deref(), id)
            .await
            .map_err(|e| match e.code {
                ErrorCode::NotAvailable => ProtocolError::new(
                    ErrorCode::UnknownEpisode,
                    format!("episode {id} is not among the recent episodes or the recordings"),
                ),
                _ => e,
            })?,
    };
    // `to` past the end means "to the end".
    if let Some(r) = opts.steps.clone() {
        let end = (*r.end()).min(episode.len() as u32);
        opts.steps = Some(*r.start()..=end);
    }
    let world = world(&hub);
    tokio::task::spawn_blocking(move || episode_gif(&episode, &world, &opts))
        .await
        .map_err(|_| ProtocolError::new(ErrorCode::Internal, "the GIF export stopped"))?
        .map_err(|e| bad(e.to_string()))
}

/// The route.
pub(crate) fn route(
    runs: Runs,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static {
    warp::get()
        .and(warp::path!("api" / "runs" / String / "episodes" / String))
        .and(warp::query::<HashMap<String, String>>())
        .then(
            move |run: String, file: String, q: HashMap<String, String>| {
                let runs = runs.clone();
                async move {
                    match gif(runs, run, file.clone(), q).await {
                        Ok(bytes) => {
                            let name = format!("townlet-{file}");
                            let r = reply::with_header(bytes, "content-type", "image/gif");
                            reply::with_header(
                                r,
                                "content-disposition",
                                format!("attachment; filename=\"{name}\""),
                            )
                            .into_response()
                        }
                        Err(e) => {
                            let status = match e.code {
                                ErrorCode::UnknownEpisode | ErrorCode::UnknownRun => {
                                    StatusCode::NOT_FOUND
                                }
                                ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                                _ => StatusCode::BAD_REQUEST,
                            };
                            reply::with_status(
                                reply::json(
                                    &serde_json::json!({"code": e.code, "message": e.message}),
                                ),
                                status,
                            )
                            .into_response()
                        }
                    }
                }
            },
        )
}
