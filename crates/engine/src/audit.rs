//! The audit log: one JSON line per statement, appended and flushed before the next, saying who
//! asked what (as a fingerprint), how many cells were released and suppressed, and which rule
//! refused a query.

use std::fs::{File, OpenOptions};
use std::hash::Hasher;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use zicht_suppress::Question;

use crate::budget::QueryBudget;

/// One statement's record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    pub time: String,
    pub user: String,
    /// The session's access level (`untrusted` or `trusted`).
    #[serde(default)]
    pub access: String,
    /// A hash of the statement with whitespace and case folded: equal for respellings that only
    /// differ in layout, without storing the text (which may hold values).
    pub fingerprint: String,
    pub outcome: Outcome,
    pub reads_protected: bool,
    pub cells_released: u64,
    pub cells_suppressed: u64,
    /// The suppression rule that refused the statement, if one did.
    pub rule: Option<String>,
    pub sqlstate: Option<String>,
    /// The questions an untrusted query was charged for (see [`QueryBudget`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Rejected,
    Failed,
    /// The caller stopped reading (cancel, LIMIT on the client side, disconnect).
    Abandoned,
}

/// Where audit events go.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    fn record(&self, event: &AuditEvent);
}

/// Appends JSON lines to a file, flushing each one.
#[derive(Debug)]
pub struct JsonLinesAudit {
    file: Mutex<File>,
}

impl JsonLinesAudit {
    pub fn open(path: &Path) -> std::io::Result<JsonLinesAudit> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesAudit { file: Mutex::new(file) })
    }
}

impl AuditSink for JsonLinesAudit {
    fn record(&self, event: &AuditEvent) {
        let Ok(mut line) = serde_json::to_vec(event) else { return };
        line.push(b'\n');
        // A poisoned lock means another writer panicked mid-line; keep logging regardless.
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = file.write_all(&line).and_then(|_| file.flush());
    }
}

/// Restores the budget ledger from an audit log written earlier: the questions of the current
/// period stay counted across restarts. Lines that cannot be read are skipped.
pub fn restore_budget(path: &Path, budget: &QueryBudget) -> std::io::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<AuditEvent>(line) else { continue };
        if event.questions.is_empty() {
            continue;
        }
        if let Ok(time) = humantime::parse_rfc3339(&event.time) {
            budget.restore(&event.user, &event.questions, time);
        }
    }
    Ok(())
}

/// The fingerprint of a statement's text.
pub fn fingerprint(sql: &str) -> String {
    let normalized: String = sql.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let mut hasher = siphasher::sip::SipHasher13::new();
    hasher.write(normalized.as_bytes());
    format!("{:016x}", hasher.finish())
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_layout_and_case() {
        assert_eq!(fingerprint("SELECT  count(*)\nFROM x"), fingerprint("select count(*) from x"));
        assert_ne!(fingerprint("SELECT 1"), fingerprint("SELECT 2"));
    }

    #[test]
    fn events_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit/log.jsonl");
        let audit = JsonLinesAudit::open(&path).unwrap();
        let event = AuditEvent {
            time: now(),
            user: "analist".into(),
            access: "untrusted".into(),
            fingerprint: fingerprint("SELECT 1"),
            outcome: Outcome::Rejected,
            reads_protected: true,
            cells_released: 0,
            cells_suppressed: 0,
            rule: Some("row-level".into()),
            sqlstate: Some("42501".into()),
            questions: vec![Question { tables: vec!["basis.persoon".into()], fingerprint: 7 }],
        };
        audit.record(&event);
        audit.record(&event);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let parsed: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(parsed["rule"], "row-level");
        assert_eq!(parsed["outcome"], "rejected");
    }

    #[test]
    fn the_budget_is_restored_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let audit = JsonLinesAudit::open(&path).unwrap();
        let question = Question { tables: vec!["basis.persoon".into()], fingerprint: 7 };
        audit.record(&AuditEvent {
            time: now(),
            user: "analist".into(),
            access: "untrusted".into(),
            fingerprint: fingerprint("SELECT 1"),
            outcome: Outcome::Completed,
            reads_protected: true,
            cells_released: 1,
            cells_suppressed: 0,
            rule: None,
            sqlstate: None,
            questions: vec![question.clone()],
        });
        let policy = crate::BudgetPolicy { questions: 1, period: std::time::Duration::from_secs(86_400) };
        let budget = QueryBudget::new(policy);
        restore_budget(&path, &budget).unwrap();
        let other = Question { fingerprint: 8, ..question.clone() };
        assert!(budget.charge("analist", &[other], std::time::SystemTime::now()).is_err());
        budget.charge("analist", &[question], std::time::SystemTime::now()).unwrap();
    }
}
