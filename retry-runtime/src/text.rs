//! Classifying failures from their text, for tools whose only signal is
//! their output.

use crate::Class;

/// One rule of a [`TextClassifier`]: if the text contains `pattern`
/// (ASCII case-insensitively), the failure is `class`, labelled `label`.
///
/// ```
/// use retry_runtime::{Class, Rule};
///
/// const REFUSED: Rule<'static> = Rule::transient("connection refused", "network");
/// assert!(REFUSED.matches("dial tcp: Connection Refused"));
/// assert_eq!(REFUSED.class(), Class::Transient);
/// assert_eq!(REFUSED.label(), "network");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rule<'a> {
    pattern: &'a str,
    class: Class,
    label: &'a str,
}

impl<'a> Rule<'a> {
    /// A rule classifying text that contains `pattern` as `class`.
    ///
    /// ```
    /// use retry_runtime::{Class, Rule};
    /// let rule = Rule::new("quota", Class::Transient, "quota");
    /// assert!(rule.matches("Quota exceeded"));
    /// ```
    pub const fn new(pattern: &'a str, class: Class, label: &'a str) -> Self {
        Rule {
            pattern,
            class,
            label,
        }
    }

    /// A [`Transient`](Class::Transient) rule.
    ///
    /// ```
    /// use retry_runtime::{Class, Rule};
    /// assert_eq!(Rule::transient("busy", "busy").class(), Class::Transient);
    /// ```
    pub const fn transient(pattern: &'a str, label: &'a str) -> Self {
        Rule::new(pattern, Class::Transient, label)
    }

    /// An [`Ambiguous`](Class::Ambiguous) rule.
    ///
    /// ```
    /// use retry_runtime::{Class, Rule};
    /// assert_eq!(Rule::ambiguous("timeout", "timeout").class(), Class::Ambiguous);
    /// ```
    pub const fn ambiguous(pattern: &'a str, label: &'a str) -> Self {
        Rule::new(pattern, Class::Ambiguous, label)
    }

    /// A [`Permanent`](Class::Permanent) rule.
    ///
    /// ```
    /// use retry_runtime::{Class, Rule};
    /// assert_eq!(Rule::permanent("segfault", "crash").class(), Class::Permanent);
    /// ```
    pub const fn permanent(pattern: &'a str, label: &'a str) -> Self {
        Rule::new(pattern, Class::Permanent, label)
    }

    /// The text this rule looks for.
    ///
    /// ```
    /// assert_eq!(retry_runtime::Rule::transient("busy", "b").pattern(), "busy");
    /// ```
    pub const fn pattern(&self) -> &'a str {
        self.pattern
    }

    /// The class of a failure this rule matches.
    ///
    /// ```
    /// use retry_runtime::{Class, Rule};
    /// assert_eq!(Rule::permanent("x", "x").class(), Class::Permanent);
    /// ```
    pub const fn class(&self) -> Class {
        self.class
    }

    /// The family name kept in histories (`"network"`, `"filesystem"`).
    ///
    /// ```
    /// assert_eq!(retry_runtime::Rule::transient("x", "network").label(), "network");
    /// ```
    pub const fn label(&self) -> &'a str {
        self.label
    }

    /// Whether `text` contains the pattern, ignoring ASCII case.
    ///
    /// Case folding is ASCII only: tool output is overwhelmingly ASCII, and
    /// this keeps matching free of allocation. An empty pattern matches
    /// everything.
    ///
    /// ```
    /// use retry_runtime::Rule;
    /// assert!(Rule::transient("device busy", "busy").matches("mount: DEVICE BUSY"));
    /// assert!(!Rule::transient("device busy", "busy").matches("device is busy"));
    /// ```
    pub fn matches(&self, text: &str) -> bool {
        let (haystack, needle) = (text.as_bytes(), self.pattern.as_bytes());
        needle.is_empty()
            || haystack
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle))
    }
}

