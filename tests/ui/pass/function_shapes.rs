//! Every function shape `#[retry]` applies to.

#![deny(warnings)]

use std::fmt::Debug;
use std::io;

use retry_runtime::retry;

#[retry]
async fn free(name: &str) -> io::Result<String> {
    Ok(name.to_owned())
}

#[retry]
fn blocking(name: &str) -> io::Result<String> {
    Ok(name.to_owned())
}

#[retry]
async fn generic<T: Clone + Debug, U>(value: T, other: &U) -> Result<String, io::Error>
where
    U: Debug + ?Sized,
{
    Ok(format!("{value:?} {other:?}"))
}

#[retry]
async fn lifetimes<'a, 'b: 'a>(left: &'a str, right: &'b str) -> io::Result<&'a str> {
    Ok(if left.len() > right.len() { left } else { right })
}

#[retry]
async fn impl_trait(items: impl IntoIterator<Item = u32> + Clone, f: &impl Fn(u32) -> u32) -> io::Result<u32> {
    Ok(items.into_iter().map(f).sum())
}

#[retry]
async fn returns_impl_trait(n: u32) -> io::Result<impl Iterator<Item = u32>> {
    Ok(0..n)
}

#[retry]
async fn question_mark(text: &str) -> Result<u32, io::Error> {
    let number: u32 = text.parse().map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    Ok(number)
}

#[retry]
async fn inner_attribute() -> io::Result<()> {
    #![allow(unused_variables)]
    let unused = 1;
    Ok(())
}

#[derive(Clone)]
struct Service {
    calls: u32,
}

impl Service {
    #[retry]
    async fn by_ref(&self) -> io::Result<u32> {
        Ok(self.calls)
    }

    #[retry]
    async fn by_mut(&mut self) -> io::Result<u32> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[retry]
    async fn by_value(self) -> io::Result<u32> {
        Ok(self.calls)
    }

    #[retry]
    async fn by_mut_value(mut self) -> io::Result<u32> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[retry]
    fn blocking_mut(&mut self, by: u32) -> io::Result<u32> {
        self.calls += by;
        Ok(self.calls)
    }

    #[retry]
    async fn typed_receiver(self: &Self) -> io::Result<u32> {
        Ok(self.calls)
    }

    #[retry]
    pub(crate) async fn with_visibility(&self) -> io::Result<()> {
        Ok(())
    }
}

trait Store {
    async fn get(&self, key: &str) -> io::Result<String>;
    fn get_blocking(&self, key: &str) -> io::Result<String>;
}

impl Store for Service {
    #[retry]
    async fn get(&self, key: &str) -> io::Result<String> {
        Ok(key.to_owned())
    }

    #[retry]
    fn get_blocking(&self, key: &str) -> io::Result<String> {
        Ok(key.to_owned())
    }
}

struct Wrapper<T>(T);

impl<T: Clone + Send + Sync> Wrapper<T> {
    #[retry]
    async fn get(&self) -> io::Result<T> {
        Ok(self.0.clone())
    }
}

fn main() {
    let service = Service { calls: 0 };
    let _ = inner_attribute();
    let _ = (free("x"), blocking("x"), generic(1, "u"), lifetimes("a", "b"));
    let _ = (impl_trait(vec![1], &|n| n), returns_impl_trait(3), question_mark("1"));
    let _ = (service.by_ref(), service.typed_receiver(), service.with_visibility(), service.get("k"));
    let _ = service.get_blocking("k");
    let _ = service.clone().by_value();
    let _ = service.clone().by_mut_value();
    let mut service = service;
    let _ = service.blocking_mut(1);
    let _ = Wrapper(1).get();
}
