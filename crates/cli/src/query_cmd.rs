//! `zicht query`: one statement, streamed to stdout.

use zicht_engine::AccessLevel;

use crate::Failure;
use crate::args::QueryArgs;
use crate::data::open_engine;

pub async fn run(args: QueryArgs) -> Result<(), Failure> {
    let engine = open_engine(&args.warehouse).await?;
    let level = if args.trusted { AccessLevel::Trusted } else { AccessLevel::Untrusted };
    let released = engine.session_at("cli", level).sql(&args.sql).await?;
    crate::output::print(released, args.format).await
}
