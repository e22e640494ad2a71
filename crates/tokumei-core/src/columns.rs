//! Names of the columns every stage shares, and how aggregations are collected.

use polars::prelude::*;

/// The name of the column every stage adds to carry the person (pseudonym or link token).
pub const PERSON_COLUMN: &str = "person_id";
/// Internal: the row's position in its source (0-based); never written to a release.
pub const ROW_COLUMN: &str = "__row";

/// Collects `frame` with polars' streaming engine, so an aggregation over a large table holds its
/// result and the streaming state, not the table.
pub fn collect_streaming(frame: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(frame.collect_with_engine(Engine::Streaming)?.unwrap_single())
}
