//! What leaves the engine: a [`Released`] stream of batches that passed the suppression layer,
//! admitted to run ([`crate::admission`]) and written to the audit log when it ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, execute_stream};
use futures::Stream;

use zicht_suppress::{AccessLevel, Question};

use crate::admission::{Admission, Slot};
use crate::audit::{AuditEvent, AuditSink, Outcome, now};
use crate::error::{EngineError, Result};

/// A result that has passed the suppression layer: the only way batches leave the engine.
/// It has no public constructor.
pub struct Released {
    execution: Execution,
    reads_protected: bool,
    physical: Arc<dyn ExecutionPlan>,
    /// The query's admission slot, while it computes (given back with its first rows).
    slot: Option<Slot>,
    /// Written once: when the stream ends, fails, or is dropped unread.
    trail: Option<AuditTrail>,
    /// Why a front end stopped reading, if it said (see [`Released::stop_reason`]).
    stop_reason: StopReason,
}

/// Where a result's execution stands.
enum Execution {
    /// Waiting for an admission slot; execution starts once admitted, on the first poll that
    /// finds one free.
    Waiting {
        admitted: Pin<Box<dyn Future<Output = Slot> + Send>>,
        task: Arc<TaskContext>,
    },
    Running(SendableRecordBatchStream),
    /// It could not start; the error was returned.
    Failed,
}

