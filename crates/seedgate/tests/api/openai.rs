//! openai dialect tests (being written).
