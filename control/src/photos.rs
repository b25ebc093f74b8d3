//! Photos: upload pipeline and content-addressed storage (in progress).
