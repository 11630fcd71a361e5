//! Network snapshots for the viewer server's probes (docs/usage.md#asking-the-agent):
//! every `training.snapshot_interval` episodes the runner hands a copy of the acting
//! network to a callback. The callback must never block (the unified server's does a
//! `try_send` on a bounded queue and counts what it drops); taking the copy costs a
//! few reference-count increments, the weights are shared and never mutated.

use super::DemoRunner;
use townlet_agent::NetworkSnapshot;

/// Receives each snapshot on the training thread; must return at once.
pub type SnapshotCallback = Box<dyn FnMut(NetworkSnapshot) + Send>;

impl DemoRunner {
    /// Hand a snapshot to `callback` after every `training.snapshot_interval`-th
    /// episode (episode `e` with `(e + 1) % interval == 0`), labelled with `e`: the
    /// network that starts episode `e + 1`.
    pub fn set_snapshot_callback(&mut self, callback: SnapshotCallback) {
        self.on_snapshot = Some(callback);
    }

    /// Called after episode `e` finished (its end-of-episode updates done).
    pub(super) fn offer_snapshot(&mut self, e: u64) {
        let every = self.pack.training.snapshot_interval.max(1);
        if !(e + 1).is_multiple_of(every) {
            return;
        }
        if let Some(cb) = self.on_snapshot.as_mut() {
            cb(self.agent.snapshot(e));
        }
    }
}