/// The infrastructure rule set: the failures of tool runs on shared machines.
///
/// Checked in this order (first match wins):
///
/// 1. **never retried** (`Permanent`): `segmentation fault`, `sigsegv`,
///    `core dumped` (label `crash`); `out of memory`, `cannot allocate memory`,
///    `oom-kill` (label `out of memory`); `placement failed`, `routing failed`,
///    `unroutable` (label `placement/routing`). A deterministic crash is
///    checked first so that incidental network noise in a crash log cannot
///    make it retried.
/// 2. **network** (`Transient`): `connection timeout`, `connection timed out`,
///    `connection refused`, `connection reset`, `no route to host`,
///    `network is unreachable`.
/// 3. **resource busy** (`Transient`): `resource temporarily unavailable`,
///    `device busy`, `device or resource busy`, `try again later`.
/// 4. **container** (`Transient`): `container not found`, `docker error`,
///    `failed to create container`, `docker daemon`.
/// 5. **filesystem** (`Transient`): `no space left`, `disk quota exceeded`,
///    `stale file handle`, `input/output error`.
/// 6. **timeout** (`Ambiguous`): `timeout`, `timed out`, after the network
///    rules, so `"connection timeout"` is a network failure.
///
/// Text no rule matches is `Permanent` (see [`TextClassifier::otherwise`]).
///
/// ```
/// use retry_runtime::{Class, INFRASTRUCTURE};
///
/// let rule = INFRASTRUCTURE.find("error: Connection timeout after 30s").unwrap();
/// assert_eq!((rule.class(), rule.label()), (Class::Transient, "network"));
/// assert_eq!(INFRASTRUCTURE.classify("Segmentation fault (core dumped)"), Class::Permanent);
/// ```
pub const INFRASTRUCTURE_RULES: &[Rule<'static>] = &[
    Rule::permanent("segmentation fault", "crash"),
    Rule::permanent("sigsegv", "crash"),
    Rule::permanent("core dumped", "crash"),
    Rule::permanent("out of memory", "out of memory"),
    Rule::permanent("cannot allocate memory", "out of memory"),
    Rule::permanent("oom-kill", "out of memory"),
    Rule::permanent("placement failed", "placement/routing"),
    Rule::permanent("routing failed", "placement/routing"),
    Rule::permanent("unroutable", "placement/routing"),
    Rule::transient("connection timeout", "network"),
    Rule::transient("connection timed out", "network"),
    Rule::transient("connection refused", "network"),
    Rule::transient("connection reset", "network"),
    Rule::transient("no route to host", "network"),
    Rule::transient("network is unreachable", "network"),
    Rule::transient("resource temporarily unavailable", "resource busy"),
    Rule::transient("device busy", "resource busy"),
    Rule::transient("device or resource busy", "resource busy"),
    Rule::transient("try again later", "resource busy"),
    Rule::transient("container not found", "container"),
    Rule::transient("docker error", "container"),
    Rule::transient("failed to create container", "container"),
    Rule::transient("docker daemon", "container"),
    Rule::transient("no space left", "filesystem"),
    Rule::transient("disk quota exceeded", "filesystem"),
    Rule::transient("stale file handle", "filesystem"),
    Rule::transient("input/output error", "filesystem"),
    Rule::ambiguous("timeout", "timeout"),
    Rule::ambiguous("timed out", "timeout"),
];

/// [`INFRASTRUCTURE_RULES`] as a ready classifier.
///
/// ```
/// use retry_runtime::{Class, INFRASTRUCTURE};
/// assert_eq!(INFRASTRUCTURE.classify("write: No space left on device"), Class::Transient);
/// ```
pub const INFRASTRUCTURE: TextClassifier<'static> = TextClassifier::new(INFRASTRUCTURE_RULES);

/// Ordered, case-insensitive text rules: the first rule whose pattern occurs
/// in the text decides the class; text that no rule matches gets the
/// fallback class ([`Permanent`](Class::Permanent) unless set with
/// [`otherwise`](TextClassifier::otherwise)).
///
/// Rules are borrowed, so a classifier can be a `const` (as
/// [`INFRASTRUCTURE`] is) or built at run time from configuration.
///
/// ```
/// use retry_runtime::{Class, Rule, TextClassifier, INFRASTRUCTURE_RULES};
///
/// // Site-specific rules first, then the ready set.
/// const SITE: &[Rule<'static>] = &[Rule::transient("license server busy", "license")];
/// let rules: Vec<Rule<'_>> = SITE.iter().chain(INFRASTRUCTURE_RULES).copied().collect();
/// let classifier = TextClassifier::new(&rules);
///
/// assert_eq!(classifier.find("FATAL: License server busy").unwrap().label(), "license");
/// assert_eq!(classifier.classify("connection refused"), Class::Transient);
/// assert_eq!(classifier.classify("syntax error in design.v"), Class::Permanent);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TextClassifier<'a> {
    rules: &'a [Rule<'a>],
    otherwise: Class,
}

