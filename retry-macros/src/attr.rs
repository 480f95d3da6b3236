//! Reading `#[retry(key = value, ...)]`: each key once, each value checked
//! on its own (combinations are `valid`'s business).
//!
//! The arguments are read key by key: a mistake in one key is reported at
//! its token and reading resumes at the next key, so that one mistake is
//! one error and every key that did parse still takes effect in the
//! function emitted beside the error (`attempt` stays bound for the body).

use std::time::Duration;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt as _;
use syn::parse::discouraged::Speculative as _;
use syn::parse::{ParseStream, Parser as _};
use syn::spanned::Spanned as _;
use syn::{BinOp, Error, Expr, ExprLit, Ident, Lit, LitStr, Path, Result, Token, UnOp};

use crate::suggest::{nearest, one_of};
use retry_duration::{DurationError, UNITS, parse_duration};

/// Every key, in the order the documentation lists them.
pub(crate) const KEYS: &[&str] = &[
    "max",
    "retries",
    "base",
    "factor",
    "backoff",
    "max_delay",
    "jitter",
    "deadline",
    "timeout",
    "on",
    "classify",
    "attempt",
    "env",
    "policy",
    "budget",
    "notify",
    "crate",
];

/// Names other retry libraries (and the runtime's own builder) use for a
/// key, mapped to the key meant: too far from it for a spelling
/// suggestion, but a mistake users make.
const ALIASES: &[(&str, &str)] = &[
    ("max_attempts", "max"),
    ("attempts", "max"),
    ("tries", "max"),
    ("max_tries", "max"),
    ("max_retries", "retries"),
    ("retry", "retries"),
    ("delay", "base"),
    ("base_delay", "base"),
    ("initial_delay", "base"),
    ("min_delay", "base"),
    ("backoff_factor", "factor"),
    ("multiplier", "factor"),
    ("strategy", "backoff"),
    ("backoff_strategy", "backoff"),
    ("cap", "max_delay"),
    ("max_backoff", "max_delay"),
    ("maximum_delay", "max_delay"),
    ("attempt_timeout", "timeout"),
    ("per_attempt_timeout", "timeout"),
    ("total_timeout", "deadline"),
    ("retry_on", "on"),
    ("when", "on"),
    ("classes", "on"),
    ("classifier", "classify"),
    ("attempt_number", "attempt"),
    ("prefix", "env"),
    ("env_prefix", "env"),
    ("retry_policy", "policy"),
    ("retry_budget", "budget"),
    ("on_retry", "notify"),
    ("krate", "crate"),
    ("crate_path", "crate"),
];

const JITTERS: &[&str] = &["none", "full", "equal", "decorrelated"];
const BACKOFFS: &[&str] = &["exponential", "linear", "fibonacci"];
const CLASSES: &[&str] = &["Transient", "Ambiguous"];

/// A setting and the key that set it (for error spans).
pub(crate) struct Keyed<T> {
    pub(crate) key: Ident,
    pub(crate) value: T,
    /// Position among the attribute's keys, to blame the later of two.
    pub(crate) order: usize,
}

/// A number or duration: a literal the macro checked, or an expression the
/// compiler will (it lands in a `const`, so it must be a constant).
pub(crate) enum Value<T> {
    Lit(T, Span),
    Expr(Box<Expr>),
}

impl<T: Copy> Value<T> {
    pub(crate) fn literal(&self) -> Option<(T, Span)> {
        match self {
            Value::Lit(value, span) => Some((*value, *span)),
            Value::Expr(_) => None,
        }
    }
}

/// The value of `backoff`.
#[derive(Clone, Copy)]
pub(crate) enum Backoff {
    Exponential,
    Linear,
    Fibonacci,
}

/// The value of `jitter`.
#[derive(Clone, Copy)]
pub(crate) enum Jitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

/// The classes named by `on`.
#[derive(Clone, Copy, Default)]
pub(crate) struct OnSet {
    pub(crate) transient: bool,
    pub(crate) ambiguous: bool,
}

