//! A protecting aggregation as it travels to a worker of a cluster: everything it judges by,
//! except the secret.
//!
//! A coordinator plans a query and sends plan fragments to workers; a fragment that holds a
//! protecting aggregation must judge its cells exactly as the coordinator would. The blueprint
//! carries the measures, their noise seeds, the unit types and the rule parameters. The secret
//! does not travel: each worker keys the noise with its own ([`Blueprint::build`]), and the
//! blueprint carries a fingerprint of the coordinator's secret ([`CellKeyer::fingerprint`]) so that
//! a worker whose secret differs refuses the fragment instead of releasing differently noised
//! cells.

use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::AggregateUDF;
use datafusion::physical_expr::aggregate::{AggregateExprBuilder, AggregateFunctionExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use serde::{Deserialize, Serialize};
use zicht_catalog::{EntityType, SuppressionParams};

use crate::aggregate::{Measure, MeasureSpec, ProtectAggregate, Question};
use crate::error::SuppressionError;
use crate::noise::{CellKeyer, NoiseSeeds};

/// A protecting aggregation without its secret; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blueprint {
    /// The name the aggregation has in the plan fragment (unique within a query).
    pub name: String,
    measures: Vec<MeasureBlueprint>,
    entities: Vec<String>,
    streamed: Vec<bool>,
    params: SuppressionParams,
    question: Option<Question>,
    /// [`CellKeyer::fingerprint`] of the coordinator's secret.
    secret_fingerprint: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MeasureBlueprint {
    measure: Measure,
    input: usize,
    /// The Arrow type as Arrow writes it; parsed back with `DataType::from_str`.
    return_type: String,
    conditional: bool,
    seeds: SeedsBlueprint,
    count_seeds: SeedsBlueprint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SeedsBlueprint {
    measure: u64,
    conditions: Vec<u64>,
}

impl Blueprint {
    /// The blueprint of `aggregate`, to be built under the name `name` on a worker.
    pub fn of(aggregate: &ProtectAggregate, name: &str) -> Result<Blueprint, SuppressionError> {
        let spec = aggregate.spec();
        let measures = spec.measures.iter().map(MeasureBlueprint::of).collect::<Result<_, _>>()?;
        Ok(Blueprint {
            name: name.to_string(),
            measures,
            entities: spec.shape.entities.iter().map(|e| e.name().to_string()).collect(),
            streamed: spec.shape.streamed.clone(),
            params: spec.params,
            question: spec.question.clone(),
            secret_fingerprint: spec.keyer.fingerprint(),
        })
    }

    /// The aggregation, keyed with this process's secret. Refused when that secret is not the
    /// coordinator's: cells judged with another secret would carry other noise, and an analyst who
    /// sees both versions of a cell learns what the noise hides.
    pub fn build(&self, keyer: &CellKeyer) -> Result<ProtectAggregate, SuppressionError> {
        if keyer.fingerprint() != self.secret_fingerprint {
            return Err(SuppressionError::rejected(
                "cluster",
                "this worker's secret key differs from the coordinator's; set the same ZICHT_SECRET_KEY on every \
                 process of the cluster",
            ));
        }
        let measures = self.measures.iter().map(MeasureBlueprint::build).collect::<Result<_, _>>()?;
        let entities = self.entities.iter().map(|name| entity(name)).collect::<Result<_, _>>()?;
        if self.streamed.len() != self.entities.len() {
            return Err(malformed("unit columns and their kinds differ in number"));
        }
        let aggregate = ProtectAggregate::new(measures, entities, self.streamed.clone(), self.params, keyer.clone());
        let aggregate = match &self.question {
            Some(question) => aggregate.with_question(question.clone()),
            None => aggregate,
        };
        Ok(aggregate.with_name(&self.name))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a blueprint is plain data")
    }

    pub fn from_json(text: &str) -> Result<Blueprint, SuppressionError> {
        serde_json::from_str(text).map_err(|e| malformed(&e.to_string()))
    }
}

impl MeasureBlueprint {
    fn of(spec: &MeasureSpec) -> Result<MeasureBlueprint, SuppressionError> {
        let return_type = spec.return_type.to_string();
        // Only types that read back as themselves travel; anything else stays on the coordinator.
        if DataType::from_str(&return_type).ok().as_ref() != Some(&spec.return_type) {
            return Err(malformed(&format!("type {return_type} does not read back")));
        }
        Ok(MeasureBlueprint {
            measure: spec.measure,
            input: spec.input,
            return_type,
            conditional: spec.conditional,
            seeds: SeedsBlueprint::of(&spec.seeds),
            count_seeds: SeedsBlueprint::of(&spec.count_seeds),
        })
    }

    fn build(&self) -> Result<MeasureSpec, SuppressionError> {
        Ok(MeasureSpec {
            measure: self.measure,
            input: self.input,
            return_type: DataType::from_str(&self.return_type).map_err(|e| malformed(&e.to_string()))?,
            conditional: self.conditional,
            seeds: self.seeds.build(),
            count_seeds: self.count_seeds.build(),
        })
    }
}

impl SeedsBlueprint {
    fn of(seeds: &NoiseSeeds) -> SeedsBlueprint {
        SeedsBlueprint { measure: seeds.measure, conditions: seeds.conditions.clone() }
    }

    fn build(&self) -> NoiseSeeds {
        NoiseSeeds { measure: self.measure, conditions: self.conditions.clone() }
    }
}

fn entity(name: &str) -> Result<EntityType, SuppressionError> {
    EntityType::ALL.into_iter().find(|e| e.name() == name).ok_or_else(|| malformed(&format!("unit type {name}")))
}

fn malformed(detail: &str) -> SuppressionError {
    SuppressionError::rejected("cluster", format!("a protecting aggregation could not be sent or read: {detail}"))
}

/// `plan` with each protecting aggregation named apart (`zicht_protect_0`, `zicht_protect_1`, ...;
/// the partial and final stage of one aggregation share a name), so that a worker can tell them
/// apart: a plan fragment names its aggregate functions, and the worker builds each from its
/// blueprint ([`blueprints`]).
pub fn name_for_workers(plan: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    let mut named: Vec<ProtectAggregate> = Vec::new();
    plan.transform_up(|node| {
        let Some(aggregate) = node.downcast_ref::<AggregateExec>() else { return Ok(Transformed::no(node)) };
        if !aggregate.aggr_expr().iter().any(|expr| protecting(expr).is_some()) {
            return Ok(Transformed::no(node));
        }
        let exprs = aggregate
            .aggr_expr()
            .iter()
            .map(|expr| match protecting(expr) {
                Some(protect) => rename(aggregate, expr, name_of(protect, &mut named)),
                None => Ok(Arc::clone(expr)),
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        let renamed = AggregateExec::try_new(
            *aggregate.mode(),
            aggregate.group_expr().clone(),
            exprs,
            aggregate.filter_expr().to_vec(),
            Arc::clone(aggregate.input()),
            aggregate.input_schema(),
        )?;
        Ok(Transformed::yes(Arc::new(renamed) as Arc<dyn ExecutionPlan>))
    })
    .map(|t| t.data)
}

/// The blueprints of the protecting aggregations in `plan`, one per name.
pub fn blueprints(plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<Blueprint>, SuppressionError> {
    let mut found: Vec<Blueprint> = Vec::new();
    let mut stack = vec![plan];
    while let Some(node) = stack.pop() {
        if let Some(aggregate) = node.downcast_ref::<AggregateExec>() {
            for protect in aggregate.aggr_expr().iter().filter_map(|expr| protecting(expr)) {
                use datafusion::logical_expr::AggregateUDFImpl;
                if !found.iter().any(|b| b.name == protect.name()) {
                    found.push(Blueprint::of(protect, protect.name())?);
                }
            }
        }
        stack.extend(node.children());
    }
    Ok(found)
}

fn protecting(expr: &AggregateFunctionExpr) -> Option<&ProtectAggregate> {
    let inner: &dyn Any = expr.fun().inner().as_ref();
    inner.downcast_ref::<ProtectAggregate>()
}

/// `protect` under its name among the aggregations named so far, or under a new one.
fn name_of(protect: &ProtectAggregate, named: &mut Vec<ProtectAggregate>) -> ProtectAggregate {
    let index = named.iter().position(|n| n == protect).unwrap_or_else(|| {
        named.push(protect.with_name(crate::aggregate::NAME));
        named.len() - 1
    });
    protect.with_name(&format!("{}_{index}", crate::aggregate::NAME))
}

fn rename(
    aggregate: &AggregateExec,
    expr: &AggregateFunctionExpr,
    renamed: ProtectAggregate,
) -> datafusion::error::Result<Arc<AggregateFunctionExpr>> {
    let mut builder = AggregateExprBuilder::new(Arc::new(AggregateUDF::new_from_impl(renamed)), expr.expressions())
        .schema(aggregate.input_schema())
        .alias(expr.name())
        .with_distinct(expr.is_distinct())
        .with_ignore_nulls(expr.ignore_nulls())
        .order_by(expr.order_bys().to_vec());
    if let Some(display) = expr.human_display() {
        builder = builder.human_display(display);
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aggregate(secret: &[u8]) -> ProtectAggregate {
        let measures = vec![
            MeasureSpec::plain(Measure::Cell, 0, DataType::Boolean),
            MeasureSpec::plain(Measure::Count, 0, DataType::Int64),
            MeasureSpec::plain(Measure::Quantile(0.25), 1, DataType::Float64),
            MeasureSpec::plain(Measure::CountUnits(1), 0, DataType::Int64),
        ];
        let entities = vec![EntityType::Persoon, EntityType::Huishouden];
        ProtectAggregate::new(
            measures,
            entities,
            vec![true, false],
            SuppressionParams::default(),
            CellKeyer::new(secret),
        )
        .with_question(Question { tables: vec!["basis.persoon".into()], fingerprint: 7 })
    }

    #[test]
    fn a_blueprint_builds_the_same_aggregation_under_its_name() {
        let original = aggregate(b"secret");
        let blueprint = Blueprint::of(&original, "zicht_protect_0").unwrap();
        let read = Blueprint::from_json(&blueprint.to_json()).unwrap();
        assert_eq!(read, blueprint);
        let built = read.build(&CellKeyer::new(b"secret")).unwrap();
        use datafusion::logical_expr::AggregateUDFImpl;
        assert_eq!(built.name(), "zicht_protect_0");
        assert_eq!(Blueprint::of(&built, "zicht_protect_0").unwrap(), blueprint);
        assert_eq!(built.question(), original.question());
        assert_eq!(format!("{:?}", built.spec().shape), format!("{:?}", original.spec().shape));
    }

    #[test]
    fn the_secret_does_not_travel_and_another_secret_is_refused() {
        let blueprint = Blueprint::of(&aggregate(b"hunter2"), "zicht_protect_0").unwrap();
        assert!(!blueprint.to_json().contains("hunter2"));
        assert_eq!(format!("{:?}", CellKeyer::new(b"hunter2")), "CellKeyer { .. }");
        let refused = blueprint.build(&CellKeyer::new(b"another secret")).unwrap_err();
        assert!(refused.to_string().contains("secret key differs"), "{refused}");
    }

    #[test]
    fn a_damaged_blueprint_is_refused() {
        let json = Blueprint::of(&aggregate(b"secret"), "p").unwrap().to_json();
        assert!(Blueprint::from_json(&json[..json.len() - 2]).is_err());
        let renamed = json.replace("\"huishouden\"", "\"huisdier\"");
        assert!(Blueprint::from_json(&renamed).unwrap().build(&CellKeyer::new(b"secret")).is_err());
    }
}
