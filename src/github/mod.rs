//! The GitHub adapter: the REST client, the Actions context, and the commands that write to
//! GitHub (sticky PR comments, check runs, and, in `release`, tags and releases).
//!
//! Core stages (`data`, `validate`, `train`, `evaluate`, `report`) never import this module: they
//! write files in the run directory, and only the commands that publish those files talk to
//! GitHub, so everything else runs locally with no network and no token.

pub mod artifact;
pub mod check;
pub mod client;
pub mod comment;
pub mod context;
pub mod error;
pub mod link;
pub mod release;
pub mod retry;
pub mod runner;
pub mod token;
pub mod url;

pub use client::{Client, ClientConfig, Response};
pub use error::ApiError;
pub use retry::{Clock, RetryPolicy, SystemClock};
pub use token::Token;
