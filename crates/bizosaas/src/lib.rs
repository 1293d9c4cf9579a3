//! The BizOSaaS binary's library half: command line, configuration and the
//! wiring of adapters into the app (the only place that knows them all).

pub mod cli;
pub mod config;
pub mod engine;
pub mod rotate;
pub mod startup;
pub mod telemetry;

pub use startup::App;
