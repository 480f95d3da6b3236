//! Generated code uses absolute paths and names user code cannot see: a
//! local `mod core`, `mod std`, a `Result` alias and user variables named
//! like generated ones change nothing.

#![deny(warnings)]

#![no_implicit_prelude]

extern crate retry_runtime;
extern crate std as the_std;

mod core {}
mod std {}

use retry_runtime::retry;
use the_std::io;
use the_std::string::String;
use the_std::borrow::ToOwned;

type Result<T> = the_std::result::Result<T, io::Error>;

#[retry(attempt = attempt)]
async fn shadowing(name: &str) -> Result<String> {
    let __retry_engine = 1u8;
    let __retry_result = 2u8;
    let __retry_delay = 3u8;
    let _ = (__retry_engine, __retry_result, __retry_delay, attempt);
    the_std::result::Result::Ok(name.to_owned())
}

fn main() {
    let _ = shadowing("x");
}
