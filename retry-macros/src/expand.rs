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
//!     rt::retry_async! {
//!         // The configuration is a constant in a block of its own: the
//!         // future stores a reference, and the body cannot see the item.
//!         source: { const __RETRY_POLICY: RetryPolicy = RetryPolicy::new().max_attempts(3)..; &__RETRY_POLICY },
//!         budget: rt::NoBudget, name: "create", enforces_timeout: false,
//!         attempt: [attempt], output: Result<Instance, CreateError>,
//!         engine: __retry_engine, timed_out: __retry_timed_out,   // mixed-site names
//!         error: __retry_error,                                   // a `&E`, spanned at `CreateError`
//!         decide: rt::failed(&mut __retry_engine, "create", __retry_error,   // spanned at `CreateError`
//!             if __retry_timed_out { rt::Verdict::TIMED_OUT } else { rt::by_trait(__retry_error) },
//!             rt::None),
//!         timeout: [],
//!         bindings: { let name = rt::ArgClone::clone_for_attempt(&name); }   // spanned at `String`
//!         body: { BODY }
//!     }
//! }
//! ```
//!
//! and `retry_async!` (in the runtime, `__private.rs`) expands to the loop
//! (its locals are all `__retry_*`, shortened here):
//!
//! ```text
//! let mut engine = rt::Engine::budgeted(SOURCE, rt::Clock::Tokio, BUDGET);
//! engine.begin("create", false, false);              // reads no clock without a deadline
//! loop {
//!     // Everything an attempt owns lives in this block and is dropped
//!     // before the sleep, so no error is held across an `.await`.
//!     let delay = {
//!         let attempt: u32 = engine.attempt();
//!         let name = rt::ArgClone::clone_for_attempt(&name);   // by-value args, per attempt
//!         let pending = async {
//!             if false { return loop {} }            // pins the block's type, for `?`
//!             BODY                                    // `?` and `return` end this attempt
//!         };
//!         let (result, timed_out) = (pending.await, false);
//!         match result {
//!             Ok(v) => return Ok(v),
//!             Err(ref __retry_error) => match DECIDE {
//!                 Some(delay) => delay,
//!                 None => return result,
//!             },
//!         }
//!     };
//!     rt::sleep(delay).await;                        // a zero delay skips the timer
//! }
//! ```
//!
//! Keys given as constants the macro cannot read get a `const _: () =
//! rt::check_max(ZERO);` beside the policy constant, spanned at the
//! constant, so a bad value fails constant evaluation there. A key naming
//! a const generic makes the policy an inline `const { .. }` block instead,
//! which may use it.
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
//! Variations: `timeout` wraps the attempt in `rt::timeout` and turns a
//! timeout into `E::from(TimedOut)`; `policy = expr` stores the policy
//! value in the engine, and (without `timeout`) probes whether the error
//! type has `From<TimedOut>` to enforce the policy's own timeout
//! (`TimeoutProbe`); `env` keeps the policy in a `static EnvPolicy` read at
//! the first failure; a by-value `self` is cloned per attempt into a
//! binding the body's `self` is renamed to (the one case that parses the
//! body), `self: Box<Self>` by cloning `Self` into a new box, and `self:
//! Pin<&mut Self>` is re-borrowed with `Pin::as_mut` the same way; `&mut
//! self` needs nothing, as each use re-borrows it; an argument's `#[cfg]`
//! goes on its per-attempt binding too; a blocking function uses
//! `retry_blocking!`, with the system clock and `std::thread::sleep`.
//!
//! `#[async_trait]`'s shape, a plain `fn` returning `Pin<Box<dyn
//! Future<Output = Result<T, E>> + ..>>`, is retried as an `async fn` with
//! output `Result<T, E>`, the body (which builds the boxed future) awaited
//! in each attempt, and the loop boxed in turn:
//!
//! ```text
//! fn get<'a, 'async_trait>(&'a self, key: String) -> Pin<Box<dyn Future<Output = io::Result<String>> + Send + 'async_trait>> {
//!     Box::pin(async move { rt::retry_async! { .., body: { ({ BODY }).await } } })
//! }
//! ```

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, Pat};

