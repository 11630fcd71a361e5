//! Each client's bounded outgoing queue. Pushing never waits: when the queue is full the
//! oldest message goes (a skipped episode is counted), and an undelivered `episode` is
//! replaced by a newer one. So a slow client only ever costs its own messages.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::Notify;

/// What a queued frame is, for the drop rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Summary,
    Episode,
    Other,
}

#[derive(Debug, Clone)]
pub(crate) enum Out {
    Text(Arc<str>, Kind),
    Ping,
    Close(u16, &'static str),
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Out>,
    closed: bool,
    skipped: u64,
}

#[derive(Debug)]
pub(crate) struct OutQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    cap: usize,
}

impl OutQueue {
    pub(crate) fn new(cap: usize) -> OutQueue {
        OutQueue {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            cap: cap.max(4),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a frame; returns how many episodes this push skipped.
    pub(crate) fn push(&self, text: Arc<str>, kind: Kind) -> u64 {
        let mut q = self.lock();
        if q.closed {
            return 0;
        }
        let mut skipped = 0;
        if kind == Kind::Episode {
            let before = q.items.len();
            q.items
                .retain(|o| !matches!(o, Out::Text(_, Kind::Episode)));
            skipped += (before - q.items.len()) as u64;
        }
        while q.items.len() >= self.cap {
            match q.items.pop_front() {
                Some(Out::Text(_, Kind::Episode | Kind::Summary)) => skipped += 1,
                Some(Out::Close(code, reason)) => {
                    // Never lose a close: put it back at the end.
                    q.items.push_back(Out::Close(code, reason));
                    break;
                }
                _ => {}
            }
        }
        q.items.push_back(Out::Text(text, kind));
        q.skipped += skipped;
        drop(q);
        self.notify.notify_one();
        skipped
    }

    pub(crate) fn push_ping(&self) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        q.items.push_back(Out::Ping);
        drop(q);
        self.notify.notify_one();
    }

    /// Queues a close frame; nothing is queued after it.
    pub(crate) fn close(&self, code: u16, reason: &'static str) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        q.items.push_back(Out::Close(code, reason));
        q.closed = true;
        drop(q);
        self.notify.notify_one();
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    pub(crate) fn skipped(&self) -> u64 {
        self.lock().skipped
    }

    pub(crate) fn add_skipped(&self, n: u64) {
        self.lock().skipped += n;
    }

    /// The next frame, waiting for one.
    pub(crate) async fn pop(&self) -> Out {
        loop {
            let notified = self.notify.notified();
            if let Some(out) = self.lock().items.pop_front() {
                return out;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn full_queue_drops_oldest_and_counts_episodes() {
        let q = OutQueue::new(4);
        for i in 0..4 {
            q.push(text(&format!("s{i}")), Kind::Summary);
        }
        assert_eq!(q.push(text("s4"), Kind::Summary), 1);
        assert_eq!(q.len(), 4);
        assert_eq!(q.skipped(), 1);
    }

    #[test]
    fn newer_episode_replaces_undelivered_one() {
        let q = OutQueue::new(8);
        q.push(text("e1"), Kind::Episode);
        q.push(text("x"), Kind::Other);
        assert_eq!(q.push(text("e2"), Kind::Episode), 1);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn nothing_after_close() {
        let q = OutQueue::new(8);
        q.close(1001, "bye");
        q.push(text("x"), Kind::Other);
        assert_eq!(q.len(), 1);
    }
}
