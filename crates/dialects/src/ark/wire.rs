//! Ark's wire types: the create body and its `content[]`, the task object, the list and the
//! error envelope. They live in `seedgate-wire`, shared with the Ark upstream, so the format
//! seedgate serves and the one it forwards to are one definition.

pub use seedgate_wire::ark::*;
