//! The serde types of each API seedgate speaks, used in both directions: dialects parse and
//! render them, upstream providers build and read them. One module per API; no I/O, no
//! validation beyond what the wire itself says (a dialect's own checks stay in the dialect).
//!
//! Writers produce exactly what the API documents; readers are lenient where servers differ
//! from the documentation (unknown fields in responses are ignored, a number sent as a string
//! is read), so one type serves a strict server and a tolerant client alike.

pub mod apixo;
pub mod ark;
pub mod crun;
pub mod de;
pub mod hiapi;
pub mod kie;
pub mod openai;
pub mod reapi;
