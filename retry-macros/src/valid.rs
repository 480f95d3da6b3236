//! Checks on how settings combine, and on values only meaningful together.
//! Each error points at the token to change and says how.

use std::time::Duration;

use syn::{Error, Result};

use crate::ast::Function;
use crate::attr::{Config, Keyed, Value};
use retry_duration::format_duration;

const DEFAULT_BASE: Duration = Duration::from_millis(250);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(60);

pub(crate) fn check(config: &Config, function: &Function) -> Result<()> {
    let mut errors = Errors::default();
    errors.add(attempts(config));
    errors.add(factor(config));
    errors.add(delays(config));
    errors.add(nonzero("deadline", config.deadline.as_ref()));
    errors.add(nonzero("timeout", config.timeout.as_ref()));
    errors.add(with_policy(config));
    if let (false, Some(timeout)) = (function.is_async, &config.timeout) {
        errors.add(Err(Error::new(
            timeout.key.span(),
            "`timeout` needs an `async fn`: a blocking call cannot be interrupted; use `deadline` to bound the retries",
        )));
    }
    errors.finish()
}

#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn add(&mut self, result: Result<()>) {
        if let Err(error) = result {
            match &mut self.0 {
                Some(errors) => errors.combine(error),
                None => self.0 = Some(error),
            }
        }
    }

    fn finish(self) -> Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn attempts(config: &Config) -> Result<()> {
    if let (Some(max), Some(retries)) = (&config.max, &config.retries) {
        let later = if max.order > retries.order {
            &max.key
        } else {
            &retries.key
        };
        return Err(Error::new(
            later.span(),
            "`max` and `retries` both set the number of attempts; keep one (`retries = N` means `max = N + 1`)",
        ));
    }
    if let Some((0, span)) = config.max.as_ref().and_then(|max| max.value.literal()) {
        return Err(Error::new(
            span,
            "`max = 0` would make no attempt at all; `max = 1` disables retries",
        ));
    }
    Ok(())
}

fn factor(config: &Config) -> Result<()> {
    match config
        .factor
        .as_ref()
        .and_then(|factor| factor.value.literal())
    {
        Some((factor, span)) if !(factor >= 1.0 && factor.is_finite()) => Err(Error::new(
            span,
            format!(
                "factor {factor} would shrink the delays; use a number >= 1 (`1` keeps them constant)"
            ),
        )),
        _ => Ok(()),
    }
}

fn literal_duration(
    setting: Option<&Keyed<Value<Duration>>>,
    default: Duration,
) -> Option<(Duration, Option<proc_macro2::Span>)> {
    match setting {
        None => Some((default, None)),
        Some(Keyed { value, .. }) => value
            .literal()
            .map(|(duration, span)| (duration, Some(span))),
    }
}

fn delays(config: &Config) -> Result<()> {
    if config.policy.is_some() {
        return Ok(());
    }
    let base = literal_duration(config.base.as_ref(), DEFAULT_BASE);
    let max_delay = literal_duration(config.max_delay.as_ref(), DEFAULT_MAX_DELAY);
    let (Some((base, base_span)), Some((max_delay, max_delay_span))) = (base, max_delay) else {
        return Ok(());
    };
    if max_delay >= base {
        return Ok(());
    }
    let (base_text, max_text) = (format_duration(base), format_duration(max_delay));
    let (span, message) = match (max_delay_span, base_span) {
        (Some(span), Some(_)) => (
            span,
            format!(
                "max_delay ({max_text}) is below base ({base_text}); every delay is capped at max_delay"
            ),
        ),
        (Some(span), None) => (
            span,
            format!(
                "max_delay ({max_text}) is below the default base ({base_text}); raise it or set `base`"
            ),
        ),
        (None, Some(span)) => (
            span,
            format!(
                "base ({base_text}) is above the default max_delay ({max_text}); lower it or set `max_delay`"
            ),
        ),
        (None, None) => return Ok(()),
    };
    Err(Error::new(span, message))
}

fn nonzero(name: &str, setting: Option<&Keyed<Value<Duration>>>) -> Result<()> {
    match setting.and_then(|setting| setting.value.literal()) {
        Some((duration, span)) if duration.is_zero() => Err(Error::new(
            span,
            match name {
                "timeout" => "a zero `timeout` would time out every attempt at once".to_owned(),
                _ => format!(
                    "a zero `{name}` leaves no time for a retry; remove it or give it a length"
                ),
            },
        )),
        _ => Ok(()),
    }
}

/// `policy = expr` carries the whole configuration; the keys it replaces
/// may not be given beside it. One error, at the first such key, names
/// them all.
fn with_policy(config: &Config) -> Result<()> {
    let Some(policy) = &config.policy else {
        return Ok(());
    };
    let mut replaced: Vec<(&syn::Ident, usize)> = [
        config.max.as_ref().map(|k| (&k.key, k.order)),
        config.retries.as_ref().map(|k| (&k.key, k.order)),
        config.base.as_ref().map(|k| (&k.key, k.order)),
        config.factor.as_ref().map(|k| (&k.key, k.order)),
        config.max_delay.as_ref().map(|k| (&k.key, k.order)),
        config.jitter.as_ref().map(|k| (&k.key, k.order)),
        config.backoff.as_ref().map(|k| (&k.key, k.order)),
        config.deadline.as_ref().map(|k| (&k.key, k.order)),
        config.on.as_ref().map(|k| (&k.key, k.order)),
        config.env.as_ref().map(|k| (&k.key, k.order)),
    ]
    .into_iter()
    .flatten()
    .collect();
    replaced.sort_by_key(|(_, order)| *order);
    let Some((first, _)) = replaced.first() else {
        return Ok(());
    };
    let message = if replaced.len() == 1 && *first == "env" {
        "`env` cannot be combined with `policy`; apply the environment to that policy instead, \
         with `RetryPolicy::with_env`"
            .to_owned()
    } else {
        let names: Vec<String> = replaced.iter().map(|(key, _)| format!("`{key}`")).collect();
        let names = match names.as_slice() {
            [init @ .., last] if !init.is_empty() => format!("{} and {last}", init.join(", ")),
            _ => names.join(""),
        };
        format!(
            "{names} cannot be combined with `policy`, which already sets {}; set {} on the \
             `RetryPolicy` given to `{}`{}",
            if replaced.len() == 1 { "it" } else { "them" },
            if replaced.len() == 1 { "it" } else { "them" },
            policy.key,
            if replaced.iter().any(|(key, _)| *key == "env") {
                " (for `env`, with `RetryPolicy::with_env`)"
            } else {
                ""
            }
        )
    };
    Err(Error::new(first.span(), message))
}