/// The attribute's settings, each `None` when not given.
#[derive(Default)]
pub(crate) struct Config {
    pub(crate) max: Option<Keyed<Value<u32>>>,
    pub(crate) retries: Option<Keyed<Value<u32>>>,
    pub(crate) base: Option<Keyed<Value<Duration>>>,
    pub(crate) factor: Option<Keyed<Value<f64>>>,
    pub(crate) backoff: Option<Keyed<Backoff>>,
    pub(crate) max_delay: Option<Keyed<Value<Duration>>>,
    pub(crate) jitter: Option<Keyed<Jitter>>,
    pub(crate) deadline: Option<Keyed<Value<Duration>>>,
    pub(crate) timeout: Option<Keyed<Value<Duration>>>,
    pub(crate) on: Option<Keyed<OnSet>>,
    pub(crate) classify: Option<Keyed<Expr>>,
    pub(crate) attempt: Option<Keyed<Ident>>,
    pub(crate) env: Option<Keyed<LitStr>>,
    pub(crate) policy: Option<Keyed<Expr>>,
    pub(crate) budget: Option<Keyed<Expr>>,
    pub(crate) notify: Option<Keyed<Expr>>,
    pub(crate) krate: Option<Keyed<Path>>,
}

/// `key = value`, where `key` may be the keyword `crate`.
struct Arg {
    key: Ident,
    value: Expr,
}

/// A value to show in "write it like this" messages.
fn example(key: &str) -> &'static str {
    match key {
        "max" | "retries" => "3",
        "base" | "max_delay" | "deadline" | "timeout" => "\"250ms\"",
        "factor" => "2",
        "jitter" => "full",
        "backoff" => "linear",
        "on" => "Transient | Ambiguous",
        "attempt" => "attempt",
        "env" => "\"PREFIX\"",
        "classify" => "path::to::classify",
        "policy" => "self.policy",
        "budget" => "&BUDGET",
        "notify" => "path::to::hook",
        _ => "::retry_runtime",
    }
}

fn unknown_key(key: &Ident) -> Error {
    let name = key.to_string();
    let meant = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, key)| *key)
        .or_else(|| nearest(&name, KEYS));
    Error::new(
        key.span(),
        match meant {
            Some(near) => format!("unknown key `{name}`; did you mean `{near}`?"),
            None => format!("unknown key `{name}`; expected one of: {}", KEYS.join(", ")),
        },
    )
}

/// One `key = value`. The key is checked before its value is read, so an
/// unknown key is reported as such whatever follows it.
fn parse_arg(input: ParseStream<'_>) -> Result<Arg> {
    let Ok(key) = Ident::parse_any(input) else {
        return Err(input.error(format!(
            "expected a key (`key = value`), one of: {}",
            KEYS.join(", ")
        )));
    };
    let name = key.to_string();
    if !KEYS.contains(&name.as_str()) {
        return Err(unknown_key(&key));
    }
    if !input.peek(Token![=]) || input.peek(Token![==]) || input.peek(Token![=>]) {
        return Err(Error::new(
            key.span(),
            format!("`{name}` needs a value: `{name} = {}`", example(&name)),
        ));
    }
    let eq: Token![=] = input.parse()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(Error::new(
            eq.span,
            format!(
                "`{name} =` is missing its value: `{name} = {}`",
                example(&name)
            ),
        ));
    }
    // On a fork: if the value does not parse, `recover` starts from its
    // beginning rather than from wherever the expression parser stopped,
    // which may be past the comma that ends it.
    let fork = input.fork();
    let value = simple_value(&fork)?;
    input.advance_to(&fork);
    if !input.is_empty() && !input.peek(Token![,]) {
        return Err(input.error(format!(
            "expected `,` after the value of `{name}`; keys are separated by commas"
        )));
    }
    Ok(Arg { key, value })
}

