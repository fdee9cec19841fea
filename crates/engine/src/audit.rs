//! The audit log: one JSON line per statement, appended and flushed before the next, saying who
//! asked what (as a fingerprint), how many cells were released and suppressed, and which rule
//! refused a query.

use std::fs::{File, OpenOptions};
use std::hash::Hasher;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

/// One statement's record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEvent {
    pub time: String,
    pub user: String,
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
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
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
            fingerprint: fingerprint("SELECT 1"),
            outcome: Outcome::Rejected,
            reads_protected: true,
            cells_released: 0,
            cells_suppressed: 0,
            rule: Some("row-level".into()),
            sqlstate: Some("42501".into()),
        };
        audit.record(&event);
        audit.record(&event);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let parsed: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(parsed["rule"], "row-level");
        assert_eq!(parsed["outcome"], "rejected");
    }
}
