//! Runtime cost, in cel-go's units: one per evaluated node, plus a tenth of a unit per
//! character or item a string or list function traverses. kube stops a rule at
//! [`PER_CALL_LIMIT`] and a whole object's rules at [`PER_OBJECT_BUDGET`].

use super::error::EvalError;

/// kube's `celconfig.PerCallLimit`.
pub const PER_CALL_LIMIT: u64 = 1_000_000;

/// kube's `StaticEstimatedCostLimit`: the most a rule's estimate (times the number of
/// places it runs) may be.
pub const ESTIMATED_LIMIT: f64 = 10_000_000.0;

/// kube's `celconfig.RuntimeCELCostBudget`.
pub const PER_OBJECT_BUDGET: u64 = 10_000_000;

#[derive(Debug)]
pub struct Cost {
    pub used: u64,
    pub limit: u64,
}

impl Cost {
    pub fn new(limit: u64) -> Self {
        Self { used: 0, limit }
    }

    pub fn charge(&mut self, units: u64) -> Result<(), EvalError> {
        self.used = self.used.saturating_add(units);
        if self.used > self.limit { Err(EvalError::CostExceeded) } else { Ok(()) }
    }

    /// The cost of traversing `size` characters or items: a tenth of a unit each.
    pub fn traverse(&mut self, size: usize) -> Result<(), EvalError> {
        self.charge(u64::try_from(size).unwrap_or(u64::MAX) / 10 + 1)
    }
}
