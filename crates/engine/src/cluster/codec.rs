//! The codec of Zicht's own plan nodes, for fragments sent to workers.
//!
//! Only the protected-scan marker is a node of Zicht's; the protecting aggregations travel as
//! blueprints beside the plan ([`super::fragments`]), because datafusion-distributed 4.0 consults
//! its own codec before a user's for aggregate functions, and its own encodes them by name only.

use std::sync::Arc;

use datafusion::common::{internal_err, not_impl_err};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};
use zicht_suppress::ProtectedScanExec;

#[derive(Debug)]
pub(crate) struct ZichtCodec;

#[derive(Serialize, Deserialize)]
enum Node {
    /// [`ProtectedScanExec`] over its one input, the scan of this table.
    ProtectedScan { table: String },
}

impl PhysicalExtensionCodec for ZichtCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node: Node = serde_json::from_slice(buf)
            .map_err(|e| datafusion::error::DataFusionError::Internal(format!("a Zicht plan node: {e}")))?;
        match (node, inputs) {
            (Node::ProtectedScan { table }, [input]) => Ok(Arc::new(ProtectedScanExec::new(Arc::clone(input), table))),
            (Node::ProtectedScan { .. }, _) => internal_err!("ProtectedScanExec takes exactly one input"),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(scan) = node.downcast_ref::<ProtectedScanExec>() else {
            return not_impl_err!("Zicht's codec does not encode {}", node.name());
        };
        let encoded = serde_json::to_vec(&Node::ProtectedScan { table: scan.table().to_string() })
            .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))?;
        buf.extend_from_slice(&encoded);
        Ok(())
    }
}
