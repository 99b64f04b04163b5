//! CRUN's wire types, shared with the CRUN upstream in [`seedgate_wire::crun`].

pub use seedgate_wire::crun::*;