/// Whether the cursor is at the start of a key: a word followed by `=`
/// (not `==` or `=>`), by `,`, or by the end of the arguments.
fn starts_key(cursor: syn::buffer::Cursor<'_>) -> bool {
    let Some((_, rest)) = cursor.ident() else {
        return false;
    };
    match rest.punct() {
        Some((punct, after)) if punct.as_char() == '=' => {
            punct.spacing() == proc_macro2::Spacing::Alone
                || !matches!(after.punct(), Some((next, _)) if matches!(next.as_char(), '=' | '>'))
        }
        Some((punct, _)) => punct.as_char() == ',',
        None => rest.eof(),
    }
}

/// After a mistake, skips to the comma before the next key (or to the
/// end), so that the rest of a broken value is not read as more keys.
fn recover(input: ParseStream<'_>) -> Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((token, next)) = rest.token_tree() {
            if matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ',')
                && (next.eof() || starts_key(next))
            {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    })
}

/// A literal or a plain identifier, the values of most keys, is read
/// without syn's expression parser, which costs far more per token; anything
/// else is a full expression.
fn simple_value(input: ParseStream<'_>) -> Result<Expr> {
    let ends_here = |fork: ParseStream<'_>| fork.is_empty() || fork.peek(Token![,]);
    if input.peek(Lit) {
        let fork = input.fork();
        let lit: Lit = fork.parse()?;
        if ends_here(&fork) {
            input.advance_to(&fork);
            return Ok(Expr::Lit(ExprLit {
                attrs: Vec::new(),
                lit,
            }));
        }
    } else if input.peek(Ident) {
        let fork = input.fork();
        let ident: Ident = fork.parse()?;
        if ends_here(&fork) {
            input.advance_to(&fork);
            return Ok(Expr::Path(syn::ExprPath {
                attrs: Vec::new(),
                qself: None,
                path: ident.into(),
            }));
        }
    }
    input.parse()
}

/// Parses the attribute's arguments. Every mistake found is reported, one
/// error each; the settings that did parse are returned with them so the
/// function can still be emitted sensibly.
pub(crate) fn parse(args: TokenStream) -> (Config, Option<Error>) {
    let mut config = Config::default();
    let mut errors: Option<Error> = None;
    let mut add = |error: Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };
    let parser = |input: ParseStream<'_>| {
        let mut order = 0;
        while !input.is_empty() {
            match parse_arg(input) {
                Ok(arg) => {
                    if let Err(error) = config.set(arg, order) {
                        add(error);
                    }
                }
                Err(error) => {
                    add(error);
                    recover(input)?;
                }
            }
            order += 1;
            if !input.is_empty() {
                // Both `parse_arg` and `recover` stop at a comma.
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(error) = parser.parse2(args) {
        add(error);
    }
    (config, errors)
}

/// Stores a setting, refusing a second value for the same key (one error,
/// at the second).
fn once<T>(slot: &mut Option<Keyed<T>>, (key, order): (Ident, usize), value: T) -> Result<()> {
    if slot.is_some() {
        return Err(Error::new(
            key.span(),
            format!("duplicate key `{key}`: it is already set earlier in this attribute"),
        ));
    }
    *slot = Some(Keyed { key, value, order });
    Ok(())
}

impl Config {
    fn set(&mut self, Arg { key, value }: Arg, order: usize) -> Result<()> {
        let name = key.to_string();
        let key = (key, order);
        match name.as_str() {
            "max" => once(&mut self.max, key, integer(value, "attempts")?),
            "retries" => once(&mut self.retries, key, integer(value, "retries")?),
            "base" => once(&mut self.base, key, duration(value)?),
            "factor" => once(&mut self.factor, key, factor(value)?),
            "max_delay" => once(&mut self.max_delay, key, duration(value)?),
            "jitter" => once(&mut self.jitter, key, jitter(&value)?),
            "backoff" => once(&mut self.backoff, key, backoff(&value)?),
            "deadline" => once(&mut self.deadline, key, duration(value)?),
            "timeout" => once(&mut self.timeout, key, duration(value)?),
            "on" => once(&mut self.on, key, classes(&value)?),
            "classify" => once(&mut self.classify, key, expression(value, "classify")?),
            "attempt" => once(&mut self.attempt, key, identifier(&value)?),
            "env" => once(&mut self.env, key, prefix(&value)?),
            "policy" => once(&mut self.policy, key, expression(value, "policy")?),
            "budget" => once(&mut self.budget, key, expression(value, "budget")?),
            "notify" => once(&mut self.notify, key, expression(value, "notify")?),
            "crate" => once(&mut self.krate, key, path(value)?),
            _ => Err(unknown_key(&key.0)),
        }
    }
}

fn literal(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, attrs }) if attrs.is_empty() => Some(lit),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

