//! HTTP routes (docs/decisions.md#one-port-serves-everything): `/ws`, `/healthz`,
//! `/api/*`, `/metrics`, static `/`. The per-run routes take `?run=<id>` and describe the
//! first run without it.

use crate::hub::{Common, Hub};
use crate::replay;
use crate::runs::Runs;
use crate::session;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use townlet_protocol::{self as proto, ErrorCode, ProtocolError};
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{self, Reply, Response};

type Query = HashMap<String, String>;

/// The run a request names with `?run=`, else the first run.
fn with_run(
    runs: Runs,
) -> impl Filter<Extract = (Result<Arc<Hub>, Response>, Query), Error = warp::Rejection> + Clone {
    warp::query::<Query>()
        .and_then(move |q: Query| {
            let hub = match q.get("run") {
                Some(id) => runs.hub(id).ok_or_else(|| {
                    error_reply(&ProtocolError::new(
                        ErrorCode::UnknownRun,
                        format!("no run `{id}` on this server"),
                    ))
                }),
                None => runs.first().ok_or_else(|| {
                    error_reply(&ProtocolError::new(
                        ErrorCode::NotAvailable,
                        "this server has no runs yet",
                    ))
                }),
            };
            let found: Result<_, warp::Rejection> = Ok((hub, q));
            std::future::ready(found)
        })
        .untuple_one()
}

