//! ark dialect tests (being written).