/// `-literal` (or a literal token that is itself negative): a negative
/// number, which no key takes. Returns its digits, without the sign.
fn negated(value: &Expr) -> Option<String> {
    match value {
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match literal(&unary.expr)? {
            Lit::Int(int) => Some(int.base10_digits().to_owned()),
            Lit::Float(float) => Some(float.base10_digits().to_owned()),
            _ => Some("..".to_owned()),
        },
        Expr::Group(group) => negated(&group.expr),
        _ => match literal(value)? {
            Lit::Int(int) => int.base10_digits().strip_prefix('-').map(str::to_owned),
            Lit::Float(float) => float.base10_digits().strip_prefix('-').map(str::to_owned),
            _ => None,
        },
    }
}

/// A literal suffix (`3u8`, `"250ms"x`) would be silently dropped: refuse it.
fn unsuffixed(lit: &Lit, plain: impl std::fmt::Display) -> Result<()> {
    if lit.suffix().is_empty() {
        return Ok(());
    }
    Err(Error::new(
        lit.span(),
        format!(
            "unexpected suffix `{}`: write `{plain}`, without a suffix",
            lit.suffix()
        ),
    ))
}

fn integer(value: Expr, what: &str) -> Result<Value<u32>> {
    if negated(&value).is_some() {
        return Err(Error::new(
            value.span(),
            format!("a number of {what} cannot be negative: write a whole number such as `3`"),
        ));
    }
    match literal(&value) {
        Some(Lit::Int(int)) => {
            unsuffixed(&Lit::Int(int.clone()), int.base10_digits())?;
            let number = int.base10_parse::<u32>().map_err(|_| {
                Error::new(
                    int.span(),
                    format!("expected a whole number of {what} that fits in a u32"),
                )
            })?;
            Ok(Value::Lit(number, int.span()))
        }
        Some(other) => Err(Error::new(
            other.span(),
            "expected a whole number, e.g. `3`",
        )),
        None => Ok(Value::Expr(Box::new(value))),
    }
}

fn factor(value: Expr) -> Result<Value<f64>> {
    if let Some(digits) = negated(&value) {
        return Err(Error::new(
            value.span(),
            format!(
                "factor -{digits} would shrink the delays; use a number >= 1 (`1` keeps them constant)"
            ),
        ));
    }
    match literal(&value) {
        Some(lit @ Lit::Int(int)) => {
            unsuffixed(lit, int.base10_digits())?;
            // Any integer above u32::MAX saturates every delay at
            // `max_delay` just the same; f64 holds it without error.
            let number = int.base10_parse::<f64>().unwrap_or(f64::INFINITY);
            if !number.is_finite() {
                return Err(Error::new(
                    int.span(),
                    "factor is too large to represent; every delay would be `max_delay`: \
                     set `factor = 1` and `base` to that delay instead",
                ));
            }
            Ok(Value::Lit(number, int.span()))
        }
        Some(lit @ Lit::Float(float)) => {
            unsuffixed(lit, float.base10_digits())?;
            let number = float.base10_parse::<f64>()?;
            Ok(Value::Lit(number, float.span()))
        }
        Some(other) => Err(Error::new(
            other.span(),
            "expected a number >= 1, e.g. `2` or `1.5`",
        )),
        None => Ok(Value::Expr(Box::new(value))),
    }
}

