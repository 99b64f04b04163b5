//! HiAPI's wire types: the create body, the task, its list and the answers around them, all the
//! wire crate's (shared with the HiAPI upstream).

pub use seedgate_wire::hiapi::*;
