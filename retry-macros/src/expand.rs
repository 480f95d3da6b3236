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
//!     let mut __retry_engine = rt::Engine::new(&__RETRY_POLICY, rt::Clock::Tokio);
//!     __retry_engine.begin("create", false, false);   // reads no clock without a deadline
//!     loop {
//!         // Everything an attempt owns lives in this block and is dropped
//!         // before the sleep, so no error is held across an `.await`.
//!         let __retry_delay = {
//!             let attempt: u32 = __retry_engine.attempt();
//!             let name = rt::ArgClone::clone_for_attempt(&name);   // by-value args, per attempt
//!             let __retry_result: Result<Instance, CreateError> = '__retry_attempt: {
//!                 BODY   // with `?` and `return` turned into `break '__retry_attempt`
//!             };
//!             match __retry_result {
//!                 Ok(v) => { __retry_engine.succeeded(); return Ok(v); }
//!                 Err(e) => match rt::failed(&mut __retry_engine, "create", &e, rt::by_trait(&e), None) {
//!                     Some(delay) => delay,
//!                     None => return Err(e),
//!                 },
//!             }
//!         };
//!         rt::sleep(__retry_delay).await;   // a zero delay skips the timer
//!     }
//! }
//! ```
//!
//! Variations: a body whose `?`/`return` cannot all be seen runs as
//! `async { BODY }.await` (blocking: `(|| BODY)()`); `timeout` wraps that
//! block in `rt::timeout` and turns a timeout into `E::from(TimedOut)`;
//! `policy = expr` stores the policy value in the engine; `env` keeps the
//! constant in a `static EnvPolicy` read at the first failure; a by-value
//! `self` is cloned per attempt into a binding the body's `self` is renamed
//! to; `&mut self` needs nothing, as each use re-borrows it.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{Ident, ItemFn, Lifetime, Stmt};

use crate::ast::{self, ArgPlan, Function, ReceiverPlan};
use crate::attr::{self, Config, Jitter, Value};
use crate::body;
use crate::valid;

