//! `zicht query`: one statement, streamed to stdout.

use futures::StreamExt;

use crate::Failure;
use crate::args::QueryArgs;
use crate::data::open_engine;
use crate::output::Output;

pub async fn run(args: QueryArgs) -> Result<(), Failure> {
    let engine = open_engine(&args.warehouse).await?;
    let session = engine.session("cli");
    let mut released = session.sql(&args.sql).await?;
    let mut output = Output::new(args.format, released.schema());
    while let Some(batch) = released.next().await {
        output.write(&batch?)?;
    }
    output.finish()
}
