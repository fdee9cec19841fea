//! Admission of queries over protected data: a fixed number compute at once, the others wait their
//! turn in the order they arrived.
//!
//! A protecting aggregation keeps the tallies of every unit of every cell until it has read all of
//! its rows: up to about 1.5 GiB for one saved query at scale 1. Sixteen such queries at once on a
//! machine with two cores finish no sooner than four at a time would, but held their tallies all
//! together (8.6 GiB in the benchmark's 16-client run), so a busy server was one query away from
//! the memory limit (53200 for whoever asked next) or, without one, from being killed.
//!
//! A query takes a slot when its result is first polled, after planning, and gives it back when
//! its first rows are out (its
//! aggregations and sorts are done by then; what is left is streaming a small result), when it
//! fails, or when it is dropped. So a client that reads its result slowly, or leaves a cursor
//! open, does not hold up anyone else. The wait is part of the statement: a front end that stops
//! waiting (a cancel, statement_timeout) drops the waiting future, and its turn passes on.
//! Statements that read no protected table (client tools' catalog queries, region tables) never
//! wait: they are small, and a tool's `\d` should not queue behind a national total.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots of one engine, shared by all of its sessions.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    slots: Arc<Semaphore>,
}

/// A query's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl Admission {
    pub fn new(slots: usize) -> Admission {
        Admission { slots: Arc::new(Semaphore::new(slots.max(1))) }
    }

    /// Waits for a free slot (first come, first served: tokio's semaphore is fair).
    pub async fn admit(&self) -> Slot {
        let permit = Arc::clone(&self.slots).acquire_owned().await.expect("the semaphore is never closed");
        Slot(permit)
    }

    /// Slots free right now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

/// Twice the cores, at least two: enough to keep every core busy while a query waits for its
/// input or its client, few enough that their tallies fit beside each other.
pub fn default_concurrent_queries() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores).max(2)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_query_waits_for_a_free_slot_and_a_dropped_waiter_loses_its_turn() {
        let admission = Admission::new(1);
        let first = admission.admit().await;
        assert_eq!(admission.available(), 0);
        // The second waits while the first holds the slot; a waiter given up on (a cancel, a
        // timeout) takes nothing.
        let waited = tokio::time::timeout(Duration::from_millis(50), admission.admit()).await;
        assert!(waited.is_err(), "admitted beside a running query");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), admission.admit()).await;
        assert!(second.is_ok(), "the slot was not given back");
        assert_eq!(admission.available(), 0);
        drop(second);
        assert_eq!(admission.available(), 1);
    }

    #[test]
    fn every_engine_runs_at_least_two_queries_at_once() {
        assert!(default_concurrent_queries() >= 2);
    }
}
