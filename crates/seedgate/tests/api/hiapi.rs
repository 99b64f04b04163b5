//! hiapi dialect tests (being written).
