//! Function shapes beyond the plain ones: `cfg`'d arguments, pinned and
//! boxed receivers, const generics in keys, and `#[async_trait]` impls.

#![deny(warnings)]

use std::io;
use std::pin::Pin;

use retry_runtime::retry;

#[retry]
async fn cfg_arguments(
    #[cfg(any())] removed: String,
    #[cfg(all())] kept: String,
    #[cfg(any())] removed_mut: &mut Vec<u8>,
    #[cfg(all())] kept_mut: &mut Vec<u8>,
) -> io::Result<usize> {
    kept_mut.push(1);
    Ok(kept.len() + kept_mut.len())
}

#[retry]
fn cfg_arguments_blocking(#[cfg(any())] removed: String, #[cfg(all())] kept: String) -> io::Result<usize> {
    Ok(kept.len())
}

struct Machine {
    steps: u32,
}

impl Machine {
    #[retry]
    async fn pinned(self: Pin<&mut Self>) -> io::Result<u32> {
        // Consumes this attempt's re-borrow; the next attempt gets its own.
        let this = self.get_mut();
        this.steps += 1;
        Ok(this.steps)
    }

    #[retry]
    async fn pinned_mut(mut self: Pin<&mut Self>) -> io::Result<u32> {
        self.steps += 1;
        Ok(self.as_mut().steps)
    }

    #[retry]
    async fn pinned_shared(self: Pin<&Self>) -> io::Result<u32> {
        Ok(self.steps)
    }
}

#[derive(Clone)]
struct Boxed(u32);

impl Boxed {
    #[retry]
    async fn boxed(self: Box<Self>) -> io::Result<u32> {
        Ok(self.0)
    }

    #[retry]
    async fn rc(self: std::rc::Rc<Self>) -> io::Result<u32> {
        Ok(self.0)
    }
}

#[retry(max = N)]
async fn const_generic<const N: u32>() -> io::Result<u32> {
    Ok(N)
}

#[async_trait::async_trait]
trait Store {
    async fn get(&self, key: &str) -> io::Result<String>;
    async fn take(&self, key: String) -> io::Result<String>;
}

struct Memory;

#[async_trait::async_trait]
impl Store for Memory {
    #[retry(max = 2, attempt = attempt)]
    async fn get(&self, key: &str) -> io::Result<String> {
        Ok(format!("{key}{attempt}"))
    }

    #[retry]
    async fn take(&self, key: String) -> io::Result<String> {
        Ok(key)
    }
}

fn main() {
    let mut buffer = Vec::new();
    let _ = cfg_arguments(String::new(), &mut buffer);
    let _ = cfg_arguments_blocking(String::new());
    let mut machine = Box::pin(Machine { steps: 0 });
    let _ = machine.as_mut().pinned();
    let _ = machine.as_mut().pinned_mut();
    let _ = machine.as_ref().pinned_shared();
    let _ = Box::new(Boxed(1)).boxed();
    let _ = std::rc::Rc::new(Boxed(1)).rc();
    let _ = const_generic::<3>();
    let _ = Memory.get("k");
    let _ = Memory.take(String::new());
}
