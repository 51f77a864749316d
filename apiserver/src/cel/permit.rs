//! A process-wide bound on how many objects' rules are evaluated at once.
//!
//! Rules run synchronously inside admission, which the REST layer calls on a tokio worker,
//! each evaluation on its own deep-stack thread ([`super::with_stack`]). Moving admission off
//! the runtime would restructure the async write path; instead the number of evaluations in
//! flight is bounded here, so that concurrent writes of objects with heavy rules cannot take
//! every worker and spawn a thread each: a write that cannot get a permit within a short wait
//! is answered "too many requests", as kube's max-in-flight filter answers an overloaded
//! server, and its client retries. Each evaluation holds its permit at most about
//! [`super::cost::OBJECT_TIME_LIMIT`], so the wait is bounded by that too.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// A counting semaphore: evaluations in flight, and a signal when one ends.
#[derive(Debug)]
struct Permits {
    running: Mutex<usize>,
    returned: Condvar,
    capacity: usize,
}

/// The process's permits: one per CPU, since each evaluation is CPU-bound work.
fn permits() -> &'static Permits {
    static PERMITS: OnceLock<Permits> = OnceLock::new();
    PERMITS.get_or_init(|| Permits::new(std::thread::available_parallelism().map_or(1, usize::from)))
}

/// The right to evaluate one object's rules, returned when dropped.
#[derive(Debug)]
pub struct Permit<'a>(&'a Permits);

/// No permit became free within the wait.
#[derive(Debug, thiserror::Error)]
#[error("too many validation rules being evaluated, retry")]
pub struct Busy;

/// A permit, waiting up to `wait` for one to be returned.
pub fn acquire(wait: Duration) -> Result<Permit<'static>, Busy> {
    permits().acquire(wait)
}

impl Permits {
    const fn new(capacity: usize) -> Self {
        Self { running: Mutex::new(0), returned: Condvar::new(), capacity }
    }

    fn acquire(&self, wait: Duration) -> Result<Permit<'_>, Busy> {
        let deadline = Instant::now() + wait;
        // The count is only changed here and in `drop`, never across a panic: a poisoned
        // lock still holds a true count.
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        while *running >= self.capacity {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Busy);
            }
            running = self.returned.wait_timeout(running, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        *running += 1;
        Ok(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().unwrap_or_else(PoisonError::into_inner);
        *running = running.saturating_sub(1);
        self.0.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past capacity a request waits, then is refused; a permit returned while it waits lets
    /// it in.
    #[test]
    fn permits_are_bounded_and_returned() {
        let permits = Permits::new(2);
        let first = permits.acquire(Duration::ZERO);
        let second = permits.acquire(Duration::ZERO);
        assert!(first.is_ok() && second.is_ok());
        assert!(matches!(permits.acquire(Duration::from_millis(10)), Err(Busy)));
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| permits.acquire(Duration::from_secs(60)).is_ok());
            drop(first);
            assert!(waiter.join().unwrap_or(false));
        });
        assert_eq!(*permits.running.lock().unwrap_or_else(PoisonError::into_inner), 1);
    }
}
