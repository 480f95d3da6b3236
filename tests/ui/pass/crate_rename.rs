//! `crate = path` for a runtime re-exported under another name.

#![deny(warnings)]

mod reexport {
    pub use retry_runtime as rt;
}

use reexport::rt;

#[rt::retry(crate = reexport::rt, max = 2)]
async fn renamed() -> std::io::Result<()> {
    Ok(())
}

#[derive(Debug, rt::Classify)]
#[classify(crate = reexport::rt, transient)]
struct Busy;

fn main() {
    let _ = renamed();
    let _ = <Busy as rt::Classify>::classify(&Busy);
}