fn duration(value: Expr) -> Result<Value<Duration>> {
    if negated(&value).is_some() {
        return Err(Error::new(
            value.span(),
            format!("a duration cannot be negative; write one such as \"250ms\" (units: {UNITS})"),
        ));
    }
    match literal(&value) {
        Some(lit @ Lit::Str(text)) => {
            unsuffixed(lit, format!("\"{}\"", text.value()))?;
            match parse_duration(&text.value()) {
                Ok(duration) => Ok(Value::Lit(duration, text.span())),
                Err(error) => {
                    let hint = match error {
                        DurationError::UnknownUnit(_) | DurationError::MissingUnit => String::new(),
                        _ => format!("; units: {UNITS}"),
                    };
                    Err(Error::new(text.span(), format!("{error}{hint}")))
                }
            }
        }
        Some(Lit::Int(int)) if int.suffix().is_empty() => Err(Error::new(
            int.span(),
            format!(
                "a duration needs a unit: write `\"{}ms\"` (units: {UNITS})",
                int.base10_digits()
            ),
        )),
        Some(other) => Err(Error::new(
            other.span(),
            format!(
                "expected a duration string such as \"250ms\" (units: {UNITS}) or a `Duration` constant"
            ),
        )),
        None => Ok(Value::Expr(Box::new(value))),
    }
}

/// A bare word: one identifier, not a path (`a::full`), with no generic
/// arguments (`Transient::<()>`). `what` names what is expected, for the
/// error.
fn word<'a>(value: &'a Expr, what: &str) -> Result<&'a Ident> {
    match value {
        Expr::Group(group) => word(&group.expr, what),
        Expr::Path(path) if path.attrs.is_empty() && path.qself.is_none() => {
            let segments = &path.path.segments;
            let last = &segments[segments.len() - 1].ident;
            if segments.len() == 1 && path.path.leading_colon.is_none() {
                if segments[0].arguments.is_none() {
                    return Ok(last);
                }
                return Err(Error::new_spanned(
                    &path.path,
                    format!("`{last}` takes no generic arguments: write `{last}`"),
                ));
            }
            Err(Error::new_spanned(
                &path.path,
                format!("expected {what} as a bare word, not a path: write `{last}`"),
            ))
        }
        _ => Err(Error::new(value.span(), format!("expected {what}"))),
    }
}

fn jitter(value: &Expr) -> Result<Jitter> {
    let ident = word(value, &format!("a jitter ({})", one_of(JITTERS)))?;
    Ok(match ident.to_string().as_str() {
        "none" | "None" => Jitter::None,
        "full" | "Full" => Jitter::Full,
        "equal" | "Equal" => Jitter::Equal,
        "decorrelated" | "Decorrelated" => Jitter::Decorrelated,
        other => {
            let near = nearest(other, JITTERS)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            return Err(Error::new(
                ident.span(),
                format!(
                    "unknown jitter `{other}`; {near}expected {}",
                    one_of(JITTERS)
                ),
            ));
        }
    })
}

fn backoff(value: &Expr) -> Result<Backoff> {
    let ident = word(value, &format!("a backoff ({})", one_of(BACKOFFS)))?;
    Ok(match ident.to_string().as_str() {
        "exponential" | "Exponential" => Backoff::Exponential,
        "linear" | "Linear" => Backoff::Linear,
        "fibonacci" | "Fibonacci" => Backoff::Fibonacci,
        other => {
            let near = nearest(&other.to_lowercase(), BACKOFFS)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            return Err(Error::new(
                ident.span(),
                format!(
                    "unknown backoff `{other}`; {near}expected {}",
                    one_of(BACKOFFS)
                ),
            ));
        }
    })
}

