//! `GET /api/runs/<run>/episodes/<id>.gif` and `.mp4` (docs/usage.md#taking-an-episode-away):
//! an episode of the ring or the recordings as an animated GIF or an MP4 video (H.264).
//! Query: `from`, `to` (1-based steps, inclusive) and `fps` (steps per second, default 5).
//! Drawn and encoded on tokio's blocking pool, never on a runtime worker.

use crate::hub::Hub;
use crate::replay;
use crate::runs::Runs;
use std::collections::HashMap;
use std::sync::Arc;
use townlet_export::{ExportError, ExportOptions, ExportWorld, episode_gif, episode_mp4};
use townlet_protocol::{ErrorCode, ProtocolError};
use townlet_recording::LiveEpisode;
use warp::http::StatusCode;
use warp::reply::{self, Reply, Response};
use warp::{Filter, Rejection};

fn bad(message: String) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidValue, message)
}

/// The export options of a query.
fn options(q: &HashMap<String, String>) -> Result<ExportOptions, ProtocolError> {
    use crate::http::query_num;
    let from: Option<u32> = query_num(q, "from")?;
    let to: Option<u32> = query_num(q, "to")?;
    let mut opts = ExportOptions::default();
    if let Some(fps) = query_num::<f32>(q, "fps")? {
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

/// A file format the route serves: what the name ends in, its content type, its encoder.
struct Format {
    ext: &'static str,
    content_type: &'static str,
    encode: fn(&LiveEpisode, &ExportWorld, &ExportOptions) -> Result<Vec<u8>, ExportError>,
}

const FORMATS: [Format; 2] = [
    Format {
        ext: ".gif",
        content_type: "image/gif",
        encode: episode_gif,
    },
    Format {
        ext: ".mp4",
        content_type: "video/mp4",
        encode: episode_mp4,
    },
];

/// `<id>.gif` or `<id>.mp4`: the episode id and the format.
fn parse_file(file: &str) -> Result<(u64, &'static Format), ProtocolError> {
    FORMATS
        .iter()
        .find_map(|f| {
            let id = file.strip_suffix(f.ext)?.parse().ok()?;
            Some((id, f))
        })
        .ok_or_else(|| {
            bad(format!(
                "`{file}`: expected <episode id>.gif or <episode id>.mp4"
            ))
        })
}

async fn export(
    runs: Runs,
    run: String,
    file: &str,
    q: HashMap<String, String>,
) -> Result<(Vec<u8>, &'static str), ProtocolError> {
    let hub = runs.hub(&run).ok_or_else(|| {
        ProtocolError::new(
            ErrorCode::UnknownRun,
            format!("no run `{run}` on this server"),
        )
    })?;
    let (id, format) = parse_file(file)?;
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
    let encode = format.encode;
    let bytes = tokio::task::spawn_blocking(move || encode(&episode, &world, &opts))
        .await
        .map_err(|_| ProtocolError::new(ErrorCode::Internal, "the export stopped"))?
        .map_err(|e| {
            if e.is_request() {
                bad(e.to_string())
            } else {
                ProtocolError::new(ErrorCode::Internal, crate::error::chain(&e))
            }
        })?;
    Ok((bytes, format.content_type))
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
                    match export(runs, run, &file, q).await {
                        Ok((bytes, content_type)) => {
                            let name = format!("townlet-{file}");
                            let r = reply::with_header(bytes, "content-type", content_type);
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
