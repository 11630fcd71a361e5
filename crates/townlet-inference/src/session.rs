//! One WebSocket client: its session (delivery, speed, filter, policy), its writer task
//! and its liveness checks (docs/protocol.md). Nothing here can block another client.

use crate::convert;
use crate::hub::{ClientHandle, Common, Entry, Hub};
use crate::queue::{Kind, Out};
use crate::replay;
use crate::runs::Runs;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use townlet_protocol::{
    self as proto, ClientMessage, Delivery, ErrorCode, Filter, Order, ProtocolError, ServerMessage,
    Source, Speed, parse_client_message, to_json, unix_ms_now,
};
use warp::ws::{Message, WebSocket};

/// Close codes.
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_TRY_LATER: u16 = 1013;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    ClientGone,
    TimedOut,
    Shutdown,
    FrameTooLarge,
}

/// A server-paced episode being sent step by step.
struct Playing {
    entry: Arc<Entry>,
    index: usize,
}

struct Session {
    /// The run this client watches.
    hub: Arc<Hub>,
    runs: Runs,
    id: u64,
    client: Arc<ClientHandle>,
    delivery: Delivery,
    speed: Speed,
    filter: Filter,
    greedy: bool,
    paused: bool,
    /// The last episode delivered (whole or as steps).
    current: Option<Arc<Entry>>,
    playing: Option<Playing>,
    next_step_at: Instant,
    /// A `next` waiting for an episode that has not arrived yet.
    pending: Option<(Option<u64>, Order)>,
    /// Teacher or viewer (the `?token=` of the connection).
    role: proto::Role,
    /// A viewer follows the presenting teacher unless it detached (`follow {on: false}`).
    following: bool,
    /// Whether the last `presenting` this client got said "active".
    presenting_seen: bool,
}

