//! Overlapped updates (docs/training.md#overlapped-updates): the feed-forward learner's
//! hand-written DQN update runs on a second thread while the agent goes on acting.
//!
//! The agent hands the learner thread a copy of the learner's state (cheap: burn tensors
//! share their storage) and a sampled batch, and takes the stepped state back the next time
//! an update is due, just before it hands over the next one. Meanwhile it acts on the
//! weights from before the update — a policy one update (`train_frequency` steps) behind.
//! Nothing the two threads do depends on timing: the update reads only what it was given,
//! the agent only its own copy, so a run is bit-identical from run to run. The agent takes
//! the result back at every episode end too, so checkpoints (written between episodes)
//! never see an update in flight.

use crate::learner::{Learner, LearnerNet, UpdateStats};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Name of the learner thread. It starts with the runner's compute-thread prefix
/// (`townlet-comp-`), so benchmarks count its CPU time with burn's compute threads.
pub const LEARNER_THREAD: &str = "townlet-comp-learner";

/// How long the learner thread polls for the next update before it sleeps: a little
/// longer than the `train_frequency` steps between two updates. In a virtual machine a
/// sleeping thread can take 100 µs or more to wake, which would undo the overlap. Between
/// two polls a thread yields its core, so a server sharing the machine (`townlet-demo`)
/// still gets it.
const SPIN_WORKER: Duration = Duration::from_millis(2);
/// How long the agent polls for the update in flight before it sleeps (an L1 update takes
/// about 0.4 ms).
const SPIN_AGENT: Duration = Duration::from_millis(5);

/// The next message on `rx`: polled for up to `spin` (yielding the core between polls),
/// then waited for. `None` when the sending side is gone.
fn receive<T>(rx: &Receiver<T>, spin: Duration) -> Option<T> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) if start.elapsed() < spin => std::thread::yield_now(),
            Err(TryRecvError::Empty) => return rx.recv().ok(),
        }
    }
}

/// One update for the learner thread: a copy of the learner and a batch.
struct Job<N: LearnerNet> {
    learner: Learner<N>,
    batch: N::Batch,
    /// Sync the target net after this update.
    sync: bool,
}

/// What comes back: the stepped learner, the batch (its buffers are reused) and the
/// update's statistics and duration.
pub(crate) struct Done<N: LearnerNet> {
    pub(crate) learner: Learner<N>,
    pub(crate) batch: N::Batch,
    pub(crate) stats: UpdateStats,
    pub(crate) update_ns: u64,
}

/// The learner thread and at most one update in flight.
pub(crate) struct Overlap<N: LearnerNet>
where
    N::Batch: Send + 'static,
{
    jobs: Option<Sender<Job<N>>>,
    done: Receiver<std::thread::Result<Done<N>>>,
    in_flight: bool,
    thread: Option<JoinHandle<()>>,
}

impl<N> Overlap<N>
where
    N: LearnerNet + Send + 'static,
    N::Batch: Send + 'static,
{
    /// Start the learner thread; `None` if the OS refuses a thread (the agent then updates
    /// in line, which trains the same net only without the lag).
    pub(crate) fn start() -> Option<Self> {
        let (jobs, rx) = channel::<Job<N>>();
        let (tx, done) = channel();
        let thread = std::thread::Builder::new()
            .name(LEARNER_THREAD.to_string())
            .spawn(move || {
                while let Some(job) = receive(&rx, SPIN_WORKER) {
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let Job {
                            mut learner,
                            batch,
                            sync,
                        } = job;
                        let t = Instant::now();
                        let stats = learner.update(&batch);
                        if sync {
                            learner.sync_target();
                        }
                        let update_ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        Done {
                            learner,
                            batch,
                            stats,
                            update_ns,
                        }
                    }));
                    let failed = out.is_err();
                    if tx.send(out).is_err() || failed {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Self {
            jobs: Some(jobs),
            done,
            in_flight: false,
            thread: Some(thread),
        })
    }

    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight
    }

    /// Hand over one update. The caller has taken back the previous one ([`Self::finish`]).
    pub(crate) fn begin(&mut self, learner: Learner<N>, batch: N::Batch, sync: bool) {
        debug_assert!(!self.in_flight, "one update in flight at a time");
        let job = Job {
            learner,
            batch,
            sync,
        };
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        // The thread is gone only after a panic, which `finish` has already raised.
        assert!(sent, "the learner thread stopped");
        self.in_flight = true;
    }

    /// Wait for the update in flight, if any, and take it back. A panic on the learner
    /// thread is raised here, on the agent's thread.
    pub(crate) fn finish(&mut self) -> Option<Done<N>> {
        if !self.in_flight {
            return None;
        }
        self.in_flight = false;
        match receive(&self.done, SPIN_AGENT) {
            Some(Ok(done)) => Some(done),
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => unreachable!("the learner thread stopped with an update in flight"),
        }
    }
}

impl<N: LearnerNet> Drop for Overlap<N>
where
    N::Batch: Send + 'static,
{
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once the update in flight is done.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
