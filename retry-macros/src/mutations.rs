//! Malformed attributes, generated: every single-token mutation (delete,
//! duplicate, swap with the next, replace a literal or word with a value
//! of another kind) of a set of valid `#[retry(..)]` attributes, each
//! expanded on a few function shapes. For every case: no panic, at most
//! one error, the function emitted whole, and `attempt` still bound
//! wherever its key survived the mutation.

use proc_macro2::{TokenStream, TokenTree};

use crate::expand;

/// Valid attributes, between them using every key.
const VALID: &[&str] = &[
    r#"max = 3, base = "250ms", attempt = attempt"#,
    r#"retries = 7, base = "2s", max_delay = "60s", factor = 2, jitter = full, attempt = attempt"#,
    r#"max = 5, factor = 1.5, deadline = "30s", on = Transient | Ambiguous, attempt = attempt"#,
    r#"policy = self.policy, timeout = "5s", attempt = attempt, budget = &BUDGET"#,
    r#"env = "COMPUTE_INSTANCE_CREATE", classify = classify, notify = log, attempt = attempt"#,
    "crate = ::retry_runtime, base = SLOW, max_delay = CAP, attempt = attempt",
];

/// Function shapes, each using `attempt` in its body. The blocking one is
/// paired only with attributes without `timeout`, which it does not take.
const ITEMS: &[&str] = &[
    "async fn create(&self, name: String) -> Result<u32, Error> { Ok(attempt) }",
    "fn run(&mut self, (a, b): (u32, u32)) -> std::io::Result<u32> { Ok(a + b + attempt) }",
    "async fn free<T: Clone>(value: T) -> Result<T, Error> { let _ = attempt; Ok(value) }",
    "fn get<'a>(&'a self, key: String) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'a>> \
     { Box::pin(async move { Ok(attempt) }) }",
];

/// Values of other kinds than the keys expect.
const ODD: &[&str] = &[
    "3u8",
    "-1",
    "-2.5",
    "1.5",
    "0",
    "\"x\"",
    "\"\"",
    "\"250ms\"x",
    "\"-1s\"",
    "'c'",
    "b\"x\"",
    "true",
    "99999999999999999999999",
    "ZERO",
    "a::full",
    "Transient::<()>",
    "()",
    "[1]",
    "{}",
    "self",
    "_",
    "=",
    ",",
    "|",
];

fn items(valid: &str) -> impl Iterator<Item = &'static str> {
    let timeout = valid.contains("timeout");
    ITEMS
        .iter()
        .copied()
        .filter(move |item| !(timeout && item.starts_with("fn run")))
}

fn tokens(text: &str) -> Vec<TokenTree> {
    text.parse::<TokenStream>()
        .expect("corpus is valid tokens")
        .into_iter()
        .collect()
}

fn mutations(valid: &str) -> Vec<Vec<TokenTree>> {
    let original = tokens(valid);
    let mut cases = Vec::new();
    for index in 0..original.len() {
        let mut deleted = original.clone();
        deleted.remove(index);
        cases.push(deleted);

        let mut duplicated = original.clone();
        duplicated.insert(index, original[index].clone());
        cases.push(duplicated);

        if index + 1 < original.len() {
            let mut swapped = original.clone();
            swapped.swap(index, index + 1);
            cases.push(swapped);
        }

        if matches!(original[index], TokenTree::Literal(_) | TokenTree::Ident(_)) {
            for odd in ODD {
                let mut replaced = original[..index].to_vec();
                replaced.extend(tokens(odd));
                replaced.extend(original[index + 1..].iter().cloned());
                cases.push(replaced);
            }
        }
    }
    cases
}

/// Whether `attempt = attempt` is still a whole key of `args`.
fn keeps_attempt(args: &[TokenTree]) -> bool {
    let text: Vec<String> = args.iter().map(ToString::to_string).collect();
    text.windows(3).enumerate().any(|(at, window)| {
        window == ["attempt", "=", "attempt"]
            && (at == 0 || text[at - 1] == ",")
            && text.get(at + 3).is_none_or(|next| next == ",")
    })
}

fn count(tokens: &TokenStream, name: &str) -> usize {
    tokens
        .clone()
        .into_iter()
        .map(|token| match token {
            TokenTree::Ident(ident) => usize::from(ident == name),
            TokenTree::Group(group) => count(&group.stream(), name),
            _ => 0,
        })
        .sum()
}

#[test]
fn no_mutation_panics_cascades_or_loses_the_function() {
    let mut cases = 0;
    let mut rejected = 0;
    for valid in VALID {
        for args in mutations(valid) {
            for item in items(valid) {
                let args_stream: TokenStream = args.iter().cloned().collect();
                let shown = args_stream.to_string();
                let item_stream: TokenStream = item.parse().expect("corpus is valid tokens");
                let output = std::panic::catch_unwind(|| {
                    expand::retry(args_stream.clone(), item_stream.clone())
                })
                .unwrap_or_else(|_| panic!("panicked on #[retry({shown})] {item}"));
                cases += 1;

                let errors = count(&output, "compile_error");
                assert!(
                    errors <= 1,
                    "{errors} errors for #[retry({shown})] {item}:\n{output}"
                );
                rejected += errors;
                let file = syn::parse2::<syn::File>(output.clone())
                    .unwrap_or_else(|error| panic!("{error}: #[retry({shown})] gave {output}"));
                assert!(
                    file.items
                        .iter()
                        .any(|item| matches!(item, syn::Item::Fn(_))),
                    "function lost for #[retry({shown})]: {output}"
                );
                if keeps_attempt(&args) {
                    let text = output.to_string();
                    assert!(
                        text.contains("let attempt : u32 = 1")
                            || text.contains("attempt : [attempt]"),
                        "`attempt` unbound for #[retry({shown})] {item}:\n{output}"
                    );
                }
            }
        }
    }
    eprintln!("{cases} mutated attributes expanded, {rejected} rejected with one error");
    // The corpus exercises both sides: most mutations are mistakes.
    assert!(cases > 2_000, "{cases} cases");
    assert!(rejected > cases / 2, "{rejected} of {cases} rejected");
    assert!(rejected < cases, "every case rejected");
}

#[test]
fn the_corpus_is_valid_before_mutation() {
    for valid in VALID {
        for item in items(valid) {
            let output = expand::retry(
                valid.parse().expect("valid tokens"),
                item.parse().expect("valid tokens"),
            );
            assert_eq!(
                count(&output, "compile_error"),
                0,
                "#[retry({valid})] {item}: {output}"
            );
        }
    }
}
