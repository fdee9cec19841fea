//! The query budget of untrusted users.
//!
//! Noise that does not grow with the number of queries cannot stop an analyst who asks enough
//! different questions: many noisy answers about overlapping groups can be solved for the values
//! of single units (Dinur and Nissim 2003; Cohen and Nissim 2018 did it to Diffix). Restricting
//! the SQL makes such attacks costly; the budget bounds them, as query-auditing systems do. Each
//! user may ask a limited number of *distinct* questions of each protected table per period (a
//! question is one aggregation in canonical form, see `zicht_suppress::Question`). Asking the same
//! question again is free: it gets the same answer. Saved queries and trusted users are not
//! charged. The ledger is kept in memory and, with an audit log, restored from it on start.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zicht_suppress::{Question, SuppressionError};

/// How many distinct questions a user may ask of one protected table per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    pub questions: u32,
    pub period: Duration,
}

impl Default for BudgetPolicy {
    /// 2,000 distinct questions per table per day: a long working day of ad-hoc analysis and
    /// dashboards, far below the tens of thousands a reconstruction of a buurt needs.
    fn default() -> Self {
        BudgetPolicy { questions: 2_000, period: Duration::from_secs(24 * 3600) }
    }
}

#[derive(Debug)]
pub struct QueryBudget {
    policy: BudgetPolicy,
    ledger: Mutex<HashMap<(String, String), Ledger>>,
}

/// What one user asked of one table in the current period.
#[derive(Debug, Default)]
struct Ledger {
    period: u64,
    asked: HashSet<u64>,
}

impl QueryBudget {
    pub fn new(policy: BudgetPolicy) -> QueryBudget {
        QueryBudget { policy, ledger: Mutex::new(HashMap::new()) }
    }

    pub fn policy(&self) -> BudgetPolicy {
        self.policy
    }

    /// Charges `user` for `questions` asked at `now`: all of them, or none when one table's
    /// budget would be exceeded (the query is then refused).
    pub fn charge(&self, user: &str, questions: &[Question], now: SystemTime) -> Result<(), SuppressionError> {
        let period = self.period_of(now);
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        for question in questions {
            for table in &question.tables {
                let entry = ledger.entry((user.to_string(), table.clone())).or_default();
                if entry.period != period {
                    *entry = Ledger { period, asked: HashSet::new() };
                }
                let new = !entry.asked.contains(&question.fingerprint);
                if new && entry.asked.len() >= self.policy.questions as usize {
                    return Err(SuppressionError::rejected(
                        "query-budget",
                        format!(
                            "you have asked {} different questions of {table} in this period, the most an untrusted \
                             user may; repeating a question is free, and the saved queries are not counted",
                            self.policy.questions
                        ),
                    ));
                }
            }
        }
        for question in questions {
            for table in &question.tables {
                if let Some(entry) = ledger.get_mut(&(user.to_string(), table.clone())) {
                    entry.asked.insert(question.fingerprint);
                }
            }
        }
        Ok(())
    }

    /// Records questions asked earlier (from the audit log), so a restart does not reset them.
    pub fn restore(&self, user: &str, questions: &[Question], at: SystemTime) {
        if self.period_of(at) == self.period_of(SystemTime::now()) {
            // Questions already counted are never refused again, so an over-full day restores too.
            let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
            let period = self.period_of(at);
            for question in questions {
                for table in &question.tables {
                    let entry = ledger.entry((user.to_string(), table.clone())).or_default();
                    if entry.period != period {
                        *entry = Ledger { period, asked: HashSet::new() };
                    }
                    entry.asked.insert(question.fingerprint);
                }
            }
        }
    }

    fn period_of(&self, at: SystemTime) -> u64 {
        let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        seconds / self.policy.period.as_secs().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(table: &str, fingerprint: u64) -> Question {
        Question { tables: vec![table.to_string()], fingerprint }
    }

    #[test]
    fn distinct_questions_are_counted_per_user_and_table() {
        let budget = QueryBudget::new(BudgetPolicy { questions: 2, period: Duration::from_secs(3600) });
        let now = SystemTime::now();
        budget.charge("a", &[question("t", 1)], now).unwrap();
        budget.charge("a", &[question("t", 2)], now).unwrap();
        // The same question again is free; a third is refused; other users and tables are apart.
        budget.charge("a", &[question("t", 1)], now).unwrap();
        assert_eq!(budget.charge("a", &[question("t", 3)], now).unwrap_err().rule, "query-budget");
        budget.charge("b", &[question("t", 3)], now).unwrap();
        budget.charge("a", &[question("u", 3)], now).unwrap();
        // A new period starts afresh.
        budget.charge("a", &[question("t", 3)], now + Duration::from_secs(3600)).unwrap();
    }

    #[test]
    fn a_refused_query_is_not_charged() {
        let budget = QueryBudget::new(BudgetPolicy { questions: 1, period: Duration::from_secs(3600) });
        let now = SystemTime::now();
        budget.charge("a", &[question("u", 9)], now).unwrap();
        let both = [question("t", 1), question("u", 2)];
        assert!(budget.charge("a", &both, now).is_err());
        budget.charge("a", &[question("t", 1)], now).unwrap();
    }

    #[test]
    fn restored_questions_count() {
        let budget = QueryBudget::new(BudgetPolicy { questions: 1, period: Duration::from_secs(3600) });
        let now = SystemTime::now();
        budget.restore("a", &[question("t", 1)], now);
        assert!(budget.charge("a", &[question("t", 2)], now).is_err());
        budget.charge("a", &[question("t", 1)], now).unwrap();
    }
}
