//! talko-control: the control plane (see DESIGN.md §4).
