//! Items of every kind named like each local of the generated loop change
//! nothing: `macro_rules!` hygiene covers locals, not items, so the loop
//! binds only `__retry_*` names (a prefix reserved for it). The items the
//! expansion declares (the policy constant) are out of the body's sight:
//! the body's names resolve to the user's items.

#![deny(warnings)]
#![allow(non_upper_case_globals, non_camel_case_types, dead_code)]

use std::time::Duration;

use retry_runtime::{RetryPolicy, TimedOut, retry};

#[derive(Debug, thiserror::Error, retry_runtime::Classify)]
#[classify(transient)]
#[error("busy")]
struct Busy;

impl From<TimedOut> for Busy {
    fn from(_: TimedOut) -> Self {
        Busy
    }
}

/// Every local name the loop used to bind, and the ones it binds now
/// without the prefix.
macro_rules! every_shape {
    ($kind:ident) => {
        mod $kind {
            use super::*;
            every_shape!(@items $kind);

            #[retry(attempt = attempt, timeout = "1s")]
            pub async fn keyed(by_value: String, (left, right): (u32, u32)) -> Result<usize, Busy> {
                Ok(by_value.len() + (left + right + attempt) as usize)
            }

            #[retry(policy = RetryPolicy::new().attempt_timeout(Duration::from_secs(1)))]
            pub async fn with_policy(by_value: String) -> Result<usize, Busy> {
                Ok(by_value.len())
            }

            #[retry(env = "HYGIENE_ITEMS")]
            pub fn blocking(by_value: String) -> Result<usize, Busy> {
                Ok(by_value.len())
            }
        }
    };
    (@items statics) => {
        static engine: u8 = 0; static delay: u8 = 0; static result: u8 = 0;
        static value: u8 = 0; static pending: u8 = 0; static fake: u8 = 0;
        static timed_out: u8 = 0; static convert: u8 = 0; static error: u8 = 0;
        static policy: u8 = 0; static elapsed: u8 = 0;
    };
    (@items consts) => {
        const engine: u8 = 0; const delay: u8 = 0; const result: u8 = 0;
        const value: u8 = 0; const pending: u8 = 0; const fake: u8 = 0;
        const timed_out: u8 = 0; const convert: u8 = 0; const error: u8 = 0;
        const policy: u8 = 0; const elapsed: u8 = 0;
    };
    (@items unit_structs) => {
        struct engine; struct delay; struct result; struct value; struct pending;
        struct fake; struct timed_out; struct convert; struct error; struct policy;
        struct elapsed;
    };
    (@items tuple_structs) => {
        struct engine(u8); struct delay(u8); struct result(u8); struct value(u8);
        struct pending(u8); struct fake(u8); struct timed_out(u8); struct convert(u8);
        struct error(u8); struct policy(u8); struct elapsed(u8);
    };
    (@items variants) => {
        enum Names { engine, delay, result, value, pending, fake, timed_out, convert, error, policy, elapsed }
        #[allow(unused_imports)]
        use Names::*;
    };
}

every_shape!(statics);
every_shape!(consts);
every_shape!(unit_structs);
every_shape!(tuple_structs);
every_shape!(variants);

// A user's item named like the policy constant of the expansion: the body
// sees the user's.
const __RETRY_POLICY: u32 = 7;

#[retry]
async fn sees_the_users_items((a, b): (u32, u32)) -> Result<u32, Busy> {
    Ok(__RETRY_POLICY + a + b)
}

fn main() {
    let _ = statics::keyed(String::new(), (1, 2));
    let _ = statics::with_policy(String::new());
    let _ = statics::blocking(String::new());
    let _ = consts::keyed(String::new(), (1, 2));
    let _ = consts::with_policy(String::new());
    let _ = consts::blocking(String::new());
    let _ = unit_structs::keyed(String::new(), (1, 2));
    let _ = unit_structs::with_policy(String::new());
    let _ = unit_structs::blocking(String::new());
    let _ = tuple_structs::keyed(String::new(), (1, 2));
    let _ = tuple_structs::with_policy(String::new());
    let _ = tuple_structs::blocking(String::new());
    let _ = variants::keyed(String::new(), (1, 2));
    let _ = variants::with_policy(String::new());
    let _ = variants::blocking(String::new());
    let _ = sees_the_users_items((1, 2));
}