/// `Transient`, `Ambiguous`, or both joined by `|`.
fn classes(value: &Expr) -> Result<OnSet> {
    fn collect(value: &Expr, set: &mut OnSet) -> Result<()> {
        match value {
            Expr::Binary(binary) if matches!(binary.op, BinOp::BitOr(_)) => {
                collect(&binary.left, set)?;
                collect(&binary.right, set)
            }
            Expr::Paren(inner) => collect(&inner.expr, set),
            Expr::Group(inner) => collect(&inner.expr, set),
            _ => {
                let ident = word(
                    value,
                    &format!("classes ({}, joined with `|`)", one_of(CLASSES)),
                )?;
                match ident.to_string().as_str() {
                    "Transient" => set.transient = true,
                    "Ambiguous" => set.ambiguous = true,
                    "Permanent" => {
                        return Err(Error::new(
                            ident.span(),
                            "`Permanent` failures are never retried; `on` takes `Transient` and/or `Ambiguous`",
                        ));
                    }
                    other => {
                        let near = nearest(other, &["Transient", "Ambiguous", "Permanent"])
                            .filter(|near| *near != "Permanent")
                            .map(|near| format!("did you mean `{near}`? "))
                            .unwrap_or_default();
                        return Err(Error::new(
                            ident.span(),
                            format!(
                                "unknown class `{other}`; {near}expected {}",
                                one_of(CLASSES)
                            ),
                        ));
                    }
                }
                Ok(())
            }
        }
    }
    let mut set = OnSet::default();
    collect(value, &mut set)?;
    Ok(set)
}

fn identifier(value: &Expr) -> Result<Ident> {
    let expected = "expected a name for the attempt number, e.g. `attempt = attempt`";
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            match path.path.get_ident() {
                Some(ident)
                    if !matches!(
                        ident.to_string().as_str(),
                        "self" | "Self" | "crate" | "super"
                    ) =>
                {
                    Ok(ident.clone())
                }
                _ => Err(Error::new(value.span(), expected)),
            }
        }
        _ => Err(Error::new(value.span(), expected)),
    }
}

fn prefix(value: &Expr) -> Result<LitStr> {
    match literal(value) {
        Some(lit @ Lit::Str(text)) => {
            unsuffixed(lit, format!("\"{}\"", text.value()))?;
            if text.value().is_empty() {
                return Err(Error::new(
                    text.span(),
                    "empty prefix; write the variables' common prefix, e.g. `env = \"COMPUTE_INSTANCE_CREATE\"`",
                ));
            }
            Ok(text.clone())
        }
        _ => Err(Error::new(
            value.span(),
            "expected a string: the prefix of `PREFIX_MAX_ATTEMPTS` and `PREFIX_RETRY_BASE_DELAY_MS`",
        )),
    }
}

/// The value of `classify`, `policy`, `budget` or `notify`: any
/// expression but a literal, which cannot be one of them.
fn expression(value: Expr, key: &str) -> Result<Expr> {
    match literal(&value) {
        Some(lit) => Err(Error::new(
            lit.span(),
            match key {
                "classify" => {
                    "expected a path to a `fn(&E) -> Class`, e.g. `classify = my_classifier`"
                }
                "policy" => "expected a `RetryPolicy` expression, e.g. `policy = self.policy`",
                "budget" => "expected a `&'static RetryBudget`, e.g. `budget = &BUDGET`",
                _ => "expected the hook called before each sleep, e.g. `notify = log_retry`",
            },
        )),
        None => Ok(value),
    }
}

fn path(value: Expr) -> Result<Path> {
    match value {
        Expr::Path(path)
            if path.qself.is_none()
                && path.attrs.is_empty()
                && path
                    .path
                    .segments
                    .iter()
                    .all(|segment| segment.arguments.is_none()) =>
        {
            Ok(path.path)
        }
        other => Err(Error::new(
            other.span(),
            "expected a path to the runtime crate, e.g. `crate = ::retry_runtime`",
        )),
    }
}
