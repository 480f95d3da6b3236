//! Writing the retry loop.
//!
//! Input:
//!
//! ```text
//! #[retry(max = 3, base = "250ms", attempt = attempt)]
//! async fn create(&self, name: String) -> Result<Instance, CreateError> { BODY }
//! ```
//!
//! Output (paths shortened; `rt` is `::retry_runtime::__private`):
//!
//! ```text
//! async fn create(&self, name: String) -> Result<Instance, CreateError> {
//!     // The configuration is a constant, so the future does not store it.
//!     const __RETRY_POLICY: RetryPolicy = rt::checked(RetryPolicy::new().max_attempts(3).base(..));
//!     rt::retry_async! {
//!         source: &__RETRY_POLICY, budget: rt::None, name: "create", enforces_timeout: false,
//!         attempt: [attempt], output: Result<Instance, CreateError>,
//!         error: __retry_error, verdict: rt::by_trait(&__retry_error),   // spanned at `CreateError`
//!         notify: rt::None, timeout: [],
//!         bindings: { let name = rt::ArgClone::clone_for_attempt(&name); }   // spanned at `String`
//!         body: { BODY }
//!     }
//! }
//! ```
//!
//! and `retry_async!` (in the runtime, `__private.rs`) expands to the loop:
//!
//! ```text
//! let mut engine = rt::Engine::new(&__RETRY_POLICY, rt::Clock::Tokio);
//! engine.begin("create", false, false);              // reads no clock without a deadline
//! loop {
//!     // Everything an attempt owns lives in this block and is dropped
//!     // before the sleep, so no error is held across an `.await`.
//!     let delay = {
//!         let attempt: u32 = engine.attempt();
//!         let name = rt::ArgClone::clone_for_attempt(&name);   // by-value args, per attempt
//!         let result: Result<Instance, CreateError> = async {
//!             if false { return loop {} }            // pins the block's type, for `?`
//!             BODY                                    // `?` and `return` end this attempt
//!         }
//!         .await;
//!         match result {
//!             Ok(v) => { engine.succeeded(); return Ok(v); }
//!             Err(__retry_error) => match rt::failed(&mut engine, "create", &__retry_error, VERDICT, NOTIFY) {
//!                 Some(delay) => delay,
//!                 None => return Err(__retry_error),
//!             },
//!         }
//!     };
//!     rt::sleep(delay).await;                        // a zero delay skips the timer
//! }
//! ```
//!
//! Why two stages: a proc macro pays for every token it reads and writes
//! (in a debug build, about half a millisecond for a small function), while
//! `macro_rules!` expansion is native to the compiler. So the proc macro
//! parses only the signature and the attribute, checks them, and writes a
//! short call; the loop, with hygienic locals and `$crate` paths, comes
//! from the runtime. The tokens that must point at the user's code when a
//! type is wrong (the classifier at the error type, the clones at the
//! argument types, the timeout conversion at `timeout`) are built here,
//! with the names of the bindings they use passed along.
//!
//! The body is not parsed either: it moves into the `async` block as
//! written (a closure `(|| BODY)()` for a blocking function), where `?` and
//! `return` already mean "end this attempt", macros that hide a `return`
//! included. Inlining it as a labelled block instead (with `?` and `return`
//! rewritten into breaks) measured the same at run time (within 3
//! instructions per call under callgrind) and cost a full parse of every
//! body at compile time.
//!
//! Variations: `timeout` wraps the block in `rt::timeout` and turns a
//! timeout into `E::from(TimedOut)`; `policy = expr` stores the policy
//! value in the engine; `env` keeps the constant in a `static EnvPolicy`
//! read at the first failure; a by-value `self` is cloned per attempt into
//! a binding the body's `self` is renamed to (the one case that parses the
//! body); `&mut self` needs nothing, as each use re-borrows it; a blocking
//! function uses `retry_blocking!`, with the system clock and
//! `std::thread::sleep`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned as _;