use crate::ast::{self, ArgPlan, Function, ItemFn, ReceiverPlan};
use crate::attr::{self, Backoff, Config, Jitter, Value};
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
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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
    if let Some(backoff) = &config.backoff {
        let variant = match backoff.value {
            Backoff::Exponential => quote!(Exponential),
            Backoff::Linear => quote!(Linear),
            Backoff::Fibonacci => quote!(Fibonacci),
        };
        policy.extend(quote!(.backoff(#krate::Backoff::#variant)));
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
    policy
}

/// The checks of keys given as constants, which the macro cannot read:
/// each a call of a `const fn` of the runtime that panics, during constant
/// evaluation, on a bad value, spanned at the user's expression so that
/// the error is reported there.
fn assertions(config: &Config, rt: &TokenStream) -> Vec<TokenStream> {
    let mut checks = Vec::new();
    let mut check = |value: Option<&Expr>, function: TokenStream| {
        if let Some(expr) = value {
            checks.push(respan(quote!(#rt::#function(#expr)), expr.span()));
        }
    };
    check(
        config.max.as_ref().and_then(|max| number_expr(&max.value)),
        quote!(check_max),
    );
    check(
        config
            .factor
            .as_ref()
            .and_then(|factor| number_expr(&factor.value)),
        quote!(check_factor),
    );
    check(
        config
            .timeout
            .as_ref()
            .and_then(|timeout| number_expr(&timeout.value)),
        quote!(check_timeout),
    );
    check(
        config
            .deadline
            .as_ref()
            .and_then(|deadline| number_expr(&deadline.value)),
        quote!(check_deadline),
    );
    if config.policy.is_none() {
        let base = config.base.as_ref().map(|base| &base.value);
        let max_delay = config.max_delay.as_ref().map(|max_delay| &max_delay.value);
        // Blamed: the constant among the two (`max_delay` if both are).
        let blamed = max_delay
            .and_then(number_expr)
            .or_else(|| base.and_then(number_expr));
        if let Some(blamed) = blamed {
            let base = base.map_or_else(
                || quote!(#rt::nanos(0, 250_000_000)),
                |base| duration(base, rt),
            );
            let max_delay = max_delay.map_or_else(
                || quote!(#rt::nanos(60, 0)),
                |max_delay| duration(max_delay, rt),
            );
            checks.push(respan(
                quote!(#rt::check_delays(#base, #max_delay)),
                blamed.span(),
            ));
        }
    }
    checks
}

fn number_expr<T>(value: &Value<T>) -> Option<&Expr> {
    match value {
        Value::Expr(expr) => Some(expr),
        Value::Lit(..) => None,
    }
}

/// Whether a key given as an expression names one of the function's const
/// generic parameters: then the policy is an inline `const { .. }` block,
/// which may use them, instead of a `const` item, which may not.
fn uses_const_generics(config: &Config, function: &Function) -> bool {
    let params: Vec<String> = function
        .item
        .sig
        .generics
        .const_params()
        .map(|param| param.ident.to_string())
        .collect();
    if params.is_empty() {
        return false;
    }
    let durations = [
        &config.base,
        &config.max_delay,
        &config.deadline,
        &config.timeout,
    ];
    let exprs = [&config.max, &config.retries]
        .into_iter()
        .flatten()
        .filter_map(|keyed| number_expr(&keyed.value))
        .chain(
            config
                .factor
                .iter()
                .filter_map(|keyed| number_expr(&keyed.value)),
        )
        .chain(
            durations
                .into_iter()
                .flatten()
                .filter_map(|keyed| number_expr(&keyed.value)),
        );
    exprs
        .into_iter()
        .any(|expr| mentions(expr.to_token_stream(), &params))
}

fn mentions(tokens: TokenStream, names: &[String]) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => names.iter().any(|name| ident == name),
        TokenTree::Group(group) => mentions(group.stream(), names),
        _ => false,
    })
}

/// The expression giving the engine its policy: a block, so that the
/// items it declares are out of the body's sight.
fn policy_source(
    config: &Config,
    function: &Function,
    krate: &TokenStream,
    rt: &TokenStream,
) -> TokenStream {
    let mixed = Span::mixed_site();
    let checks = assertions(config, rt);
    if let Some(policy) = &config.policy {
        let expr = &policy.value;
        let annotated = respan(quote!(#krate::RetryPolicy), expr.span());
        let binding = Ident::new("__retry_policy", mixed);
        return quote_spanned!(mixed=> {
            #(const _: () = #checks;)*
            let #binding: #annotated = #expr;
            #binding
        });
    }
    let compiled = policy(config, krate, rt);
    if uses_const_generics(config, function) {
        // Inline constants are evaluated when the function is instantiated
        // (so under `cargo build`, not `cargo check`), the price of using
        // its const generics.
        return quote_spanned!(mixed=> {
            #(const { #checks };)*
            &const { #compiled }
        });
    }
    if let Some(env) = &config.env {
        let prefix = &env.value;
        return quote_spanned!(mixed=> {
            #(const _: () = #checks;)*
            static __RETRY_ENV: #rt::EnvPolicy = #rt::EnvPolicy::new(#prefix, #compiled);
            __RETRY_ENV.source()
        });
    }
    // A constant: the future stores a reference to it, not the policy. (A
    // zero-sized closure returning it would save that store, but gives each
    // function its own engine type, whose methods are then compiled once
    // per function: a crate of 200 such functions took 2.8 s to build, not 1.5.)
    quote_spanned!(mixed=> {
        #(const _: () = #checks;)*
        const __RETRY_POLICY: #krate::RetryPolicy = #compiled;
        &__RETRY_POLICY
    })
}

/// Per attempt, before the body: each argument the body may consume.
/// Returns the bindings and whether any argument is by value.
fn bindings(function: &mut Function, rt: &TokenStream) -> (TokenStream, bool) {
    let mixed = Span::mixed_site();
    let mut bindings = TokenStream::new();
    // A binding cannot be named `self`: the body's `self` is renamed to
    // the per-attempt one. `self` keeps the signature's span: it is
    // hygienic like a local.
    let renamed = Ident::new("__retry_self", mixed);
    match &function.receiver {
        Some(ReceiverPlan::Owned {
            mutable,
            ty_span,
            self_token,
            boxed,
        }) => {
            function.item.body =
                body::rename_self(std::mem::take(&mut function.item.body), &renamed);
            let mutability = mutable.then(|| quote!(mut));
            let clone = if *boxed {
                let inner = respan(
                    quote!(#rt::SelfClone::clone_for_attempt(&*#self_token)),
                    *ty_span,
                );
                quote!(::std::boxed::Box::new(#inner))
            } else {
                respan(
                    quote!(#rt::SelfClone::clone_for_attempt(&#self_token)),
                    *ty_span,
                )
            };
            bindings.extend(quote_spanned!(mixed=> let #mutability #renamed = #clone;));
        }
        Some(ReceiverPlan::PinReborrow {
            mutable,
            self_token,
        }) => {
            function.item.body =
                body::rename_self(std::mem::take(&mut function.item.body), &renamed);
            let mutability = mutable.then(|| quote!(mut));
            bindings.extend(quote_spanned!(mixed=>
                let #mutability #renamed = ::core::pin::Pin::as_mut(&mut #self_token);
            ));
        }
        Some(ReceiverPlan::Borrowed) | None => {}
    }
    let mut by_value = false;
    for plan in &function.args {
        match plan {
            ArgPlan::Shared | ArgPlan::Ignored => {}
            ArgPlan::Reborrow {
                ident,
                mutable,
                cfg,
            } => {
                let mutability = mutable.then(|| quote!(mut));
                bindings.extend(
                    quote_spanned!(mixed=> #(#cfg)* let #mutability #ident = &mut *#ident;),
                );
            }
            ArgPlan::Clone {
                pat,
                source,
                ty,
                cfg,
            } => {
                by_value = true;
                // An argument the body never names (one only the attribute
                // uses, as in `policy = options.retry`) is not cloned: the
                // clone would be unused, and warned about as such.
                if let Pat::Ident(binding) = &**pat {
                    if !mentions(function.item.body.clone(), &[binding.ident.to_string()]) {
                        continue;
                    }
                }
                // The whole call carries the argument's span, so a missing
                // `Clone` is reported there.
                let clone = respan(
                    quote!(#rt::ArgClone::clone_for_attempt(&#source)),
                    ty.span(),
                );
                bindings.extend(quote_spanned!(mixed=> #(#cfg)* let #pat = #clone;));
            }
        }
    }
    (bindings, by_value)
}

/// The verdict on a failed attempt's error (`error` is a reference to it), spanned
/// where a type error belongs: the classifier, or the error type.
fn verdict(config: &Config, function: &Function, rt: &TokenStream, error: &Ident) -> TokenStream {
    match &config.classify {
        Some(classify) => {
            let path = &classify.value;
            respan(quote!(#rt::Verdict::of((#path)(#error))), path.span())
        }
        None => respan(quote!(#rt::by_trait(#error)), function.error_span),
    }
}

/// `notify = expr`: evaluated once per call into a local the decision
/// borrows. A closure goes through a helper whose `FnMut` bound gives it
/// its argument type; anything else must implement `Notify<E>`, checked at
/// the expression. Without the key, `NoNotify`.
fn hook(config: &Config, rt: &TokenStream, output: &syn::Type) -> TokenStream {
    let Some(notify) = &config.notify else {
        return quote!(#rt::NoNotify);
    };
    let expr = &notify.value;
    let helper = if matches!(expr, syn::Expr::Closure(_)) {
        quote!(#rt::closure_hook::<#output, _>)
    } else {
        quote!(#rt::hook::<#output, _>)
    };
    let helper = respan(helper, expr.span());
    // The call's parentheses at the expression too, so that a type
    // mismatch points there; the expression keeps its own spans.
    let mut arguments =
        proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, expr.to_token_stream());
    arguments.set_span(expr.span());
    quote!(#helper #arguments)
}

fn expand(config: &Config, mut function: Function) -> TokenStream {
    let krate = config.krate.as_ref().map_or_else(
        || quote!(::retry_runtime),
        |krate| krate.value.to_token_stream(),
    );
    let rt = quote!(#krate::__private);
    let source = policy_source(config, &function, &krate, &rt);
    let (bindings, by_value) = bindings(&mut function, &rt);
    // Where the loop binds a failed attempt's error. Spanned at the error
    // type, so that what the loop asks of it (`Display`) is asked there:
    // the body cannot see it all the same, as it is bound outside the
    // body's block.
    let error = Ident::new(
        "__retry_error",
        Span::call_site().located_at(function.error_span),
    );
    let verdict = verdict(config, &function, &rt, &error);
    let engine = Ident::new("__retry_engine", Span::mixed_site());
    let timed_out = Ident::new("__retry_timed_out", Span::mixed_site());
    let name = function.item.sig.ident.to_string();
    let output = ast::infer_impl_trait(&function.output);
    let attempt = config.attempt.as_ref().map(|attempt| &attempt.value);
    let budget = config.budget.as_ref().map_or_else(
        || quote!(#rt::NoBudget),
        |budget| {
            let expr = &budget.value;
            quote!(#rt::Some(#expr))
        },
    );
    let notify = Ident::new("__retry_notify", Span::mixed_site());
    let timed_events = config.notify.is_some();
    let hook = hook(config, &rt, &output);
    let body = &function.item.body;
    // `#[async_trait]`'s shape: the body builds a boxed future; each
    // attempt builds and awaits a fresh one.
    let body = if function.boxed_future {
        quote!(({ #body }).await)
    } else {
        body.clone()
    };
    // The decision on a failed attempt, written here rather than in the
    // loop so that it is spanned at the error type: a missing `Display` is
    // reported there.
    let failed = respan(quote!(#rt::failed), function.error_span);
    let decide = |verdict: TokenStream| quote_spanned!(function.error_span=> #failed(&mut #engine, #name, #error, #verdict, &mut #notify));
    let call = if function.is_async {
        let (enforces_timeout, timeout) = timeout(config, &function, &rt, &output);
        let decide = decide(quote!(
            if #timed_out { #rt::Verdict::TIMED_OUT } else { #verdict }
        ));
        quote! {
            #rt::retry_async! {
                source: #source,
                budget: #budget,
                name: #name,
                enforces_timeout: #enforces_timeout,
                notify: [#notify = #hook, timed: #timed_events],
                attempt: [#attempt],
                output: #output,
                engine: #engine,
                timed_out: #timed_out,
                error: #error,
                decide: #decide,
                timeout: [#timeout],
                bindings: { #bindings },
                body: { #body }
            }
        }
    } else {
        let decide = decide(verdict);
        let timeout = config.policy.is_some().then(|| quote!(@policy));
        quote! {
            #rt::retry_blocking! {
                source: #source,
                budget: #budget,
                name: #name,
                notify: [#notify = #hook, timed: #timed_events],
                attempt: [#attempt],
                output: #output,
                engine: #engine,
                error: #error,
                decide: #decide,
                timeout: [#timeout],
                bindings: { #bindings },
                body: { #body }
            }
        }
    };
    let call = if function.boxed_future {
        quote!(::std::boxed::Box::pin(async move { #call }))
    } else {
        call
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
            #call
        }
    }
}

/// The loop's `timeout` argument, and whether a timeout the policy has is
/// enforced: the `timeout` key's, through `E: From<TimedOut>` (a compile
/// error at the key without it); else a run-time policy's, where the error
/// type turns out to have `From<TimedOut>` (found by `TimeoutProbe`).
fn timeout(
    config: &Config,
    function: &Function,
    rt: &TokenStream,
    output: &syn::Type,
) -> (bool, TokenStream) {
    if let Some(timeout) = &config.timeout {
        let after = duration(&timeout.value, rt);
        let elapsed = Ident::new("__retry_elapsed", Span::mixed_site());
        let convert = respan(
            quote!(#rt::FromTimedOut::from_timed_out(#elapsed)),
            timeout.key.span(),
        );
        return (true, quote!(#after, #elapsed => #convert,));
    }
    if config.policy.is_none() {
        return (false, TokenStream::new());
    }
    let probe = if function.opaque_error {
        // An `impl Trait` error cannot be named outside the body, so its
        // `From<TimedOut>` cannot be looked for: reported as missing.
        quote!(#rt::None)
    } else {
        quote_spanned!(Span::mixed_site()=> {
            use #rt::{TimeoutFrom as _, TimeoutUnsupported as _};
            (&#rt::TimeoutProbe::<#output>::new()).conversion()
        })
    };
    (true, quote!(@policy #probe))
}
