//! talko-control: the control plane (see DESIGN.md §4).

pub mod live;
pub mod photos;
