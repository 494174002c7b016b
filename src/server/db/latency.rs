//! The benchmark's injected database latency (`make bench`, the async
//! claim): every round trip waits as long as a network database would make
//! it wait, no more.
//!
//! The wait is not a tokio `sleep`: tokio's timer counts whole
//! milliseconds and rounds a deadline up to the next tick, so `sleep(5 ms)`
//! took 6.1 ms on average here, and the bound that the bench divides by
//! (clients / latency) was measured against a link 22 % slower than the one
//! it names. A link thread wakes each waiter at its deadline instead, with
//! the kernel's timer precision (a futex wait with a nanosecond timeout, no
//! timer slack), as `tc netem` would delay a packet; the bench machine's
//! kernel has no netem.
//!
//! On PostgreSQL a statement's connection pays a second round trip: sqlx
//! checks every connection returned to the pool with one (a `Sync` message
//! and its `ReadyForQuery`, in `return_to_pool`) before another statement
//! may use it. Across a network that check waits a round trip too, so the
//! pool's `after_release` hook pays it as well: without it the bench's
//! link carried twice the statements per connection that a real one does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// One delayed round trip: when it arrives, and whom to tell.
struct InFlight {
    due: Instant,
    /// Arrival order, so that equal deadlines never compare the senders.
    seq: u64,
    arrived: oneshot::Sender<()>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The injected latency, how many round trips paid it and how long they
/// waited in all (what the bench reports beside the nominal latency).
#[derive(Debug)]
pub struct BenchLatency {
    pub latency: Duration,
    /// Statements' round trips: one per acquired connection.
    round_trips: AtomicU64,
    /// The pool's checks of returned connections (PostgreSQL).
    release_checks: AtomicU64,
    waited_nanos: AtomicU64,
    /// `Sender` is `Sync`: every round trip sends on it without a lock.
    link: mpsc::Sender<(Instant, oneshot::Sender<()>)>,
}

impl BenchLatency {
    pub fn new(latency: Duration) -> Arc<Self> {
        tracing::warn!(?latency, "benchmark mode: every database round trip is delayed");
        let (tx, rx) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        // The thread ends when the last sender (this value) is dropped.
        let spawned = std::thread::Builder::new()
            .name("bench-db-link".into())
            .spawn(move || carry(&rx));
        if let Err(error) = spawned {
            tracing::error!(%error, "benchmark mode: the link thread did not start; round trips will not wait");
        }
        Arc::new(Self {
            latency,
            round_trips: AtomicU64::new(0),
            release_checks: AtomicU64::new(0),
            waited_nanos: AtomicU64::new(0),
            link: tx,
        })
    }

    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// How many returned connections' checks paid the latency.
    pub fn release_checks(&self) -> u64 {
        self.release_checks.load(Ordering::Relaxed)
    }

    /// The mean wait of all the round trips so far, statements' and checks'
    /// (zero before the first).
    pub fn mean_wait(&self) -> Duration {
        let n = self.round_trips() + self.release_checks();
        if n == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.waited_nanos.load(Ordering::Relaxed) / n)
    }

    /// Pays the latency of a statement: what the pool's `before_acquire`
    /// hook awaits, once per acquired connection.
    pub fn pay(self: &Arc<Self>) -> impl Future<Output = Result<bool, sqlx::Error>> + Send + 'static {
        self.wait(|bench| &bench.round_trips)
    }

    /// Pays the latency of the check a returned connection gets: what the
    /// pool's `after_release` hook awaits (PostgreSQL).
    pub fn pay_release_check(self: &Arc<Self>) -> impl Future<Output = Result<bool, sqlx::Error>> + Send + 'static {
        self.wait(|bench| &bench.release_checks)
    }

    fn wait(
        self: &Arc<Self>,
        counter: fn(&Self) -> &AtomicU64,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send + 'static {
        let bench = Arc::clone(self);
        async move {
            let start = Instant::now();
            let (arrived, wait) = oneshot::channel();
            if bench.link.send((start + bench.latency, arrived)).is_ok() {
                // A closed channel means the link is gone: no wait.
                let _ = wait.await;
            }
            counter(&bench).fetch_add(1, Ordering::Relaxed);
            let waited = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            bench.waited_nanos.fetch_add(waited, Ordering::Relaxed);
            Ok(true)
        }
    }
}

/// The link thread: holds every round trip in flight, earliest first, and
/// lets each go at its deadline.
fn carry(incoming: &mpsc::Receiver<(Instant, oneshot::Sender<()>)>) {
    // The kernel may defer a timed wake-up by the thread's timer slack (50 µs
    // by default) to batch it with others; a network link does not.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK only sets this thread's slack; a failure
    // leaves the default.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
    }
    let mut in_flight: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while in_flight.peek().is_some_and(|Reverse(next)| next.due <= now) {
            if let Some(Reverse(done)) = in_flight.pop() {
                let _ = done.arrived.send(());
            }
        }
        let received = match in_flight.peek() {
            Some(Reverse(next)) => match incoming.recv_timeout(next.due.saturating_duration_since(now)) {
                Ok(sent) => Some(sent),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
            None => match incoming.recv() {
                Ok(sent) => Some(sent),
                Err(_) => return,
            },
        };
        if let Some((due, arrived)) = received {
            seq += 1;
            in_flight.push(Reverse(InFlight { due, seq, arrived }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_round_trip_waits_the_latency() {
        let bench = BenchLatency::new(Duration::from_millis(5));
        // Many at once, as a loaded pool pays them: each waits its own 5 ms.
        let waits = (0..64).map(|_| {
            let bench = Arc::clone(&bench);
            tokio::spawn(async move {
                let start = Instant::now();
                bench.pay().await.map(|_| start.elapsed())
            })
        });
        for wait in futures_util::future::join_all(waits).await {
            let waited = wait.expect("joined").expect("paid");
            assert!(waited >= Duration::from_millis(5), "{waited:?}");
        }
        assert_eq!(bench.round_trips(), 64);
        assert_eq!(bench.release_checks(), 0);
        let start = Instant::now();
        bench.pay_release_check().await.expect("paid");
        assert!(start.elapsed() >= Duration::from_millis(5));
        assert_eq!((bench.round_trips(), bench.release_checks()), (64, 1));
        // How close to 5 ms is for the bench to report (`mean_wait`), not
        // for a timed test to assert.
        assert!(bench.mean_wait() >= Duration::from_millis(5));
    }
}
