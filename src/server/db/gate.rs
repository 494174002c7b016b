//! The catalogue generation read by many requests at once, one query at a
//! time, never older than the request that asks.
//!
//! Every cached answer (page, Simple API, JSON API) is checked against the
//! catalogue generation. On PostgreSQL that is a read per request, unless
//! the instance learns of changes from notifications (opt-in, see
//! `changes`) and reads only after a change. Reads coalesce: at most one query is in flight; a
//! request that arrives while one runs waits for the next one, which starts
//! after the running one ends, and which every request that arrived
//! meanwhile shares. A request therefore gets a generation read by a query
//! that started after it arrived: whatever committed before it arrived, on
//! any instance, is in it. Under load, one round trip serves a whole batch.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// How long one read may take before it counts as failed. The read runs
/// on a task of its own, which no request's deadline reaches: a read sent
/// on a connection whose server then vanished (a host gone, a partition
/// that closes nothing) would wait for ever, and every request after it
/// for that read. Given up, its statement is dropped (the pool closes the
/// connection: `postgres::finish_or_close`), its waiters get `None` and
/// ask the database themselves, and the next request starts a new read. A
/// read is one row of 16: anything this slow is not coming.
const READ_LIMIT: Duration = Duration::from_secs(5);

/// The outcome of read number `seq`: the generation, or that it failed.
#[derive(Clone, Copy, Debug)]
struct Read {
    seq: u64,
    generation: Option<i64>,
}

#[derive(Debug, Default)]
struct State {
    /// The number of the last read started.
    started: u64,
    /// A read is in flight.
    running: bool,
    /// A request arrived while it was: read again when it ends.
    again: bool,
}

/// Coalesced reads of one value that only grows (see the module).
#[derive(Debug)]
pub struct GenerationGate {
    state: Mutex<State>,
    reads: watch::Sender<Read>,
}

impl Default for GenerationGate {
    fn default() -> Self {
        Self::new()
    }
}

impl GenerationGate {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            reads: watch::channel(Read {
                seq: 0,
                generation: None,
            })
            .0,
        }
    }

    /// A value read by a call of `read` that started after this call did.
    /// `read` runs on a task of its own, so a request never waits for
    /// reads made for others, only shares them; `None` when that read
    /// failed (the caller asks the database itself, or treats it as a miss).
    pub async fn generation<F, Fut>(self: &Arc<Self>, read: F) -> Option<i64>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<i64>> + Send + 'static,
    {
        let mut reads = self.reads.subscribe();
        let (wanted, start) = {
            let mut state = self.state();
            if state.running {
                // The read in flight started before we arrived: the next.
                state.again = true;
                (state.started + 1, false)
            } else {
                state.running = true;
                state.started += 1;
                (state.started, true)
            }
        };
        if start {
            tokio::spawn(Arc::clone(self).read_loop(read));
        }
        match reads.wait_for(|r| r.seq >= wanted).await {
            Ok(r) => r.generation,
            Err(_) => None,
        }
    }

    /// The counters; they stay consistent whatever panicked holding them.
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads until no request is waiting for a newer read.
    async fn read_loop<F, Fut>(self: Arc<Self>, read: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<i64>> + Send + 'static,
    {
        // Should a read panic (or the task be dropped), the requests waiting
        // get a failed read instead of waiting for ever, and the next
        // request starts reads again.
        let unblock = Unblock(&self);
        loop {
            let seq = self.state().started;
            let generation = tokio::time::timeout(READ_LIMIT, read()).await.ok().flatten();
            self.reads.send_replace(Read { seq, generation });
            let mut state = self.state();
            if state.again {
                state.again = false;
                state.started += 1;
            } else {
                state.running = false;
                drop(state);
                std::mem::forget(unblock);
                return;
            }
        }
    }
}

/// See `GenerationGate::read_loop`.
struct Unblock<'a>(&'a GenerationGate);

impl Drop for Unblock<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        // Whoever waits wants at most the read after the last one started.
        state.started += 1;
        state.running = false;
        state.again = false;
        let seq = state.started;
        drop(state);
        self.0.reads.send_replace(Read { seq, generation: None });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A value that the test bumps, read slowly, counting the reads.
    struct Slow {
        value: AtomicI64,
        reads: AtomicUsize,
    }

    fn gate_and_source() -> (Arc<GenerationGate>, Arc<Slow>) {
        let gate = Arc::new(GenerationGate::new());
        let source = Arc::new(Slow {
            value: AtomicI64::new(1),
            reads: AtomicUsize::new(0),
        });
        (gate, source)
    }

    fn reader(
        source: &Arc<Slow>,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Option<i64>> + Send>> + Send + Sync + 'static {
        let source = source.clone();
        move || {
            let source = source.clone();
            Box::pin(async move {
                // The value is taken when the read starts, as a query's
                // snapshot is.
                let value = source.value.load(Ordering::SeqCst);
                source.reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some(value)
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_requests_share_few_reads() {
        let (gate, source) = gate_and_source();
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let read = reader(&source);
                let gate = gate.clone();
                tokio::spawn(async move { gate.generation(read).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), Some(1));
        }
        // One read for the first arrivals, one for everyone who came while it ran.
        assert!(
            source.reads.load(Ordering::SeqCst) <= 3,
            "{}",
            source.reads.load(Ordering::SeqCst)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_never_sees_a_value_older_than_its_arrival() {
        let (gate, source) = gate_and_source();
        // A read is in flight with the old value...
        let early = {
            let read = reader(&source);
            let gate = gate.clone();
            tokio::spawn(async move { gate.generation(read).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        // ...when a write commits and a request arrives: it waits for a
        // read that started after it, which sees the write.
        source.value.store(2, Ordering::SeqCst);
        let late = gate.generation(reader(&source)).await;
        assert_eq!(early.await.expect("task"), Some(1));
        assert_eq!(late, Some(2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_read_fails_its_waiters_and_reads_go_on() {
        let (gate, _) = gate_and_source();
        assert_eq!(gate.generation(|| async { panic!("a read went wrong") }).await, None);
        assert_eq!(gate.generation(|| async { Some(3) }).await, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_never_ends_fails_its_waiters_at_the_limit_and_reads_go_on() {
        let (gate, _) = gate_and_source();
        let started = tokio::time::Instant::now();
        assert_eq!(gate.generation(std::future::pending::<Option<i64>>).await, None);
        assert_eq!(started.elapsed(), READ_LIMIT);
        assert_eq!(gate.generation(|| async { Some(4) }).await, Some(4));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_is_reported_and_the_next_one_tried() {
        let (gate, _) = gate_and_source();
        assert_eq!(gate.generation(|| async { None }).await, None);
        assert_eq!(gate.generation(|| async { Some(7) }).await, Some(7));
    }
}
