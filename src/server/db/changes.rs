//! PostgreSQL: the catalogue generation known without a round trip, kept
//! current by `LISTEN/NOTIFY`. Opt-in (`CHEESESHOP_CACHE_NOTIFY=1`): by
//! default every cached answer is checked by a read (see `gate`), which is
//! strict read-after-write across instances; this is not (below).
//!
//! Every write a page can show moves the generation and sends a
//! notification on `cheeseshop_catalog` at commit (the `catalog_changed`
//! trigger). A serving instance listens on a connection of its own. While
//! that connection is live and nothing was notified since the generation was
//! last read, the generation read then is still the generation, and a cached
//! answer is checked against it in memory: PostgreSQL does no work per
//! cached request. A notification (or a write through this instance, or the
//! listening connection being lost or made again) only marks the value
//! stale; the next request reads the generation again, through the
//! coalescing [`gate`](super::gate), and everyone after it shares that read
//! until the next change. So the database is read once per change, not once
//! per batch of requests.
//!
//! What it gives up against a read per request: a write committed through
//! another instance is seen here when its notification arrives, which
//! PostgreSQL sends at commit, before the writer's client even hears that
//! its upload was accepted; on loopback or a LAN, tens of microseconds. A
//! listening connection that dies silently (a network partition that sends
//! no reset) could miss notifications: a heartbeat through the database
//! every few seconds finds out, and until the connection is made again
//! every request reads the generation itself, as without notifications.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::Notify;

/// The channel the `catalog_changed` trigger notifies (migrations/postgres).
pub const CHANNEL: &str = "cheeseshop_catalog";
/// How often the listening connection proves it still delivers.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How long a heartbeat may take to come back before the connection is
/// given up and made again.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// Waits between attempts to listen again, doubling up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What this instance knows of the generation (see the module).
#[derive(Debug, Default)]
pub struct Changes {
    /// The listening connection is up and proven: notifications arrive.
    live: AtomicBool,
    /// The number of the last listening session that ended: one that ended
    /// is never made live (its reader may end before it is proven).
    ended: std::sync::Mutex<u64>,
    /// Counts notifications, local writes and changes of `live`: a value
    /// read before the count moved may be stale.
    changes: AtomicU64,
    /// The last generation read, and the count of changes when the read
    /// was asked for.
    known: RwLock<Option<(u64, i64)>>,
    /// Reads of the generation from the database (for tests and the bench).
    reads: AtomicU64,
    /// The heartbeats sent and those received back.
    beats_sent: AtomicU64,
    beats_seen: AtomicU64,
    beat: Notify,
}

impl Changes {
    /// The generation, when it is known without asking the database.
    pub fn current(&self) -> Option<i64> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let now = self.changes.load(Ordering::Acquire);
        match *self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some((at, generation)) if at == now => Some(generation),
            _ => None,
        }
    }

    /// Taken before the database is asked for the generation: what
    /// [`Changes::remember`] is told the value is current for.
    pub fn mark(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// A generation read by a query that started after `mark` was taken:
    /// current until the next change.
    pub fn remember(&self, mark: u64, generation: i64) {
        let mut known = self.known.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *known {
            // Keep the newest: a read asked for later, or the larger value
            // of two reads asked for at the same point.
            Some((at, value)) if at > mark || (at == mark && value >= generation) => {}
            _ => *known = Some((mark, generation)),
        }
    }

    /// Something changed: the next request reads the generation again.
    pub fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Listening session `session` is proven: notifications arrive, unless
    /// it has ended already.
    fn go_live(&self, session: u64) {
        let ended = self.ended.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *ended < session {
            self.live.store(true, Ordering::Release);
            // What was known before may have missed a notification.
            self.changed();
        }
    }

    /// Listening session `session` ended: every request reads the
    /// generation until another one is proven.
    fn lost(&self, session: u64) {
        let mut ended = self.ended.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *ended = (*ended).max(session);
        self.live.store(false, Ordering::Release);
        self.changed();
    }

    /// Whether notifications are arriving.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// A read of the generation from the database is made.
    pub(crate) fn reading(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// How many reads of the generation this instance made.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// Listens for as long as the returned guard lives.
pub fn listen(pool: &PgPool, changes: Arc<Changes>) -> Listening {
    // A pool of its own, so that listening takes nothing from the requests'
    // pool and a heartbeat never waits behind a busy one (which would
    // tear a sound connection down under load): one connection listens,
    // one sends heartbeats. It reconnects with the same options.
    let options = (*pool.connect_options()).clone();
    let own = PgPoolOptions::new()
        .max_connections(2)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_lazy_with(options);
    let task = tokio::spawn(supervise(own, changes));
    Listening(task)
}

/// Stops listening when dropped (the server stopped).
#[derive(Debug)]
pub struct Listening(tokio::task::JoinHandle<()>);

impl Drop for Listening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens, proves the connection with heartbeats, and listens again when
/// it is lost, for ever.
async fn supervise(own: PgPool, changes: Arc<Changes>) {
    // Heartbeats go to a channel only this instance listens on.
    let heartbeat = format!("cheeseshop_beat_{:016x}", rand::random::<u64>());
    let mut retry = RETRY_FIRST;
    for session in 1u64.. {
        match start(&own, &heartbeat).await {
            Ok(listener) => {
                let reader = tokio::spawn(read(listener, Arc::clone(&changes), heartbeat.clone(), session));
                let abort = reader.abort_handle();
                // Listening, and the connection delivers: from here on a
                // notification is sent for every commit.
                if beat(&own, &changes, &heartbeat).await {
                    changes.go_live(session);
                    tracing::debug!("listening for catalogue changes");
                    retry = RETRY_FIRST;
                    loop {
                        tokio::time::sleep(HEARTBEAT_EVERY).await;
                        if reader.is_finished() || !beat(&own, &changes, &heartbeat).await {
                            break;
                        }
                    }
                    tracing::warn!("the connection listening for catalogue changes was lost: listening again");
                }
                abort.abort();
                changes.lost(session);
            }
            Err(error) => {
                tracing::debug!(%error, "cannot listen for catalogue changes yet");
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_MAX);
    }
}

async fn start(own: &PgPool, heartbeat: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(own).await?;
    // Lost connections end the reader; `supervise` makes a new listener.
    listener.eager_reconnect(false);
    listener.listen_all([CHANNEL, heartbeat]).await?;
    Ok(listener)
}

/// Forwards notifications until the connection is lost, and says so at
/// once: requests stop trusting the value known.
async fn read(mut listener: PgListener, changes: Arc<Changes>, heartbeat: String, session: u64) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) if notification.channel() == heartbeat => {
                if let Ok(n) = notification.payload().parse::<u64>() {
                    changes.beats_seen.fetch_max(n, Ordering::AcqRel);
                    changes.beat.notify_waiters();
                }
            }
            Ok(Some(_)) => changes.changed(),
            Ok(None) | Err(_) => {
                changes.lost(session);
                return;
            }
        }
    }
}

