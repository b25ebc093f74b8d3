//! Live stream: notifications and presence (in progress).
