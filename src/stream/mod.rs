//! A stream of lines into messages, the domain under `chime pipe`: bytes
//! become lines (`lines`), lines are packed into batches as large as each
//! destination allows (`batch`), and what was read is journaled before it is
//! batched (`journal`), so that a pipe killed at any moment loses nothing it
//! had read: the next `chime flush` queues what it left.

pub mod batch;
pub mod journal;
pub mod lines;
