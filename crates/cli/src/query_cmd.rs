//! `zicht query`: one statement, streamed to stdout.

use crate::Failure;
use crate::args::QueryArgs;
use crate::data::open_engine;

pub async fn run(args: QueryArgs) -> Result<(), Failure> {
    let engine = open_engine(&args.warehouse).await?;
    let released = engine.session("cli").sql(&args.sql).await?;
    crate::output::print(released, args.format).await
}
