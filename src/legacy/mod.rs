//! The legacy, sessionful era (2025-03-26 … 2025-11-25): `initialize` mints a session, every
//! later request is checked against its record, GET opens the standalone stream, DELETE ends
//! the session.

mod delete;
mod get;
mod initialize;
mod post;
mod recorded;
mod session;

pub(crate) use delete::delete;
pub(crate) use get::{get, sse_response};
pub(crate) use initialize::initialize;
pub(crate) use post::post;