/// The whole attribute: parse, check, expand; on any mistake, the errors
/// and the function as written.
pub(crate) fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    let (config, mut errors) = attr::parse(args);
    let item = match ast::parse(item.clone()) {
        Ok(item) => item,
        Err(error) => {
            let mut tokens = item;
            tokens.extend(combine(errors, error).into_compile_error());
            return tokens;
        }
    };
    let original = item.clone();
    let function = match Function::new(item) {
        Ok(function) => function,
        Err(error) => return fallback(original, &config, combine(errors, error)),
    };
    if let Err(error) = valid::check(&config, &function) {
        errors = Some(combine(errors, error));
    }
    match errors {
        Some(error) => fallback(original, &config, error),
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
fn fallback(mut item: ItemFn, config: &Config, error: syn::Error) -> TokenStream {
    if let Some(attempt) = &config.attempt {
        let ident = &attempt.value;
        let binding: Stmt = syn::parse_quote!(#[allow(unused_variables)] let #ident: u32 = 1;);
        item.block.stmts.insert(0, binding);
    }
    let mut tokens = item.into_token_stream();
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

/// The names generated code uses: runtime paths and hygienic locals.
struct Names {
    krate: TokenStream,
    rt: TokenStream,
    mixed: Span,
    engine: Ident,
    result: Ident,
    timed_out: Ident,
    error: Ident,
    value: Ident,
    delay: Ident,
    label: Lifetime,
}

impl Names {
    fn new(config: &Config) -> Self {
        let krate = config.krate.as_ref().map_or_else(
            || quote!(::retry_runtime),
            |krate| krate.value.to_token_stream(),
        );
        let mixed = Span::mixed_site();
        Names {
            rt: quote!(#krate::__private),
            krate,
            mixed,
            engine: Ident::new("__retry_engine", mixed),
            result: Ident::new("__retry_result", mixed),
            timed_out: Ident::new("__retry_timed_out", mixed),
            error: Ident::new("__retry_error", mixed),
            value: Ident::new("__retry_value", mixed),
            delay: Ident::new("__retry_delay", mixed),
            label: Lifetime::new("'__retry_attempt", mixed),
        }
    }
}

/// The items the loop needs (the constant policy, the environment's
/// `static`), and the expression giving the engine its policy.
fn policy_source(config: &Config, names: &Names) -> (TokenStream, TokenStream) {
    let Names {
        krate, rt, mixed, ..
    } = names;
    if let Some(policy) = &config.policy {
        let expr = &policy.value;
        let annotated = respan(quote!(#krate::RetryPolicy), expr.span());
        return (
            TokenStream::new(),
            quote!({ let __retry_policy: #annotated = #expr; __retry_policy }),
        );
    }
    let compiled = policy(config, krate, rt);
    let mut items = quote_spanned!(*mixed=> const __RETRY_POLICY: #krate::RetryPolicy = #compiled;);
    let source = if let Some(env) = &config.env {
        let prefix = &env.value;
        items.extend(quote_spanned!(*mixed=>
            static __RETRY_ENV: #rt::EnvPolicy = #rt::EnvPolicy::new(#prefix, __RETRY_POLICY);
        ));
        quote_spanned!(*mixed=> __RETRY_ENV.source())
    } else {
        quote_spanned!(*mixed=> &__RETRY_POLICY)
    };
    (items, source)
}

/// Per attempt: the attempt number, then each argument the body may
/// consume. Returns the bindings and whether any argument is by value.
fn bindings(config: &Config, function: &mut Function, names: &Names) -> (TokenStream, bool) {
    let Names {
        rt, mixed, engine, ..
    } = names;
    let mut bindings = TokenStream::new();
    if let Some(attempt) = &config.attempt {
        let ident = &attempt.value;
        bindings.extend(quote_spanned!(*mixed=> let #ident: u32 = #engine.attempt();));
    }
    if let Some(ReceiverPlan::Owned {
        mutable,
        ty_span,
        self_token,
    }) = &function.receiver
    {
        let renamed = Ident::new("__retry_self", *mixed);
        body::rename_self(&mut function.item.block, &renamed);
        let mutability = mutable.then(|| quote!(mut));
        // `self` keeps the signature's span: it is hygienic like a local.
        let clone = respan(
            quote!(#rt::ArgClone::clone_for_attempt(&#self_token)),
            *ty_span,
        );
        bindings.extend(quote_spanned!(*mixed=> let #mutability #renamed = #clone;));
    }
    let mut by_value = false;
    for plan in &function.args {
        match plan {
            ArgPlan::Shared | ArgPlan::Ignored => {}
            ArgPlan::Reborrow { ident, mutable } => {
                let mutability = mutable.then(|| quote!(mut));
                bindings.extend(quote_spanned!(*mixed=> let #mutability #ident = &mut *#ident;));
            }
            ArgPlan::Clone { pat, source, ty } => {
                by_value = true;
                // The whole call carries the argument's span, so a missing
                // `Clone` is reported there.
                let clone = respan(
                    quote!(#rt::ArgClone::clone_for_attempt(&#source)),
                    ty.span(),
                );
                bindings.extend(quote_spanned!(*mixed=> let #pat = #clone;));
            }
        }
    }
    (bindings, by_value)
}

/// The attempt itself, binding its result (and, with a timeout, whether it
/// timed out).
fn attempt(config: &Config, function: &Function, names: &Names) -> TokenStream {
    let Names {
        rt,
        mixed,
        result,
        timed_out,
        label,
        ..
    } = names;
    let output = ast::infer_impl_trait(&function.output);
    let stmts = &function.item.block.stmts;
    let fake_return = quote_spanned! {*mixed=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::unreachable)]
        if false {
            let __retry_fake: #output = loop {};
            return __retry_fake;
        }
    };
    if let Some(timeout) = &config.timeout {
        let after = duration(&timeout.value, rt);
        let from = respan(
            quote!(#rt::FromTimedOut::from_timed_out(#timed_out)),
            timeout.key.span(),
        );
        quote_spanned! {*mixed=>
            let (#result, #timed_out): (#output, bool) =
                match #rt::timeout(#after, async { #fake_return #(#stmts)* }).await {
                    ::core::result::Result::Ok(#result) => (#result, false),
                    ::core::result::Result::Err(#timed_out) => {
                        (::core::result::Result::Err(#from), true)
                    }
                };
        }
    } else if body::can_inline(&function.item.block) {
        let mut block = (*function.item.block).clone();
        body::inline(&mut block, label, rt);
        quote_spanned!(*mixed=> let #result: #output = #label: #block;)
    } else if function.is_async {
        quote_spanned!(*mixed=> let #result: #output = async { #fake_return #(#stmts)* }.await;)
    } else {
        quote_spanned! {*mixed=>
            #[allow(clippy::redundant_closure_call)]
            let #result: #output = (|| -> #output { #(#stmts)* })();
        }
    }
}

/// What is known about a failure: the classifier's verdict, or Ambiguous
/// for a timeout.
fn verdict(config: &Config, function: &Function, names: &Names) -> TokenStream {
    let Names {
        rt,
        mixed,
        error,
        timed_out,
        ..
    } = names;
    let classified = if let Some(classify) = &config.classify {
        let path = &classify.value;
        respan(quote!(#rt::Verdict::of((#path)(&#error))), path.span())
    } else {
        respan(quote!(#rt::by_trait(&#error)), function.error_span)
    };
    if config.timeout.is_some() {
        quote_spanned!(*mixed=> if #timed_out { #rt::Verdict::TIMED_OUT } else { #classified })
    } else {
        classified
    }
}

fn expand(config: &Config, mut function: Function) -> TokenStream {
    let names = Names::new(config);
    let (items, source) = policy_source(config, &names);
    let (bindings, by_value) = bindings(config, &mut function, &names);
    let attempt = attempt(config, &function, &names);
    let verdict = verdict(config, &function, &names);
    let Names {
        rt,
        mixed,
        engine,
        result,
        error,
        value,
        delay,
        ..
    } = &names;

    let name = function.item.sig.ident.to_string();
    let clock = if function.is_async {
        quote!(Tokio)
    } else {
        quote!(Std)
    };
    let budget = config.budget.as_ref().map(|budget| {
        let expr = &budget.value;
        quote_spanned!(*mixed=> .with_budget(::core::option::Option::Some(#expr)))
    });
    let enforces_timeout = config.timeout.is_some();
    let notify = config.notify.as_ref().map_or_else(
        || quote!(::core::option::Option::None),
        |notify| {
            let path = &notify.value;
            quote!(::core::option::Option::Some(#path))
        },
    );
    let sleep = if function.is_async {
        quote_spanned!(*mixed=> #rt::sleep(#delay).await;)
    } else {
        quote_spanned!(*mixed=> #rt::sleep_blocking(#delay);)
    };

    let body = quote_spanned! {*mixed=>
        #items
        let mut #engine = #rt::Engine::new(#source, #rt::Clock::#clock) #budget;
        #engine.begin(#name, false, #enforces_timeout);
        loop {
            let #delay = {
                #bindings
                #attempt
                match #result {
                    ::core::result::Result::Ok(#value) => {
                        #engine.succeeded();
                        return ::core::result::Result::Ok(#value);
                    }
                    ::core::result::Result::Err(#error) => {
                        match #rt::failed(&mut #engine, #name, &#error, #verdict, #notify) {
                            ::core::option::Option::Some(#delay) => #delay,
                            ::core::option::Option::None => return ::core::result::Result::Err(#error),
                        }
                    }
                }
            };
            #sleep
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
            #body
        }
    }
}
