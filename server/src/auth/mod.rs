//! Identity: password hashing, tokens, the authenticated-caller extractor and
//! the one policy that decides who may do what.

pub mod cache;
pub mod password;
pub mod policy;
pub mod throttle;
pub mod tokens;

pub(crate) mod extract;

pub use crate::domain::Actor;
pub use extract::authenticate;
pub use policy::{Action, Denial, VisitScope};
