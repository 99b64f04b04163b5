//! kie dialect tests (being written).
