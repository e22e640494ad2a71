//! The integration test binary: one module per area.

mod common;

mod anonymize;
mod at_rest;
mod attack;
mod bad_input;
mod cli;
mod config;
mod docs;
mod fail_closed;
mod formats;
mod guarantee;
mod ledger;
mod linkage;
mod pinned;
mod pipeline;
mod producer;
mod providers;
mod records;
mod risk;
mod seal;
mod verify;