fn error_reply(e: &ProtocolError) -> Response {
    let status = match e.code {
        ErrorCode::UnknownEpisode | ErrorCode::UnknownRun => StatusCode::NOT_FOUND,
        ErrorCode::NotAvailable => StatusCode::NOT_FOUND,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    reply::with_status(
        reply::json(&json!({"code": e.code, "message": e.message})),
        status,
    )
    .into_response()
}

/// A WebSocket upgrade refused (403) with the reason as JSON.
fn refused(why: &str) -> Response {
    reply::with_status(
        reply::json(&json!({"code": ErrorCode::Forbidden, "message": why})),
        StatusCode::FORBIDDEN,
    )
    .into_response()
}

fn json_text(text: String) -> Response {
    reply::with_header(text, "content-type", "application/json").into_response()
}

/// Every route, ready for `warp::serve`.
pub(crate) fn routes(
    common: Arc<Common>,
    runs: Runs,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let transport_limit = common.opts.max_frame.saturating_mul(4);
    let static_dir = common.opts.static_dir.clone();
    let ws = {
        let (common, runs) = (Arc::clone(&common), runs.clone());
        let check_origin = !crate::teacher::is_loopback_host(&common.opts.host);
        warp::path("ws")
            .and(warp::path::end())
            .and(warp::ws())
            .and(warp::query::<Query>())
            .and(warp::addr::remote())
            .and(warp::header::optional::<String>("origin"))
            .and(warp::header::optional::<String>("host"))
            .then(
                move |ws: warp::ws::Ws,
                      q: Query,
                      addr: Option<std::net::SocketAddr>,
                      origin: Option<String>,
                      host: Option<String>| {
                    let (common, runs) = (Arc::clone(&common), runs.clone());
                    async move {
                        // docs/security.md: no cross-site WebSocket hijacking when other
                        // machines can reach the server.
                        if check_origin
                            && !crate::teacher::origin_allowed(origin.as_deref(), host.as_deref())
                        {
                            common.teacher.bad_origins.fetch_add(1, Ordering::Relaxed);
                            return refused("the page's origin is not this server");
                        }
                        let role = match common
                            .teacher
                            .role(q.get("token").map(String::as_str), addr.map(|a| a.ip()))
                        {
                            Ok(role) => role,
                            Err(wait) => {
                                tokio::time::sleep(wait).await;
                                return refused("wrong teacher token");
                            }
                        };
                        let requested = q.get("run").cloned();
                        // Frames up to 4× the limit reach the session, which answers `error` and
                        // closes with 1009 (docs/decisions.md#oversized-and-malformed-frames);
                        // beyond that the WebSocket layer cuts them off.
                        ws.max_message_size(transport_limit)
                            .max_frame_size(transport_limit)
                            .on_upgrade(move |socket| {
                                session::run(common, runs, requested, role, socket)
                            })
                            .into_response()
                    }
                },
            )
    };

    let healthz = warp::path("healthz")
        .and(warp::path::end())
        .map(|| "ok\n".into_response());

    let runs_list = {
        let runs = runs.clone();
        warp::path!("api" / "runs").map(move || reply::json(&runs.infos()).into_response())
    };

    let status = {
        let (common, all) = (Arc::clone(&common), runs.clone());
        warp::path!("api" / "status")
            .and(with_run(runs.clone()))
            .map(move |hub: Result<Arc<Hub>, Response>, _q: Query| {
                let mut status = match hub {
                    Ok(hub) => status_json(&hub),
                    Err(_) => json!({"protocol_version": proto::PROTOCOL_VERSION}),
                };
                status["runs"] = json!(all.ids().len());
                status["clients"] = json!(common.client_count());
                status["uptime_s"] = json!(common.started.elapsed().as_secs());
                status["clients_timed_out"] =
                    json!(common.clients_timed_out.load(Ordering::Relaxed));
                status["clients_refused"] = json!(common.clients_refused.load(Ordering::Relaxed));
                reply::json(&status).into_response()
            })
    };

    let episodes = warp::path!("api" / "episodes")
        .and(with_run(runs.clone()))
        .then(|hub: Result<Arc<Hub>, Response>, q: Query| async move {
            let hub = match hub {
                Ok(hub) => hub,
                Err(reply) => return reply,
            };
            let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
                None => 1000,
                Some(Ok(l)) if (1..=100_000).contains(&l) => l,
                Some(_) => {
                    return error_reply(&ProtocolError::new(
                        ErrorCode::InvalidValue,
                        "limit must be an integer in 1..=100000",
                    ));
                }
            };
            match replay::episodes(hub.run_dir.as_deref(), limit).await {
                Ok(rows) => reply::json(&rows).into_response(),
                Err(e) => error_reply(&e),
            }
        });

    let recordings = warp::path!("api" / "recordings")
        .and(with_run(runs.clone()))
        .then(|hub: Result<Arc<Hub>, Response>, q: Query| async move {
            let hub = match hub {
                Ok(hub) => hub,
                Err(reply) => return reply,
            };
            let filters = match recording_filters(&q) {
                Ok(f) => f,
                Err(e) => return error_reply(&e),
            };
            match replay::list(hub.run_dir.as_deref(), filters).await {
                Ok(mut list) => {
                    list.run_id = hub.id().to_owned();
                    reply::json(&list).into_response()
                }
                Err(e) => error_reply(&e),
            }
        });

    let recording = warp::path!("api" / "recordings" / u64)
        .and(with_run(runs.clone()))
        .then(
            |id: u64, hub: Result<Arc<Hub>, Response>, _q: Query| async move {
                let hub = match hub {
                    Ok(hub) => hub,
                    Err(reply) => return reply,
                };
                match replay::load(hub.run_dir.as_deref(), id).await {
                    Ok(ep) => {
                        let entry = crate::hub::Entry::new(ep, proto::Source::Replay, None, false);
                        json_text(entry.json(hub.id()).to_string())
                    }
                    Err(e) => error_reply(&e),
                }
            },
        );

    let episode_export = crate::export::route(runs.clone());

    let metrics = warp::path("metrics").and(warp::path::end()).map(move || {
        reply::with_header(
            metrics_text(&common, &runs),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .into_response()
    });

    let api = ws
        .or(healthz)
        .unify()
        .or(runs_list)
        .unify()
        .or(status)
        .unify()
        .or(episodes)
        .unify()
        .or(recordings)
        .unify()
        .or(recording)
        .unify()
        .or(episode_export)
        .unify()
        .or(metrics)
        .unify();
    api.or(static_files(static_dir)).unify().boxed()
}

/// The built frontend, with `index.html` for unknown paths (client-side routes); when
/// it is not built, `/` says how to build it.
fn static_files(
    dir: Option<PathBuf>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let built = dir.filter(|d| d.join("index.html").is_file());
    let missing = warp::get()
        .and(warp::path::end())
        .map(|| {
            reply::with_status(reply::html(NOT_BUILT), StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        })
        .boxed();
    match built {
        Some(dir) => {
            let index = dir.join("index.html");
            warp::fs::dir(dir)
                .map(Reply::into_response)
                .or(warp::get()
                    .and(warp::fs::file(index))
                    .map(Reply::into_response))
                .unify()
                .boxed()
        }
        None => missing,
    }
}

const NOT_BUILT: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>Townlet: frontend not built</title></head>
<body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">
<h1>Townlet server is running</h1>
<p>The viewer (the frontend) has not been built, so there is nothing to show here yet.
Build it once, then reload this page:</p>
<pre>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>(or point the server at a built copy with <code>--static DIR</code>).</p>
<p>Meanwhile the WebSocket at <code>/ws</code> and the JSON API at
<a href=\"/api/status\"><code>/api/status</code></a> work.</p>
</body></html>
";

/// Query parameter `key` as a number, if given (`invalid_value` naming it when not one).
pub(crate) fn query_num<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, ProtocolError> {
    q.get(key)
        .map(|v| {
            v.parse().map_err(|_| {
                ProtocolError::new(
                    ErrorCode::InvalidValue,
                    format!("{key}: not a number: {v:?}"),
                )
            })
        })
        .transpose()
}

fn recording_filters(
    q: &HashMap<String, String>,
) -> Result<proto::RecordingFilters, ProtocolError> {
    let end_reason = match q.get("end_reason") {
        None => None,
        Some(v) => Some(
            serde_json::from_value(serde_json::Value::String(v.clone())).map_err(|_| {
                ProtocolError::new(
                    ErrorCode::InvalidValue,
                    format!("end_reason: unknown value {v:?}"),
                )
            })?,
        ),
    };
    let min_reward: Option<f64> = query_num(q, "min_reward")?;
    let max_reward: Option<f64> = query_num(q, "max_reward")?;
    if min_reward.is_some_and(|r| !r.is_finite()) || max_reward.is_some_and(|r| !r.is_finite()) {
        return Err(ProtocolError::new(
            ErrorCode::InvalidValue,
            "reward bounds must be finite",
        ));
    }
    let filters = proto::RecordingFilters {
        stage: query_num(q, "stage")?,
        reason: q.get("reason").cloned(),
        end_reason,
        min_reward,
        max_reward,
        limit: query_num(q, "limit")?,
    };
    filters.validate()?;
    Ok(filters)
}

fn mode_name(mode: proto::Mode) -> &'static str {
    match mode {
        proto::Mode::Live => "live",
        proto::Mode::Checkpoint => "checkpoint",
    }
}

fn callback_failures(hub: &Hub) -> u64 {
    hub.live.as_ref().map_or(0, |(c, _)| c.callback_failures())
}

pub(crate) fn status_json(hub: &Hub) -> serde_json::Value {
    let totals = hub.totals();
    let c = &hub.counters;
    json!({
        "mode": mode_name(hub.mode),
        "config": hub.world.pack,
        "episodes_trained": totals.episodes_trained,
        "steps_trained": totals.steps_trained,
        "episodes_streamed": totals.episodes_streamed,
        "dropped": totals.dropped,
        "callback_failures": callback_failures(hub),
        "run_id": hub.id(),
        "watching": hub.client_count(),
        "queue_len": hub.queue_len(),
        "skipped": c.skipped.load(Ordering::Relaxed),
        "model": hub.model(),
        "run_dir": hub.run_dir.as_ref().map(|d| d.display().to_string()),
        "protocol_version": proto::PROTOCOL_VERSION,
    })
}

/// Prometheus text: every counter summed over the runs.
pub(crate) fn metrics_text(common: &Common, runs: &Runs) -> String {
    use std::fmt::Write;
    let hubs = runs.served();
    let sum = |f: &dyn Fn(&Hub) -> u64| -> f64 { hubs.iter().map(|h| f(h)).sum::<u64>() as f64 };
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let totals: Vec<proto::Totals> = hubs.iter().map(|h| h.totals()).collect();
    let total =
        |f: &dyn Fn(&proto::Totals) -> u64| -> f64 { totals.iter().map(f).sum::<u64>() as f64 };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(out, "# HELP townlet_{name} {help}");
        let _ = writeln!(out, "# TYPE townlet_{name} {kind}");
        let _ = writeln!(out, "townlet_{name} {value}");
    };
    metric(
        "episodes_trained_total",
        "counter",
        "Episodes finished by the trainer (live) or played by the server (checkpoint).",
        total(&|t| t.episodes_trained),
    );
    metric(
        "steps_trained_total",
        "counter",
        "Env steps in those episodes.",
        total(&|t| t.steps_trained),
    );
    metric(
        "episodes_streamed_total",
        "counter",
        "Episodes that reached the server.",
        total(&|t| t.episodes_streamed),
    );
    metric(
        "live_dropped_total",
        "counter",
        "Episodes the live queue dropped because it was full.",
        total(&|t| t.dropped),
    );
    metric(
        "callback_failures_total",
        "counter",
        "Live-stream callback failures.",
        sum(&callback_failures),
    );
    metric(
        "live_queue_length",
        "gauge",
        "Episodes waiting in the live queue.",
        sum(&|h| u64::from(h.queue_len())),
    );
    metric(
        "clients",
        "gauge",
        "Connected WebSocket clients.",
        common.client_count() as f64,
    );
    metric(
        "clients_connected_total",
        "counter",
        "WebSocket clients accepted since start.",
        l(&common.clients_total) as f64,
    );
    metric(
        "clients_refused_total",
        "counter",
        "WebSocket clients refused (server full).",
        l(&common.clients_refused) as f64,
    );
    metric(
        "clients_timed_out_total",
        "counter",
        "Clients dropped because they stopped reading.",
        l(&common.clients_timed_out) as f64,
    );
    metric(
        "summaries_sent_total",
        "counter",
        "episode_summary messages queued to clients.",
        sum(&|h| l(&h.counters.summaries_sent)),
    );
    metric(
        "episodes_sent_total",
        "counter",
        "Full episode messages queued to clients.",
        sum(&|h| l(&h.counters.episodes_sent)),
    );
    metric(
        "client_skipped_total",
        "counter",
        "Episodes skipped by slow or live-following clients.",
        sum(&|h| l(&h.counters.skipped)),
    );
    metric(
        "bad_requests_total",
        "counter",
        "Client messages answered with an error.",
        sum(&|h| l(&h.counters.bad_requests)),
    );
    metric(
        "forbidden_total",
        "counter",
        "Teacher-only messages refused from viewers' connections.",
        l(&common.teacher.forbidden) as f64,
    );
    metric(
        "teacher_token_refused_total",
        "counter",
        "WebSocket connections refused for a wrong teacher token.",
        l(&common.teacher.bad_tokens) as f64,
    );
    metric(
        "origin_refused_total",
        "counter",
        "WebSocket connections refused for a foreign Origin (non-loopback bind).",
        l(&common.teacher.bad_origins) as f64,
    );
    metric(
        "checkpoint_errors_total",
        "counter",
        "Checkpoints that failed to load.",
        sum(&|h| l(&h.counters.checkpoint_errors)),
    );
    metric(
        "models_loaded_total",
        "counter",
        "Checkpoints loaded.",
        sum(&|h| l(&h.counters.models_loaded)),
    );
    metric(
        "steps_per_second",
        "gauge",
        "Env steps per second over the last stats interval.",
        hubs.iter().map(|h| h.steps_rate()).sum(),
    );
    metric(
        "uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        common.started.elapsed().as_secs_f64(),
    );
    out.push_str(&runs.extra_metrics());
    out
}
