//! Rewriting the function body to run as one attempt.
//!
//! `?` and `return` in the body must end the *attempt*, not the function.
//! Where every `?` and `return` is visible, the body is inlined as a
//! labelled block and each becomes a `break` out of it:
//!
//! ```text
//! expr?          =>  match expr { Ok(v) => v, Err(e) => break 'attempt Err(e.into()) }
//! return value   =>  break 'attempt value
//! ```
//!
//! (not inside closures, async blocks, `const` blocks or nested items, whose
//! `?` and `return` are their own). A macro call could hide a `return` or a
//! `?` (`anyhow::bail!` expands to `return Err(..)`), so a body calling any
//! macro other than the standard formatting and assertion macros and
//! `tracing`/`log` events, or passing `?`/`return` to one, is not inlined:
//! it becomes a nested `async` block (or, for a blocking function, a
//! closure), where `return` and `?` already mean "end this attempt".

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote_spanned;
use syn::spanned::Spanned as _;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, Item, Lifetime, Macro};

/// Macros that expand to an expression without `return` or `?` of their
/// own, so that scanning their arguments tells whether they can end the
/// attempt.
const TRANSPARENT_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "format",
    "format_args",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "panic",
    "unreachable",
    "todo",
    "unimplemented",
    "matches",
    "dbg",
    "vec",
    "concat",
    "stringify",
    "line",
    "column",
    "file",
    "module_path",
    "cfg",
    "env",
    "option_env",
    "include_str",
    "include_bytes",
    "trace",
    "debug",
    "info",
    "warn",
    "error",
    "event",
    "span",
    "trace_span",
    "debug_span",
    "info_span",
    "warn_span",
    "error_span",
];

/// Whether the body can be inlined as a labelled block.
pub(crate) fn can_inline(block: &Block) -> bool {
    let mut scan = Scan { opaque: false };
    scan.visit_block(block);
    !scan.opaque
}

struct Scan {
    opaque: bool,
}

impl Scan {
    fn check(&mut self, mac: &Macro) {
        let transparent = mac
            .path
            .segments
            .last()
            .is_some_and(|segment| TRANSPARENT_MACROS.iter().any(|name| segment.ident == name));
        if !transparent || ends_attempt(mac.tokens.clone()) {
            self.opaque = true;
        }
    }
}

/// Whether the tokens contain a `?` or a `return`.
fn ends_attempt(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Punct(punct) => punct.as_char() == '?',
        TokenTree::Ident(ident) => ident == "return",
        TokenTree::Group(group) => ends_attempt(group.stream()),
        TokenTree::Literal(_) => false,
    })
}

impl<'ast> Visit<'ast> for Scan {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            _ => syn::visit::visit_expr(self, expr),
        }
    }
    fn visit_item(&mut self, _: &'ast Item) {}
    fn visit_macro(&mut self, mac: &'ast Macro) {
        self.check(mac);
    }
}

/// Rewrites `?` and `return` into breaks out of `label`.
pub(crate) fn inline(block: &mut Block, label: &Lifetime, rt: &TokenStream) {
    Inline { label, rt }.visit_block_mut(block);
}

struct Inline<'a> {
    label: &'a Lifetime,
    /// The runtime's private module, for the error conversion.
    rt: &'a TokenStream,
}

impl VisitMut for Inline<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) => {}
            Expr::Try(tried) => {
                self.visit_expr_mut(&mut tried.expr);
                let (inner, label, rt) = (&tried.expr, self.label, self.rt);
                let span = tried.question_token.span();
                // `rt::err_into` rather than `From::from`, which lints would
                // call useless where the error types already match.
                *expr = Expr::Verbatim(quote_spanned! {span=>
                    match #inner {
                        ::core::result::Result::Ok(__retry_ok) => __retry_ok,
                        ::core::result::Result::Err(__retry_err) => {
                            break #label ::core::result::Result::Err(#rt::err_into(__retry_err))
                        }
                    }
                });
            }
            Expr::Return(returned) => {
                if let Some(value) = &mut returned.expr {
                    self.visit_expr_mut(value);
                }
                let (value, label) = (&returned.expr, self.label);
                let span = returned.return_token.span();
                *expr = Expr::Verbatim(quote_spanned!(span=> break #label #value));
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }
    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// Renames the body's `self` (for a by-value receiver cloned per attempt),
/// inside closures, async blocks and macro arguments too, but not inside
/// nested items, which have a `self` of their own.
pub(crate) fn rename_self(block: &mut Block, to: &Ident) {
    RenameSelf { to }.visit_block_mut(block);
}

struct RenameSelf<'a> {
    to: &'a Ident,
}

impl VisitMut for RenameSelf<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        if let Expr::Path(path) = expr {
            if path.qself.is_none() && path.path.is_ident("self") {
                let span = path.span();
                *expr = Expr::Verbatim(rename_token(self.to, span));
                return;
            }
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        mac.tokens = rename_self_tokens(std::mem::take(&mut mac.tokens), self.to);
    }
    fn visit_item_mut(&mut self, _: &mut Item) {}
}

fn rename_token(to: &Ident, span: Span) -> TokenStream {
    let mut ident = to.clone();
    ident.set_span(to.span().resolved_at(to.span()).located_at(span));
    TokenTree::Ident(ident).into()
}

/// Token-level renaming for macro arguments: `self` not followed by `::`
/// (which would make it a path prefix, as in `self::module::item`).
fn rename_self_tokens(tokens: TokenStream, to: &Ident) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut renamed = Vec::with_capacity(tokens.len());
    for (index, token) in tokens.iter().enumerate() {
        renamed.push(match token {
            TokenTree::Ident(ident)
                if ident == "self" && !is_path_separator(tokens.get(index + 1)) =>
            {
                rename_token(to, ident.span())
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| token.clone())
            }
            TokenTree::Group(group) => {
                let mut inner = proc_macro2::Group::new(
                    group.delimiter(),
                    rename_self_tokens(group.stream(), to),
                );
                inner.set_span(group.span());
                TokenTree::Group(inner)
            }
            other => other.clone(),
        });
    }
    renamed.into_iter().collect()
}

fn is_path_separator(token: Option<&TokenTree>) -> bool {
    matches!(token, Some(TokenTree::Punct(punct)) if punct.as_char() == ':')
}