/// Sends a heartbeat on the second connection of the listener's pool and
/// waits for it to come back on the listening one.
async fn beat(pool: &PgPool, changes: &Changes, heartbeat: &str) -> bool {
    let n = changes.beats_sent.fetch_add(1, Ordering::AcqRel) + 1;
    let came_back = async {
        loop {
            let notified = changes.beat.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if changes.beats_seen.load(Ordering::Acquire) >= n {
                return;
            }
            notified.await;
        }
    };
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(heartbeat)
        .bind(n.to_string())
        .execute(pool);
    tokio::time::timeout(HEARTBEAT_TIMEOUT, async {
        sent.await.is_ok() && {
            came_back.await;
            true
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_current_until_the_next_change() {
        let changes = Changes::default();
        changes.go_live(1);
        assert_eq!(changes.current(), None, "nothing read yet");
        let mark = changes.mark();
        changes.remember(mark, 7);
        assert_eq!(changes.current(), Some(7));
        changes.changed();
        assert_eq!(changes.current(), None, "a notification makes it stale");
        let mark = changes.mark();
        changes.remember(mark, 8);
        assert_eq!(changes.current(), Some(8));
    }

    #[test]
    fn a_read_asked_for_before_a_change_is_not_current_after_it() {
        let changes = Changes::default();
        changes.go_live(1);
        let mark = changes.mark();
        // A write is notified while the read is in flight...
        changes.changed();
        // ...the read (which may not have seen it) comes back.
        changes.remember(mark, 7);
        assert_eq!(changes.current(), None);
    }

    #[test]
    fn nothing_is_known_while_not_listening() {
        let changes = Changes::default();
        let mark = changes.mark();
        changes.remember(mark, 7);
        assert_eq!(changes.current(), None, "never listened");
        changes.go_live(1);
        let mark = changes.mark();
        changes.remember(mark, 7);
        assert_eq!(changes.current(), Some(7));
        changes.lost(1);
        assert_eq!(changes.current(), None, "the connection was lost");
        changes.go_live(2);
        assert_eq!(changes.current(), None, "listening again: read once more");
        let mark = changes.mark();
        changes.remember(mark, 7);
        assert_eq!(changes.current(), Some(7));
    }

    #[test]
    fn a_session_that_ended_before_it_was_proven_never_goes_live() {
        let changes = Changes::default();
        // The reader saw the connection go while the heartbeat was on its way.
        changes.lost(3);
        changes.go_live(3);
        assert!(!changes.is_live());
        let mark = changes.mark();
        changes.remember(mark, 7);
        assert_eq!(changes.current(), None);
    }

    #[test]
    fn the_newest_read_wins() {
        let changes = Changes::default();
        changes.go_live(1);
        let early = changes.mark();
        changes.changed();
        let late = changes.mark();
        changes.remember(late, 9);
        changes.remember(early, 8);
        assert_eq!(changes.current(), Some(9), "an older read does not replace a newer one");
        changes.remember(late, 10);
        assert_eq!(changes.current(), Some(10));
    }
}
