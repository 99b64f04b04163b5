//! apixo dialect tests (being written).