use crate::ast::{self, ArgPlan, Function, ItemFn, ReceiverPlan};
use crate::attr::{self, Config, Jitter, Value};
use crate::body;
use crate::valid;

/// The whole attribute: parse, check, expand; on any mistake, the errors
/// and the function as written.
pub(crate) fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    let (config, mut errors) = attr::parse(args);
    // Cloning a token stream is cheap; the parsed function is rebuilt from
    // it only on the error path.
    let parsed = match ast::parse(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let mut tokens = item;
            tokens.extend(combine(errors, error).into_compile_error());
            return tokens;
        }
    };
    let function = match Function::new(parsed) {
        Ok(function) => function,
        Err(error) => return fallback(item, &config, combine(errors, error)),
    };
    if let Err(error) = valid::check(&config, &function) {
        errors = Some(combine(errors, error));
    }
    match errors {
        Some(error) => fallback(item, &config, error),
        None => expand(&config, function),
    }
}

fn combine(first: Option<syn::Error>, second: syn::Error) -> syn::Error {
    match first {
        Some(mut first) => {
            first.combine(second);
            first
        }
        None => second,
    }
}

/// The function as written, beside the errors, so that one mistake in the
/// attribute does not cascade into errors in the body. `attempt` is still
/// bound (to 1) for a body that uses it.
fn fallback(item: TokenStream, config: &Config, error: syn::Error) -> TokenStream {
    let mut tokens = match (&config.attempt, ast::parse(item.clone())) {
        (Some(attempt), Ok(mut parsed)) => {
            let ident = &attempt.value;
            let body = &parsed.body;
            parsed.body = quote!(#[allow(unused_variables)] let #ident: u32 = 1; #body);
            parsed.into_token_stream()
        }
        _ => item,
    };
    tokens.extend(error.into_compile_error());
    tokens
}

/// Moves every token to `span`'s location, keeping its name resolution,
/// so that a type error in generated code is reported at the user's token
/// it concerns while generated names still resolve.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &mut token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(group.span().located_at(span));
                *group = inner;
            } else {
                token.set_span(token.span().located_at(span));
            }
            token
        })
        .collect()
}