/// Refuses a connection when the server is full, else runs the session to its end.
/// `requested`: the run named by `/ws?run=`.
pub(crate) async fn run(
    common: Arc<Common>,
    runs: Runs,
    requested: Option<String>,
    role: proto::Role,
    ws: WebSocket,
) {
    let Some((id, client)) = common.register() else {
        common.clients_refused.fetch_add(1, Ordering::Relaxed);
        refuse(ws, common.opts.max_clients).await;
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let write_timeout = common.opts.client_timeout;
    let writer_client = Arc::clone(&client);
    let mut writer = tokio::spawn(async move {
        loop {
            let (msg, last) = match writer_client.queue.pop().await {
                Out::Text(text, _) => (Message::text(&*text), false),
                Out::Ping => (Message::ping(Vec::new()), false),
                Out::Close(code, reason) => (Message::close_with(code, reason), true),
            };
            match tokio::time::timeout(write_timeout, sink.send(msg)).await {
                Ok(Ok(())) if !last => {}
                Ok(Ok(())) => return true,
                // The client went away, or has not read for `client_timeout`.
                Ok(Err(_)) => return true,
                Err(_) => return false,
            }
        }
    });

    // The run to watch: the requested one, else the first (waiting for one to exist).
    let mut shutdown = common.shutdown.clone();
    if let Some(wanted) = requested.as_deref()
        && runs.hub(wanted).is_none()
    {
        client.queue.push(
            Arc::from(to_json(&unknown_run(wanted, &runs).to_server_message())),
            Kind::Other,
        );
    }
    let mut listed = runs.subscribe();
    let first = loop {
        if let Some(hub) = requested
            .as_deref()
            .and_then(|r| runs.hub(r))
            .or_else(|| runs.first())
        {
            break Some(hub);
        }
        tokio::select! {
            _ = listed.changed() => {}
            _ = shutdown.changed() => break None,
        }
    };
    let Some(hub) = first else {
        writer.abort();
        common.unregister();
        return;
    };
    hub.attach(id, &client);

    let mut s = Session {
        delivery: Delivery::Episode,
        speed: Speed::default(),
        filter: Filter::All,
        greedy: hub.default_greedy,
        paused: false,
        current: None,
        playing: None,
        next_step_at: Instant::now(),
        pending: None,
        hub: Arc::clone(&hub),
        runs,
        id,
        client: Arc::clone(&client),
        role,
        following: true,
        presenting_seen: false,
    };
    let mut presenter = common.teacher.presenter.subscribe();
    s.greet();
    // A viewer that connects while the teacher presents joins at the teacher's position.
    let now = presenter.borrow_and_update().clone();
    if now.active {
        s.on_presenter(now);
    }
    client.greeted.store(true, Ordering::Release);
    s.offer_recording().await;

    let mut version = hub.version.subscribe();
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(common.opts.ping_interval);
    ping.tick().await;
    let max_frame = common.opts.max_frame;

    let end = loop {
        let stepping = s.playing.is_some() && !s.paused && s.delivery == Delivery::Steps;
        let step_at = s.next_step_at;
        tokio::select! {
            inbound = stream.next() => {
                last_heard = Instant::now();
                match inbound {
                    Some(Ok(msg)) => {
                        if msg.is_close() {
                            break End::ClientGone;
                        }
                        if msg.is_text() || msg.is_binary() {
                            let bytes = msg.as_bytes();
                            if bytes.len() > max_frame {
                                s.error(&ProtocolError::new(
                                    ErrorCode::FrameTooLarge,
                                    format!("frame of {} bytes exceeds {max_frame} bytes", bytes.len()),
                                ));
                                break End::FrameTooLarge;
                            }
                            match msg.to_str() {
                                Ok(text) if msg.is_text() => {
                                    let watched = Arc::clone(&s.hub);
                                    s.handle(text).await;
                                    // `watch` switched runs: follow the new run's episodes.
                                    if !Arc::ptr_eq(&watched, &s.hub) {
                                        version = s.hub.version.subscribe();
                                    }
                                }
                                _ => s.error(&ProtocolError::new(
                                    ErrorCode::InvalidJson,
                                    "binary frames are not accepted: send JSON text frames",
                                )),
                            }
                        }
                    }
                    // Includes frames beyond the transport limit (closed with 1009 there).
                    Some(Err(_)) | None => break End::ClientGone,
                }
            }
            changed = version.changed(), if s.pending.is_some() => {
                if changed.is_err() {
                    break End::Shutdown;
                }
                s.retry_pending();
            }
            _ = tokio::time::sleep_until(step_at), if stepping => s.step_tick(),
            changed = presenter.changed() => {
                if changed.is_ok() {
                    let now = presenter.borrow_and_update().clone();
                    s.on_presenter(now);
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > common.opts.client_timeout {
                    break End::TimedOut;
                }
                client.queue.push_ping();
            }
            done = &mut writer => {
                break match done {
                    Ok(true) | Err(_) => End::ClientGone,
                    Ok(false) => End::TimedOut,
                };
            }
            _ = shutdown.changed() => break End::Shutdown,
        }
    };

    match end {
        End::Shutdown | End::FrameTooLarge => {
            let (code, reason) = if end == End::Shutdown {
                (CLOSE_GOING_AWAY, "server shutting down")
            } else {
                (CLOSE_TOO_BIG, "frame too large")
            };
            client.queue.close(code, reason);
            if tokio::time::timeout(common.opts.shutdown_grace, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
        }
        End::TimedOut => {
            common.clients_timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::info!(client = id, "client stopped reading; disconnected");
            writer.abort();
        }
        End::ClientGone => writer.abort(),
    }
    s.hub.detach(id);
    common.unregister();
}

/// The `unknown_run` error for `wanted`, listing the runs there are.
fn unknown_run(wanted: &str, runs: &Runs) -> ProtocolError {
    let mut shown: String = wanted.chars().take(64).collect();
    if shown.len() < wanted.len() {
        shown.push('…');
    }
    ProtocolError::new(
        ErrorCode::UnknownRun,
        format!(
            "no run `{shown}` on this server (runs: {})",
            runs.ids().join(", ")
        ),
    )
}

/// The server is full: one `error`, then a close.
async fn refuse(mut ws: WebSocket, max: usize) {
    let err = ProtocolError::new(
        ErrorCode::TooManyClients,
        format!("the server already has {max} viewers; try again later"),
    );
    let text = to_json(&err.to_server_message());
    let send = async {
        ws.send(Message::text(text)).await?;
        ws.send(Message::close_with(CLOSE_TRY_LATER, "too many clients"))
            .await?;
        ws.close().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), send).await;
}

impl Session {
    fn push(&self, msg: &ServerMessage) {
        self.client.queue.push(Arc::from(to_json(msg)), Kind::Other);
    }

    fn error(&self, e: &ProtocolError) {
        self.hub
            .counters
            .bad_requests
            .fetch_add(1, Ordering::Relaxed);
        // A bad frame is about no run; a failed command is about the watched one.
        let run_id =
            (e.request.is_some() && e.code != ErrorCode::UnknownRun).then(|| self.hub.id());
        self.push(&e.to_server_message_for(run_id));
    }

    fn policy(&self) -> Option<bool> {
        (self.hub.mode == proto::Mode::Checkpoint).then_some(self.greedy)
    }

    fn session_info(&self) -> proto::SessionInfo {
        proto::SessionInfo {
            delivery: self.delivery,
            speed: self.speed,
            filter: self.filter,
            greedy: self.greedy,
        }
    }

    /// hello, stats with history, (model_loaded), the latest episode
    /// (docs/decisions.md#what-hello-carries).
    fn greet(&mut self) {
        let hub = Arc::clone(&self.hub);
        let mut hello = hub.world.hello(hub.mode, hub.totals(), self.session_info());
        hello.run_id = hub.id().to_owned();
        hello.runs = self.runs.infos();
        hello.lab_title = self.runs.lab_title().map(str::to_owned);
        hello.role = self.role;
        self.push(&ServerMessage::Hello(hello));
        self.push(&hub.stats(0, true));
        let events = hub.events.all();
        if !events.is_empty() {
            self.push(&ServerMessage::TrainingEvents(proto::TrainingEvents {
                run_id: hub.id().to_owned(),
                events,
                full: true,
            }));
        }
        if let Some(model) = hub.model_json() {
            self.client.queue.push(model, Kind::Other);
        }
        self.next(None, Order::Latest);
    }

    /// Delivers the episode `next {after, order}` picks, or waits for one.
    fn next(&mut self, after: Option<u64>, order: Order) {
        self.pending = None;
        let (picked, skipped) = self.hub.pick(after, order, self.filter, self.policy());
        if skipped > 0 {
            self.client.queue.add_skipped(skipped);
            self.hub
                .counters
                .skipped
                .fetch_add(skipped, Ordering::Relaxed);
        }
        match picked {
            Some(entry) => self.deliver(entry),
            None => {
                self.pending = Some((after, order));
                self.hub.request_episode(self.greedy);
            }
        }
    }

    fn retry_pending(&mut self) {
        if let Some((after, order)) = self.pending {
            self.next(after, order);
        }
    }

    fn deliver(&mut self, entry: Arc<Entry>) {
        self.current = Some(Arc::clone(&entry));
        match self.delivery {
            Delivery::Episode => {
                self.playing = None;
                self.hub
                    .counters
                    .episodes_sent
                    .fetch_add(1, Ordering::Relaxed);
                self.client
                    .queue
                    .push(entry.json(self.hub.id()), Kind::Episode);
            }
            Delivery::Steps => self.start_steps(entry),
        }
    }

    fn start_steps(&mut self, entry: Arc<Entry>) {
        let ep = &entry.episode;
        self.push(&ServerMessage::EpisodeStart(proto::EpisodeStart {
            run_id: self.hub.id().to_owned(),
            episode_id: ep.episode_id,
            source: entry.source,
            checkpoint_episode: entry.checkpoint_episode,
            agent_id: ep.agent_id,
            layout: convert::layout(ep),
            start: convert::start(ep),
            total_steps: ep.len() as u32,
            finished_at: ep.finished_at,
            sent_at: unix_ms_now(),
        }));
        self.playing = Some(Playing { entry, index: 0 });
        self.next_step_at = Instant::now() + self.step_interval();
    }

    fn step_interval(&self) -> Duration {
        match self.speed.steps_per_second() {
            Some(sps) if sps > 0.0 => Duration::from_secs_f64(1.0 / sps),
            _ => Duration::ZERO,
        }
    }

    /// Paced delivery: one step when due, unless this client's queue is backed up (then
    /// the pace slows to what the client reads).
    fn step_tick(&mut self) {
        let queue = &self.client.queue;
        if queue.len() > queue.capacity() / 2 {
            self.next_step_at = Instant::now() + Duration::from_millis(20);
            return;
        }
        self.send_step();
        self.next_step_at = Instant::now() + self.step_interval();
    }

    /// Sends the next step, or `episode_end` and moves on to the next episode.
    fn send_step(&mut self) {
        let Some(playing) = self.playing.as_mut() else {
            return;
        };
        let ep = Arc::clone(&playing.entry.episode);
        match ep.step(playing.index) {
            Some(step) => {
                let msg = ServerMessage::Step(proto::StepMessage {
                    run_id: self.hub.id().to_owned(),
                    episode_id: ep.episode_id,
                    index: playing.index as u32,
                    row: convert::step_row(step),
                });
                playing.index += 1;
                self.push(&msg);
            }
            None => {
                let source = playing.entry.source;
                self.playing = None;
                self.push(&ServerMessage::EpisodeEnd(proto::EpisodeEnd {
                    run_id: self.hub.id().to_owned(),
                    episode_id: ep.episode_id,
                    source,
                    metadata: convert::metadata(&ep.metadata),
                    sent_at: unix_ms_now(),
                }));
                let after = if source == Source::Replay {
                    None
                } else {
                    Some(ep.episode_id)
                };
                self.next(after, Order::Latest);
            }
        }
    }

    async fn handle(&mut self, text: &str) {
        let msg = match parse_client_message(text) {
            Ok(m) => m,
            Err(e) => return self.error(&e),
        };
        let request = msg.type_name();
        if let Err(e) = self.command(msg).await {
            let e = ProtocolError {
                request: Some(request.to_owned()),
                ..e
            };
            self.error(&e);
        }
    }

    async fn command(&mut self, msg: ClientMessage) -> Result<(), ProtocolError> {
        let not_paced = |what: &str| {
            ProtocolError::new(
                ErrorCode::NotAvailable,
                format!(
                    "{what} applies to server-paced delivery (subscribe with delivery \"steps\") while an episode is being sent"
                ),
            )
        };
        match msg {
            ClientMessage::Subscribe {
                delivery,
                speed,
                filter,
            } => {
                let was = self.delivery;
                self.delivery = delivery;
                self.speed = speed;
                self.filter = filter;
                if was != delivery
                    && let Some(entry) = self.current.clone()
                {
                    self.deliver(entry);
                }
            }
            ClientMessage::Next { after, order } => self.next(after, order),
            ClientMessage::GetEpisode { id } => {
                let entry = match self.hub.get(id) {
                    Some(e) => e,
                    None => self.recorded(id).await?,
                };
                self.pending = None;
                self.deliver(entry);
            }
            ClientMessage::LoadReplay { episode_id } => {
                let entry = self.recorded(episode_id).await?;
                self.pending = None;
                self.deliver(entry);
            }
            ClientMessage::SetSpeed { speed } => {
                self.speed = speed;
                self.next_step_at = Instant::now() + self.step_interval();
            }
            ClientMessage::Pause => self.paused = true,
            ClientMessage::Resume => {
                self.paused = false;
                self.next_step_at = Instant::now() + self.step_interval();
            }
            ClientMessage::Step => {
                if self.delivery != Delivery::Steps || self.playing.is_none() {
                    return Err(not_paced("step"));
                }
                self.send_step();
                self.next_step_at = Instant::now() + self.step_interval();
            }
            ClientMessage::JumpLive => self.next(None, Order::Latest),
            ClientMessage::SetFilter { filter } => self.filter = filter,
            ClientMessage::SetPolicy { greedy } => {
                if self.hub.mode != proto::Mode::Checkpoint {
                    return Err(ProtocolError::new(
                        ErrorCode::NotAvailable,
                        "set_policy applies in checkpoint mode only",
                    ));
                }
                self.greedy = greedy;
            }
            ClientMessage::ListRecordings { filters } => {
                let mut list = replay::list(self.hub.run_dir.as_deref(), filters).await?;
                list.run_id = self.hub.id().to_owned();
                self.push(&ServerMessage::Recordings(list));
            }
            ClientMessage::Seek { index } => {
                let Some(playing) = self
                    .playing
                    .as_mut()
                    .filter(|_| self.delivery == Delivery::Steps)
                else {
                    return Err(not_paced("seek"));
                };
                let len = playing.entry.episode.len();
                if index as usize >= len {
                    return Err(ProtocolError::new(
                        ErrorCode::SeekOutOfRange,
                        format!("index {index} is past the episode's {len} steps (0..{len})"),
                    ));
                }
                playing.index = index as usize;
                self.next_step_at = Instant::now();
            }
            ClientMessage::Watch { run_id } => {
                let Some(hub) = self.runs.hub(&run_id) else {
                    return Err(unknown_run(&run_id, &self.runs));
                };
                self.watch(hub);
                self.offer_recording().await;
            }
            ClientMessage::Probe {
                run_id,
                episode_id,
                step,
                meters,
                time_of_day,
            } => {
                let Some(hub) = self.runs.hub(&run_id) else {
                    return Err(unknown_run(&run_id, &self.runs));
                };
                let entry = match hub.get(episode_id) {
                    Some(e) => e,
                    None => recorded_in(&hub, episode_id).await?,
                };
                let request = crate::probe::Request {
                    run_id,
                    entry,
                    step,
                    meters,
                    time_of_day,
                };
                // Answered when the probe thread is done; the session goes on meanwhile.
                let probes = Arc::clone(&self.hub.common.probes);
                let client = Arc::clone(&self.client);
                tokio::spawn(async move {
                    let msg = match probes.ask(request).await {
                        Ok(r) => ServerMessage::Probe((*r).clone()),
                        Err(e) => ProtocolError {
                            request: Some("probe".into()),
                            ..e
                        }
                        .to_server_message(),
                    };
                    client.queue.push(Arc::from(to_json(&msg)), Kind::Other);
                });
            }
            ClientMessage::TrainingControl { run_id, control } => {
                self.teacher_only("training_control")?;
                let hub = match run_id.as_deref() {
                    Some(id) => self
                        .runs
                        .hub(id)
                        .ok_or_else(|| unknown_run(id, &self.runs))?,
                    None => Arc::clone(&self.hub),
                };
                let Some(sink) = hub.control.get() else {
                    return Err(ProtocolError::new(
                        ErrorCode::NotAvailable,
                        format!(
                            "run `{}` has no trainer in this server to control",
                            hub.id()
                        ),
                    ));
                };
                sink(control, "teacher")
                    .map_err(|why| ProtocolError::new(ErrorCode::NotAvailable, why))?;
            }
            ClientMessage::Present { on } => {
                self.teacher_only("present")?;
                let run_id = self.hub.id().to_owned();
                self.hub.common.teacher.presenter.send_modify(|p| {
                    p.active = on;
                    p.sent_at = unix_ms_now();
                    p.state = on.then(|| {
                        p.state.clone().unwrap_or(proto::PresenterState {
                            run_id,
                            episode_id: None,
                            step: 0,
                            playing: true,
                            speed: Speed::default(),
                            overlays: Vec::new(),
                        })
                    });
                });
            }
            ClientMessage::PresenterState { state } => {
                self.teacher_only("presenter_state")?;
                let teacher = &self.hub.common.teacher;
                if !teacher.presenter.borrow().active {
                    return Err(ProtocolError::new(
                        ErrorCode::NotAvailable,
                        "presenter_state applies while presenting (send present {on: true} first)",
                    ));
                }
                if self.runs.hub(&state.run_id).is_none() {
                    return Err(unknown_run(&state.run_id, &self.runs));
                }
                teacher.presenter.send_modify(|p| {
                    p.state = Some(state);
                    p.sent_at = unix_ms_now();
                });
            }
            ClientMessage::Follow { on } => {
                self.following = on;
                if on {
                    let now = self.hub.common.teacher.presenter.borrow().clone();
                    self.push(&ServerMessage::Presenting(now));
                }
            }
        }
        Ok(())
    }

    /// Refuses (and counts) a teacher-only message from a viewer.
    fn teacher_only(&self, what: &str) -> Result<(), ProtocolError> {
        if self.role == proto::Role::Teacher {
            Ok(())
        } else {
            Err(self.hub.common.teacher.forbidden(what))
        }
    }

    /// The presenter moved, started or stopped: a following viewer gets every move, a
    /// detached one only the start and the end; the teacher's own connections nothing.
    fn on_presenter(&mut self, now: proto::Presenting) {
        if self.role == proto::Role::Teacher {
            return;
        }
        let changed = now.active != self.presenting_seen;
        if !(changed || (self.following && now.active)) {
            return;
        }
        self.presenting_seen = now.active;
        if changed && now.active {
            // Presenting starts: every viewer follows until it detaches.
            self.following = true;
        }
        self.push(&ServerMessage::Presenting(now));
    }

    /// Switches this client to another run: fresh greeting, same settings.
    fn watch(&mut self, hub: Arc<Hub>) {
        self.client.greeted.store(false, Ordering::Release);
        self.hub.detach(self.id);
        hub.attach(self.id, &self.client);
        self.hub = hub;
        self.current = None;
        self.playing = None;
        self.pending = None;
        if self.hub.mode != proto::Mode::Checkpoint {
            self.greedy = false;
        }
        self.greet();
        self.client.greeted.store(true, Ordering::Release);
    }

    /// A recorded run has nothing to play: its newest recording (as a replay) instead,
    /// so a viewer never starts on a blank screen.
    async fn offer_recording(&mut self) {
        if self.hub.run.status() != proto::RunStatus::Recorded
            || self.hub.generator.get().is_some()
            || self.current.is_some()
        {
            return;
        }
        let newest = proto::RecordingFilters {
            limit: Some(1),
            ..Default::default()
        };
        let Ok(list) = replay::list(self.hub.run_dir.as_deref(), newest).await else {
            return;
        };
        let Some(item) = list.items.first() else {
            return;
        };
        if let Ok(entry) = self.recorded(item.episode_id).await {
            self.pending = None;
            self.deliver(entry);
        }
    }

    async fn recorded(&self, id: u64) -> Result<Arc<Entry>, ProtocolError> {
        recorded_in(&self.hub, id).await
    }
}

/// Episode `id` of `hub`'s run from its recordings (as a replay).
async fn recorded_in(hub: &Hub, id: u64) -> Result<Arc<Entry>, ProtocolError> {
    let ep = replay::load(hub.run_dir.as_deref(), id)
        .await
        .map_err(|e| match e.code {
            // No run folder: to the client this episode simply does not exist.
            ErrorCode::NotAvailable => ProtocolError::new(
                ErrorCode::UnknownEpisode,
                format!(
                    "episode {id} is not among the recent episodes and there are no recordings"
                ),
            ),
            _ => e,
        })?;
    Ok(Arc::new(Entry::new(ep, Source::Replay, None, false)))
}
