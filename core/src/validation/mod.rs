//! Checking messages against the contract: requests before handlers, responses after.

mod request;
mod response;

pub(crate) use request::check_request;
pub(crate) use response::check_response;
