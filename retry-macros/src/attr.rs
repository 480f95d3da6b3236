//! Reading `#[retry(key = value, ...)]`: each key once, each value checked
//! on its own (combinations are `valid`'s business).

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt as _;
use syn::parse::discouraged::Speculative as _;
use syn::parse::{Parse, ParseStream, Parser as _};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{BinOp, Error, Expr, ExprLit, Ident, Lit, LitStr, Path, Result, Token};

use crate::duration::{DurationError, UNITS, parse_duration};
use crate::suggest::{nearest, one_of};

/// Every key, in the order the documentation lists them.
pub(crate) const KEYS: &[&str] = &[
    "max",
    "retries",
    "base",
    "factor",
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

const JITTERS: &[&str] = &["none", "full", "equal", "decorrelated"];
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

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let key = Ident::parse_any(input)?;
        if !input.peek(Token![=]) {
            let example = match key.to_string().as_str() {
                "max" | "retries" => "3",
                "base" | "max_delay" | "deadline" | "timeout" => "\"250ms\"",
                "factor" => "2",
                "jitter" => "full",
                "on" => "Transient | Ambiguous",
                "attempt" => "attempt",
                "env" => "\"PREFIX\"",
                _ => "...",
            };
            return Err(Error::new(
                key.span(),
                format!("`{key}` needs a value: `{key} = {example}`"),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Arg {
            key,
            value: simple_value(input)?,
        })
    }
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

/// Parses the attribute's arguments. Every mistake found is reported, not
/// just the first; the settings that did parse are returned with them so
/// the function can still be emitted sensibly.
pub(crate) fn parse(args: TokenStream) -> (Config, Option<Error>) {
    let mut config = Config::default();
    let parsed = match Punctuated::<Arg, Token![,]>::parse_terminated.parse2(args) {
        Ok(parsed) => parsed,
        Err(error) => return (config, Some(error)),
    };
    let mut errors: Option<Error> = None;
    for (order, arg) in parsed.into_iter().enumerate() {
        if let Err(error) = config.set(arg, order) {
            match &mut errors {
                Some(errors) => errors.combine(error),
                None => errors = Some(error),
            }
        }
    }
    (config, errors)
}

/// Stores a setting, refusing a second value for the same key.
fn once<T>(slot: &mut Option<Keyed<T>>, (key, order): (Ident, usize), value: T) -> Result<()> {
    if let Some(first) = slot {
        let mut error = Error::new(key.span(), format!("duplicate key `{key}`"));
        error.combine(Error::new(
            first.key.span(),
            format!("`{key}` first set here"),
        ));
        return Err(error);
    }
    *slot = Some(Keyed { key, value, order });
    Ok(())
}

impl Config {
    fn set(&mut self, Arg { key, value }: Arg, order: usize) -> Result<()> {
        let name = key.to_string();
        let key = (key, order);
        match name.as_str() {
            "max" => once(&mut self.max, key, integer(value)?),
            "retries" => once(&mut self.retries, key, integer(value)?),
            "base" => once(&mut self.base, key, duration(value)?),
            "factor" => once(&mut self.factor, key, factor(value)?),
            "max_delay" => once(&mut self.max_delay, key, duration(value)?),
            "jitter" => once(&mut self.jitter, key, jitter(&value)?),
            "deadline" => once(&mut self.deadline, key, duration(value)?),
            "timeout" => once(&mut self.timeout, key, duration(value)?),
            "on" => once(&mut self.on, key, classes(&value)?),
            "classify" => once(&mut self.classify, key, value),
            "attempt" => once(&mut self.attempt, key, identifier(&value)?),
            "env" => once(&mut self.env, key, prefix(&value)?),
            "policy" => once(&mut self.policy, key, value),
            "budget" => once(&mut self.budget, key, value),
            "notify" => once(&mut self.notify, key, value),
            "crate" => once(&mut self.krate, key, path(value)?),
            unknown => Err(Error::new(
                key.0.span(),
                match nearest(unknown, KEYS) {
                    Some(near) => format!("unknown key `{unknown}`; did you mean `{near}`?"),
                    None => format!(
                        "unknown key `{unknown}`; expected one of: {}",
                        KEYS.join(", ")
                    ),
                },
            )),
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

fn integer(value: Expr) -> Result<Value<u32>> {
    match literal(&value) {
        Some(Lit::Int(int)) => {
            let number = int.base10_parse::<u32>().map_err(|_| {
                Error::new(
                    int.span(),
                    "expected a whole number of attempts that fits in a u32",
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
    match literal(&value) {
        Some(Lit::Int(int)) => {
            let number = int
                .base10_parse::<u32>()
                .map_err(|_| Error::new(int.span(), "factor is too large"))?;
            Ok(Value::Lit(f64::from(number), int.span()))
        }
        Some(Lit::Float(float)) => {
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
    match literal(&value) {
        Some(Lit::Str(text)) => match parse_duration(&text.value()) {
            Ok(duration) => Ok(Value::Lit(duration, text.span())),
            Err(error) => {
                let hint = match error {
                    DurationError::UnknownUnit(_) | DurationError::MissingUnit => String::new(),
                    _ => format!("; units: {UNITS}"),
                };
                Err(Error::new(text.span(), format!("{error}{hint}")))
            }
        },
        Some(Lit::Int(int)) => Err(Error::new(
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

fn word(value: &Expr) -> Option<&Ident> {
    match value {
        Expr::Path(path) if path.attrs.is_empty() && path.qself.is_none() => {
            path.path.segments.last().map(|segment| &segment.ident)
        }
        Expr::Group(group) => word(&group.expr),
        _ => None,
    }
}

fn jitter(value: &Expr) -> Result<Jitter> {
    let unexpected = || {
        Error::new(
            value.span(),
            format!("expected a jitter: {}", one_of(JITTERS)),
        )
    };
    let ident = word(value).ok_or_else(unexpected)?;
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
                let ident = word(value).ok_or_else(|| {
                    Error::new(
                        value.span(),
                        format!("expected classes: {} (joined with `|`)", one_of(CLASSES)),
                    )
                })?;
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
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            path.path.get_ident().cloned().ok_or_else(|| {
                Error::new(
                    value.span(),
                    "expected a name for the attempt number, e.g. `attempt = attempt`",
                )
            })
        }
        _ => Err(Error::new(
            value.span(),
            "expected a name for the attempt number, e.g. `attempt = attempt`",
        )),
    }
}

fn prefix(value: &Expr) -> Result<LitStr> {
    match literal(value) {
        Some(Lit::Str(text)) if text.value().is_empty() => Err(Error::new(
            text.span(),
            "empty prefix; write the variables' common prefix, e.g. `env = \"COMPUTE_INSTANCE_CREATE\"`",
        )),
        Some(Lit::Str(text)) => Ok(text.clone()),
        _ => Err(Error::new(
            value.span(),
            "expected a string: the prefix of `PREFIX_MAX_ATTEMPTS` and `PREFIX_RETRY_BASE_DELAY_MS`",
        )),
    }
}

fn path(value: Expr) -> Result<Path> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => Ok(path.path),
        other => Err(Error::new(
            other.span(),
            "expected a path to the runtime crate, e.g. `crate = ::retry_runtime`",
        )),
    }
}