fn duration(value: &Value<std::time::Duration>, rt: &TokenStream) -> TokenStream {
    match value {
        Value::Lit(duration, span) => {
            let secs = proc_macro2::Literal::u64_unsuffixed(duration.as_secs());
            let nanos = proc_macro2::Literal::u32_unsuffixed(duration.subsec_nanos());
            quote_spanned!(*span=> #rt::nanos(#secs, #nanos))
        }
        Value::Expr(expr) => {
            let check = respan(quote!(#rt::duration), expr.span());
            quote!(#check(#expr))
        }
    }
}

fn number<T: Copy>(value: &Value<T>, literal: impl Fn(T) -> proc_macro2::Literal) -> TokenStream {
    match value {
        Value::Lit(number, span) => {
            let mut literal = literal(*number);
            literal.set_span(*span);
            literal.into_token_stream()
        }
        Value::Expr(expr) => expr.to_token_stream(),
    }
}

/// `RetryPolicy::new().max_attempts(..)...`, from the literal keys.
fn policy(config: &Config, krate: &TokenStream, rt: &TokenStream) -> TokenStream {
    let mut policy = quote!(#krate::RetryPolicy::new());
    if let Some(max) = &config.max {
        let max = number(&max.value, proc_macro2::Literal::u32_unsuffixed);
        policy.extend(quote!(.max_attempts(#max)));
    }
    if let Some(retries) = &config.retries {
        let retries = number(&retries.value, proc_macro2::Literal::u32_unsuffixed);
        policy.extend(quote!(.retries(#retries)));
    }
    if let Some(base) = &config.base {
        let base = duration(&base.value, rt);
        policy.extend(quote!(.base(#base)));
    }
    if let Some(factor) = &config.factor {
        let factor = number(&factor.value, proc_macro2::Literal::f64_unsuffixed);
        policy.extend(quote!(.factor(#factor)));
    }
    if let Some(max_delay) = &config.max_delay {
        let max_delay = duration(&max_delay.value, rt);
        policy.extend(quote!(.max_delay(#max_delay)));
    }
    if let Some(jitter) = &config.jitter {
        let variant = match jitter.value {
            Jitter::None => quote!(None),
            Jitter::Full => quote!(Full),
            Jitter::Equal => quote!(Equal),
            Jitter::Decorrelated => quote!(Decorrelated),
        };
        policy.extend(quote!(.jitter(#krate::Jitter::#variant)));
    }
    if let Some(deadline) = &config.deadline {
        let deadline = duration(&deadline.value, rt);
        policy.extend(quote!(.deadline(#deadline)));
    }
    if let Some(timeout) = &config.timeout {
        let timeout = duration(&timeout.value, rt);
        policy.extend(quote!(.attempt_timeout(#timeout)));
    }
    if let Some(on) = &config.on {
        let mut set = quote!(#krate::ClassSet::EMPTY);
        if on.value.transient {
            set.extend(quote!(.with(#krate::Class::Transient)));
        }
        if on.value.ambiguous {
            set.extend(quote!(.with(#krate::Class::Ambiguous)));
        }
        policy.extend(quote!(.on(#set)));
    }
    quote!(#rt::checked(#policy))
}

/// The items the loop needs (the constant policy, the environment's
/// `static`), and the expression giving the engine its policy.
fn policy_source(
    config: &Config,
    krate: &TokenStream,
    rt: &TokenStream,
) -> (TokenStream, TokenStream) {
    let mixed = Span::mixed_site();
    if let Some(policy) = &config.policy {
        let expr = &policy.value;
        let annotated = respan(quote!(#krate::RetryPolicy), expr.span());
        return (
            TokenStream::new(),
            quote!({ let __retry_policy: #annotated = #expr; __retry_policy }),
        );
    }
    let compiled = policy(config, krate, rt);
    let mut items = quote_spanned!(mixed=> const __RETRY_POLICY: #krate::RetryPolicy = #compiled;);
    let source = if let Some(env) = &config.env {
        let prefix = &env.value;
        items.extend(quote_spanned!(mixed=>
            static __RETRY_ENV: #rt::EnvPolicy = #rt::EnvPolicy::new(#prefix, __RETRY_POLICY);
        ));
        quote_spanned!(mixed=> __RETRY_ENV.source())
    } else {
        quote_spanned!(mixed=> &__RETRY_POLICY)
    };
    (items, source)
}

/// Per attempt, before the body: each argument the body may consume.
/// Returns the bindings and whether any argument is by value.
fn bindings(function: &mut Function, rt: &TokenStream) -> (TokenStream, bool) {
    let mixed = Span::mixed_site();
    let mut bindings = TokenStream::new();
    if let Some(ReceiverPlan::Owned {
        mutable,
        ty_span,
        self_token,
    }) = &function.receiver
    {
        // A binding cannot be named `self`: the body's `self` is renamed.
        let renamed = Ident::new("__retry_self", mixed);
        function.item.body = body::rename_self(std::mem::take(&mut function.item.body), &renamed);
        let mutability = mutable.then(|| quote!(mut));
        // `self` keeps the signature's span: it is hygienic like a local.
        let clone = respan(
            quote!(#rt::ArgClone::clone_for_attempt(&#self_token)),
            *ty_span,
        );
        bindings.extend(quote_spanned!(mixed=> let #mutability #renamed = #clone;));
    }
    let mut by_value = false;
    for plan in &function.args {
        match plan {
            ArgPlan::Shared | ArgPlan::Ignored => {}
            ArgPlan::Reborrow { ident, mutable } => {
                let mutability = mutable.then(|| quote!(mut));
                bindings.extend(quote_spanned!(mixed=> let #mutability #ident = &mut *#ident;));
            }
            ArgPlan::Clone { pat, source, ty } => {
                by_value = true;
                // The whole call carries the argument's span, so a missing
                // `Clone` is reported there.
                let clone = respan(
                    quote!(#rt::ArgClone::clone_for_attempt(&#source)),
                    ty.span(),
                );
                bindings.extend(quote_spanned!(mixed=> let #pat = #clone;));
            }
        }
    }
    (bindings, by_value)
}

/// The verdict on a failed attempt's error (bound to `error`), spanned
/// where a type error belongs: the classifier, or the error type.
fn verdict(config: &Config, function: &Function, rt: &TokenStream, error: &Ident) -> TokenStream {
    match &config.classify {
        Some(classify) => {
            let path = &classify.value;
            respan(quote!(#rt::Verdict::of((#path)(&#error))), path.span())
        }
        None => respan(quote!(#rt::by_trait(&#error)), function.error_span),
    }
}

fn expand(config: &Config, mut function: Function) -> TokenStream {
    let krate = config.krate.as_ref().map_or_else(
        || quote!(::retry_runtime),
        |krate| krate.value.to_token_stream(),
    );
    let rt = quote!(#krate::__private);
    let (items, source) = policy_source(config, &krate, &rt);
    let (bindings, by_value) = bindings(&mut function, &rt);
    let error = Ident::new("__retry_error", Span::mixed_site());
    let verdict = verdict(config, &function, &rt, &error);
    let name = function.item.sig.ident.to_string();
    let output = ast::infer_impl_trait(&function.output);
    let attempt = config.attempt.as_ref().map(|attempt| &attempt.value);
    let budgeted = config.budget.is_some();
    let budget = config.budget.as_ref().map_or_else(
        || quote!(#rt::None),
        |budget| {
            let expr = &budget.value;
            quote!(#rt::Some(#expr))
        },
    );
    let timed = config.notify.is_some();
    let notify = config.notify.as_ref().map_or_else(
        || quote!(#rt::NoNotify),
        |notify| {
            let path = &notify.value;
            respan(quote!(#rt::hook::<#output, _>(#path)), path.span())
        },
    );
    let body = &function.item.body;
    let call = if function.is_async {
        let enforces_timeout = config.timeout.is_some();
        let timeout = config.timeout.as_ref().map(|timeout| {
            let after = duration(&timeout.value, &rt);
            let timed_out = Ident::new("__retry_timed_out", Span::mixed_site());
            let convert = respan(
                quote!(#rt::FromTimedOut::from_timed_out(#timed_out)),
                timeout.key.span(),
            );
            quote!(#after, #timed_out => #convert,)
        });
        quote! {
            #rt::retry_async! {
                source: #source,
                budget: #budget,
                budgeted: #budgeted,
                timed: #timed,
                name: #name,
                enforces_timeout: #enforces_timeout,
                attempt: [#attempt],
                output: #output,
                error: #error,
                verdict: #verdict,
                notify: #notify,
                timeout: [#timeout],
                bindings: { #bindings },
                body: { #body }
            }
        }
    } else {
        quote! {
            #rt::retry_blocking! {
                source: #source,
                budget: #budget,
                budgeted: #budgeted,
                timed: #timed,
                name: #name,
                attempt: [#attempt],
                output: #output,
                error: #error,
                verdict: #verdict,
                notify: #notify,
                bindings: { #bindings },
                body: { #body }
            }
        }
    };

    let ItemFn {
        attrs, vis, sig, ..
    } = &function.item;
    // Clippy would blame the signature for what the rewrite does: by-value
    // arguments are now only borrowed (to clone them per attempt).
    let allow = by_value.then(|| quote!(#[allow(clippy::needless_pass_by_value)]));
    quote! {
        #(#attrs)*
        #allow
        #vis #sig {
            #items
            #call
        }
    }
}
