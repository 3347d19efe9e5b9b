//! The subcommands: each turns its resolved settings (`settings.rs`) into
//! calls of the domain below and says how it went. Nothing below imports
//! them.

pub mod ask;
pub mod completions;
pub mod config;
mod files;
pub mod flush;
mod native;
mod outcome;
pub mod pipe;
pub mod probe;
pub mod run;
pub mod send;
pub mod spool;
mod timing;