impl<'a> TextClassifier<'a> {
    /// A classifier over `rules`, in order; unmatched text is `Permanent`.
    ///
    /// ```
    /// use retry_runtime::{Class, Rule, TextClassifier};
    /// const C: TextClassifier<'static> = TextClassifier::new(&[Rule::transient("busy", "busy")]);
    /// assert_eq!(C.classify("BUSY"), Class::Transient);
    /// ```
    pub const fn new(rules: &'a [Rule<'a>]) -> Self {
        TextClassifier {
            rules,
            otherwise: Class::Permanent,
        }
    }

    /// The class of text that no rule matches.
    ///
    /// ```
    /// use retry_runtime::{Class, TextClassifier};
    /// let c = TextClassifier::new(&[]).otherwise(Class::Ambiguous);
    /// assert_eq!(c.classify("anything"), Class::Ambiguous);
    /// ```
    #[must_use]
    pub const fn otherwise(self, class: Class) -> Self {
        TextClassifier {
            otherwise: class,
            ..self
        }
    }

    /// The rules, in the order they are tried.
    ///
    /// ```
    /// assert!(!retry_runtime::INFRASTRUCTURE.rules().is_empty());
    /// ```
    pub const fn rules(&self) -> &'a [Rule<'a>] {
        self.rules
    }

    /// The first rule matching `text`, if any.
    ///
    /// ```
    /// use retry_runtime::INFRASTRUCTURE;
    /// assert_eq!(INFRASTRUCTURE.find("Device or resource busy").unwrap().label(), "resource busy");
    /// assert!(INFRASTRUCTURE.find("all good").is_none());
    /// ```
    pub fn find(&self, text: &str) -> Option<&'a Rule<'a>> {
        self.rules.iter().find(|rule| rule.matches(text))
    }

    /// The class of `text`: the first matching rule's, or the fallback.
    ///
    /// ```
    /// use retry_runtime::{Class, INFRASTRUCTURE};
    /// assert_eq!(INFRASTRUCTURE.classify("job timed out"), Class::Ambiguous);
    /// ```
    pub fn classify(&self, text: &str) -> Class {
        self.find(text).map_or(self.otherwise, Rule::class)
    }

    /// The class and label of `text` (the label is `None` when no rule
    /// matched).
    ///
    /// ```
    /// use retry_runtime::{Class, INFRASTRUCTURE};
    /// assert_eq!(
    ///     INFRASTRUCTURE.classify_labelled("docker error: pull failed"),
    ///     (Class::Transient, Some("container")),
    /// );
    /// ```
    pub fn classify_labelled(&self, text: &str) -> (Class, Option<&'a str>) {
        self.find(text).map_or((self.otherwise, None), |rule| {
            (rule.class, Some(rule.label))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> (Class, Option<&'static str>) {
        INFRASTRUCTURE.classify_labelled(text)
    }

    #[test]
    fn connection_timeout_is_network_not_timeout() {
        assert_eq!(
            verdict("ERROR: Connection timeout while fetching license"),
            (Class::Transient, Some("network"))
        );
        assert_eq!(
            verdict("ssh: connect to host x port 22: Connection timed out"),
            (Class::Transient, Some("network"))
        );
        assert_eq!(
            verdict("step 3 timed out"),
            (Class::Ambiguous, Some("timeout"))
        );
        assert_eq!(
            verdict("TIMEOUT waiting for lock"),
            (Class::Ambiguous, Some("timeout"))
        );
    }

    #[test]
    fn the_four_transient_families() {
        for (text, label) in [
            ("connect: connection refused", "network"),
            ("read: Connection reset by peer", "network"),
            ("No route to host", "network"),
            ("flock: Resource temporarily unavailable", "resource busy"),
            ("umount: /mnt: device busy", "resource busy"),
            ("server overloaded, try again later", "resource busy"),
            ("Error: container not found: abc123", "container"),
            ("docker error: image pull failed", "container"),
            ("Failed to create container: OCI runtime", "container"),
            ("write /out/run.log: No space left on device", "filesystem"),
            ("Disk quota exceeded", "filesystem"),
            ("cat: results.db: Stale file handle", "filesystem"),
            ("read: Input/output error", "filesystem"),
        ] {
            assert_eq!(verdict(text), (Class::Transient, Some(label)), "{text}");
        }
    }

    #[test]
    fn never_retried() {
        for (text, label) in [
            ("Segmentation fault (core dumped)", "crash"),
            ("caught SIGSEGV in router", "crash"),
            ("fatal: Out of memory", "out of memory"),
            ("fork: Cannot allocate memory", "out of memory"),
            ("Placement failed: utilization 140%", "placement/routing"),
            ("Routing failed after 20 iterations", "placement/routing"),
            ("net clk is unroutable", "placement/routing"),
        ] {
            assert_eq!(verdict(text), (Class::Permanent, Some(label)), "{text}");
        }
        // A crash wins over network noise earlier in the same log.
        assert_eq!(
            verdict("connection reset; retrying\nSegmentation fault"),
            (Class::Permanent, Some("crash"))
        );
    }

    #[test]
    fn unmatched_text_takes_the_fallback() {
        assert_eq!(verdict("syntax error, line 3"), (Class::Permanent, None));
        let lenient = INFRASTRUCTURE.otherwise(Class::Transient);
        assert_eq!(lenient.classify("syntax error"), Class::Transient);
        assert_eq!(lenient.classify("segmentation fault"), Class::Permanent);
    }

    #[test]
    fn matching_is_case_insensitive_and_ordered() {
        let rules = [
            Rule::transient("Busy", "first"),
            Rule::permanent("busy", "second"),
        ];
        let classifier = TextClassifier::new(&rules);
        assert_eq!(
            classifier.classify_labelled("BUSY"),
            (Class::Transient, Some("first"))
        );
        assert!(Rule::transient("", "all").matches("anything"));
        assert!(!Rule::transient("longer than text", "x").matches("short"));
    }
}
