//! Renaming a by-value `self` in the function body.
//!
//! A by-value receiver is cloned for each attempt, but a binding cannot be
//! named `self`: the body's `self` is renamed to the per-attempt clone. Only
//! this rare case parses the body.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::ToTokens as _;
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, Item, Macro};

/// Renames the body's `self` (for a by-value receiver cloned per attempt),
/// inside closures, async blocks and macro arguments too, but not inside
/// nested items, which have a `self` of their own.
pub(crate) fn rename_self(body: TokenStream, to: &Ident) -> TokenStream {
    let braced = quote::quote!({ #body });
    match syn::parse2::<Block>(braced) {
        Ok(mut block) => {
            RenameSelf { to }.visit_block_mut(&mut block);
            let mut tokens = TokenStream::new();
            for stmt in &block.stmts {
                stmt.to_tokens(&mut tokens);
            }
            tokens
        }
        // A body that does not parse is left to the compiler, which reports
        // its error where it is.
        Err(_) => body,
    }
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
    ident.set_span(to.span().located_at(span));
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
