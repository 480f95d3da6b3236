//! Procedural macros for [`retry-runtime`](https://docs.rs/retry-runtime):
//! `#[retry]` and `#[derive(Classify)]`.
//!
//! Depend on `retry-runtime`, which re-exports both (feature `macros`, on by
//! default) and documents them; the generated code calls into it.
//!
//! The attribute is built in four steps, each in its own module, so that
//! parsing never generates code and expansion never reports a mistake:
//! `attr` reads the keys, `ast` reads the function, `valid` checks
//! how they combine, `expand` writes the call of the loop (a
//! `macro_rules!` macro of the runtime), and `body` renames a by-value
//! `self` in the function body, the one case where the body is parsed.

#![forbid(unsafe_code)]

mod ast;
mod attr;
mod body;
mod derive;
mod expand;
#[cfg(test)]
mod mutations;
mod suggest;
mod valid;

use proc_macro::TokenStream;

// Documented on the re-export, `retry_runtime::retry`, where the examples run.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::retry(args.into(), item.into()).into()
}

// Documented on the re-export, `retry_runtime::Classify`.
#[proc_macro_derive(Classify, attributes(classify))]
pub fn derive_classify(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
