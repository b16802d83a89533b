//! cache engine (in progress)
pub mod pickle;
