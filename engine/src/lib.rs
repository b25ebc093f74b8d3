//! talko-engine: the media engine (see DESIGN.md §3).

pub mod driver;
pub mod recorder;
