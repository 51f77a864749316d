//! Runtime cost, in cel-go's units: one per evaluated node, plus a tenth of a unit per
//! character or item a string or list function traverses or builds. kube stops a rule at
//! [`PER_CALL_LIMIT`] and a whole object's rules at [`PER_OBJECT_BUDGET`].
//!
//! Functions that build a value (`join`, `format`, `+`, `replace`, `split`, ...) charge for
//! the size of what they will build *before* building it ([`Cost::output`]): values share
//! their parts through `Arc`s, so a small input can describe a huge result
//! (`self.l.map(x, self.s).join('')`), and only charging first keeps memory bounded.

use std::time::{Duration, Instant};

use super::error::EvalError;
use super::value::{Value, equal_counted};

/// How many compared nodes and characters [`Cost::equal`] counts before charging for them.
const EQUALITY_BATCH: usize = 10_000;

/// kube's `celconfig.PerCallLimit`.
pub const PER_CALL_LIMIT: u64 = 1_000_000;

/// kube's `StaticEstimatedCostLimit`: the most a rule's estimate (times the number of
/// places it runs) may be.
pub const ESTIMATED_LIMIT: f64 = 10_000_000.0;

/// kube's `StaticEstimatedCRDCostLimit`: the most all of a CRD's rules' estimates may add up to.
pub const ESTIMATED_CRD_LIMIT: f64 = 100_000_000.0;

/// kube's `celconfig.RuntimeCELCostBudget`.
pub const PER_OBJECT_BUDGET: u64 = 10_000_000;

/// The largest string, bytes or list (in bytes or items) one operation may build. The cost
/// limit already bounds it (a tenth of a unit per byte: 10 MB at [`PER_CALL_LIMIT`]); this
/// holds even for a caller that passes a larger limit.
pub const MAX_OUTPUT: usize = 16 << 20;

/// How long one object's rules may run, all together. kube bounds them by the request's
/// context; the cost limit bounds the work in units, this the wall-clock time those units
/// may take on a loaded machine.
pub const OBJECT_TIME_LIMIT: Duration = Duration::from_secs(1);

/// The clock is read once every this many charges: reading it on each would cost more than
/// the node being charged.
const CLOCK_EVERY: u32 = 1024;

#[derive(Debug)]
pub struct Cost {
    pub used: u64,
    pub limit: u64,
    /// When evaluation must stop whatever the units say (see [`OBJECT_TIME_LIMIT`]).
    deadline: Option<Instant>,
    since_clock: u32,
}

impl Cost {
    /// A cost with no deadline: for evaluations outside an object's validation (tests).
    #[cfg(test)]
    pub fn new(limit: u64) -> Self {
        Self { used: 0, limit, deadline: None, since_clock: 0 }
    }

    /// A cost that also stops at `deadline`, as [`EvalError::CostExceeded`] (kube reports a
    /// rule stopped by its context's deadline as having run out of budget too).
    pub fn with_deadline(limit: u64, deadline: Instant) -> Self {
        Self { used: 0, limit, deadline: Some(deadline), since_clock: 0 }
    }

    pub fn charge(&mut self, units: u64) -> Result<(), EvalError> {
        self.used = self.used.saturating_add(units);
        if self.used > self.limit {
            return Err(EvalError::CostExceeded);
        }
        self.since_clock += 1;
        if self.since_clock >= CLOCK_EVERY {
            self.since_clock = 0;
            if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                // Marks the cost used up, so that the caller's budget is spent as well.
                self.used = self.used.max(self.limit.saturating_add(1));
                return Err(EvalError::CostExceeded);
            }
        }
        Ok(())
    }

    /// CEL equality of `left` and `right`, charged for every node and character compared as
    /// it goes (nested lists of big strings cost what comparing them costs), in batches of a
    /// tenth of a unit each, so that the charge itself stays cheap.
    pub fn equal(&mut self, left: &Value, right: &Value) -> Result<bool, EvalError> {
        let mut pending = 0usize;
        let mut work = |units: usize| {
            pending = pending.saturating_add(units);
            if pending < EQUALITY_BATCH {
                return Ok(());
            }
            let batch = std::mem::take(&mut pending);
            self.traverse(batch)
        };
        let same = equal_counted(left, right, &mut work)?;
        self.traverse(pending)?;
        Ok(same)
    }

    /// The cost of traversing `size` characters or items: a tenth of a unit each.
    pub fn traverse(&mut self, size: usize) -> Result<(), EvalError> {
        self.charge(u64::try_from(size).unwrap_or(u64::MAX) / 10 + 1)
    }

    /// The cost of building a value of `size` bytes or items, charged before it is built:
    /// a tenth of a unit each, and refused outright past [`MAX_OUTPUT`]. `size` is `None`
    /// where computing it overflowed, which no buildable value does.
    pub fn output(&mut self, size: Option<usize>) -> Result<(), EvalError> {
        match size {
            Some(size) if size <= MAX_OUTPUT => self.traverse(size),
            _ => {
                self.used = self.used.max(self.limit.saturating_add(1));
                Err(EvalError::CostExceeded)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_charged_before_it_is_built_and_bounded() {
        let mut cost = Cost::new(PER_CALL_LIMIT);
        assert!(cost.output(Some(1000)).is_ok());
        assert_eq!(cost.used, 101);
        let mut cost = Cost::new(u64::MAX);
        assert!(matches!(cost.output(Some(MAX_OUTPUT + 1)), Err(EvalError::CostExceeded)));
        assert!(matches!(cost.output(None), Err(EvalError::CostExceeded)));
    }

    #[test]
    fn a_passed_deadline_stops_evaluation() {
        let mut cost = Cost::with_deadline(u64::MAX, Instant::now());
        let stopped = (0..CLOCK_EVERY).map(|_| cost.charge(1)).any(|result| result.is_err());
        assert!(stopped);
    }
}
