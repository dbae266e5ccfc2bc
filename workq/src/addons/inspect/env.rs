//! `WORKQ_INSPECT`: an endpoint a program gets without a line of code.

use super::server::Endpoint;
use std::sync::{Once, OnceLock};

/// The endpoint `WORKQ_INSPECT` started; it lives until the process exits.
static FROM_ENV: OnceLock<Endpoint> = OnceLock::new();

/// Reads `WORKQ_INSPECT` at the first build of a Worker, Pool or WorkQueue in
/// the process and serves as it says: unset, empty or `0`, nothing; `1`, at the
/// default path ([`serve`](super::serve)); anything else, at that path. A
/// failure is a trouble line; the build goes on.
pub(crate) fn at_first_build() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Some(value) = std::env::var_os("WORKQ_INSPECT") else {
            return;
        };
        let served = if value.is_empty() || value == "0" {
            return;
        } else if value == "1" {
            super::serve()
        } else {
            super::serve_at(&value)
        };
        match served {
            Ok(endpoint) => {
                let _ = FROM_ENV.set(endpoint);
            }
            Err(e) => trouble!(warn, "workq: WORKQ_INSPECT: {e}"),
        }
    });
}
