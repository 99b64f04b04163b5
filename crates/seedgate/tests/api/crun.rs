//! crun dialect tests (being written).