/// Set by a front end before it drops a [`Released`] it stopped reading (a cancel or a timeout:
/// `EngineError::Cancelled`), so that the audit record says why.
#[derive(Debug, Clone, Default)]
pub struct StopReason(Arc<std::sync::OnceLock<&'static str>>);

impl StopReason {
    /// Records the SQLSTATE the statement ended with (the first one set counts).
    pub fn set(&self, sqlstate: &'static str) {
        let _ = self.0.set(sqlstate);
    }
}

impl Released {
    /// A result that reads no protected table: it runs now, without a slot.
    pub(crate) fn running(
        physical: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        trail: AuditTrail,
    ) -> Result<Released> {
        match execute_stream(Arc::clone(&physical), task) {
            Ok(stream) => Ok(Released::new(Execution::Running(stream), physical, false, trail)),
            Err(error) => Err(trail.refused(EngineError::from_execution(error, false))),
        }
    }

    /// A result over protected data, which starts once `admission` gives it a slot.
    pub(crate) fn admitted(
        physical: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        admission: Admission,
        trail: AuditTrail,
    ) -> Released {
        let admitted = Box::pin(async move { admission.admit().await });
        let execution = Execution::Waiting { admitted, task };
        Released::new(execution, physical, true, trail)
    }

    fn new(execution: Execution, physical: Arc<dyn ExecutionPlan>, reads_protected: bool, trail: AuditTrail) -> Self {
        Released {
            execution,
            reads_protected,
            physical,
            slot: None,
            trail: Some(trail),
            stop_reason: StopReason::default(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.physical.schema()
    }

    /// Whether the result was computed from protected microdata (and so passed a protecting
    /// aggregate).
    pub fn reads_protected(&self) -> bool {
        self.reads_protected
    }

    /// The plan that produced this result, for audit and EXPLAIN.
    pub fn physical_plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.physical
    }

    /// A handle to say why reading stopped, before dropping this result unfinished.
    pub fn stop_reason(&self) -> StopReason {
        self.stop_reason.clone()
    }

    /// Collects all batches.
    pub async fn collect(self) -> Result<Vec<RecordBatch>> {
        futures::TryStreamExt::try_collect(self).await
    }

    fn finish(&mut self, outcome: Outcome, error: Option<&EngineError>) {
        self.slot = None;
        if let Some(trail) = self.trail.take() {
            let (released, suppressed) = zicht_suppress::cell_counts(&self.physical);
            trail.write(outcome, released, suppressed, error);
        }
    }

    /// Starts execution once a slot is free (pending until then); ready at once when running.
    fn poll_start(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Execution::Waiting { admitted, task } = &mut self.execution else { return Poll::Ready(Ok(())) };
        let slot = ready!(admitted.as_mut().poll(cx));
        match execute_stream(Arc::clone(&self.physical), Arc::clone(task)) {
            Ok(stream) => {
                self.slot = Some(slot);
                self.execution = Execution::Running(stream);
                Poll::Ready(Ok(()))
            }
            Err(error) => {
                self.execution = Execution::Failed;
                Poll::Ready(Err(EngineError::from_execution(error, self.reads_protected)))
            }
        }
    }
}

impl Stream for Released {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Err(error) = ready!(self.poll_start(cx)) {
            self.finish(Outcome::Failed, Some(&error));
            return Poll::Ready(Some(Err(error)));
        }
        let protected = self.reads_protected;
        let Execution::Running(stream) = &mut self.execution else { return Poll::Ready(None) };
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(None) => {
                self.finish(Outcome::Completed, None);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                let error = EngineError::from_execution(e, protected);
                self.finish(Outcome::Failed, Some(&error));
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(Some(Ok(batch))) => {
                // The first rows are out: what is left is streaming them, not computing.
                self.slot = None;
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Released {
    fn drop(&mut self) {
        match self.stop_reason.0.get() {
            Some(&"57014") => self.finish(Outcome::Abandoned, Some(&EngineError::Cancelled)),
            _ => self.finish(Outcome::Abandoned, None),
        }
    }
}

/// What the audit record of a statement needs until it is written.
pub(crate) struct AuditTrail {
    pub sink: Option<Arc<dyn AuditSink>>,
    pub user: String,
    pub access: AccessLevel,
    pub fingerprint: String,
    pub reads_protected: bool,
    pub questions: Vec<Question>,
}

impl AuditTrail {
    /// Records a statement that did not produce a result, and hands the error back.
    pub fn refused(self, error: EngineError) -> EngineError {
        self.write_failure(&error);
        error
    }

    pub fn write_failure(self, error: &EngineError) {
        let outcome = if error.sqlstate() == "42501" { Outcome::Rejected } else { Outcome::Failed };
        self.write(outcome, 0, 0, Some(error));
    }

    pub fn write(self, outcome: Outcome, released: u64, suppressed: u64, error: Option<&EngineError>) {
        let Some(sink) = self.sink else { return };
        let rule = match error {
            Some(EngineError::Suppression(rejection)) => Some(rejection.rule.to_string()),
            Some(EngineError::NotAllowed(_)) => Some("read-only".to_string()),
            _ => None,
        };
        sink.record(&AuditEvent {
            time: now(),
            user: self.user,
            access: self.access.to_string(),
            fingerprint: self.fingerprint,
            outcome,
            reads_protected: self.reads_protected,
            cells_released: released,
            cells_suppressed: suppressed,
            rule,
            sqlstate: error.map(|e| e.sqlstate().to_string()),
            questions: self.questions,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::memory::MemorySourceConfig;
    use futures::StreamExt;

    use super::*;

    #[derive(Debug, Default)]
    struct Outcomes(Mutex<Vec<Outcome>>);

    impl AuditSink for Outcomes {
        fn record(&self, event: &AuditEvent) {
            self.0.lock().unwrap().push(event.outcome);
        }
    }

    fn one_batch_plan() -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
        MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap()
    }

    fn waiting_for(admission: &Admission, sink: &Arc<Outcomes>) -> Released {
        let trail = AuditTrail {
            sink: Some(Arc::clone(sink) as Arc<dyn AuditSink>),
            user: "analist".into(),
            access: AccessLevel::Untrusted,
            fingerprint: "f".into(),
            reads_protected: true,
            questions: Vec::new(),
        };
        Released::admitted(one_batch_plan(), Arc::new(TaskContext::default()), admission.clone(), trail)
    }

    #[tokio::test]
    async fn a_result_starts_when_a_slot_is_free_and_gives_it_back_with_its_first_rows() {
        let (admission, sink) = (Admission::new(1), Arc::new(Outcomes::default()));
        let running_elsewhere = admission.admit().await;
        let mut released = waiting_for(&admission, &sink);
        assert_eq!(released.schema().fields().len(), 1);
        let waited = tokio::time::timeout(Duration::from_millis(50), released.next()).await;
        assert!(waited.is_err(), "ran while every slot was taken");

        drop(running_elsewhere);
        let first = tokio::time::timeout(Duration::from_secs(5), released.next()).await.expect("admitted");
        assert_eq!(first.unwrap().unwrap().num_rows(), 2);
        // Streaming what is left needs no slot: another query may start now.
        assert_eq!(admission.available(), 1);
        assert!(released.next().await.is_none());
        assert_eq!(*sink.0.lock().unwrap(), vec![Outcome::Completed]);
    }

    #[tokio::test]
    async fn a_result_given_up_while_waiting_is_audited_and_takes_no_slot() {
        let (admission, sink) = (Admission::new(1), Arc::new(Outcomes::default()));
        let running_elsewhere = admission.admit().await;
        let mut released = waiting_for(&admission, &sink);
        let stop = released.stop_reason();
        assert!(tokio::time::timeout(Duration::from_millis(20), released.next()).await.is_err());
        stop.set("57014");
        drop(released);
        assert_eq!(*sink.0.lock().unwrap(), vec![Outcome::Abandoned]);
        drop(running_elsewhere);
        assert_eq!(admission.available(), 1);
    }
}
