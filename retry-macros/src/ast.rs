//! Reading the function `#[retry]` is applied to: its kind, its result type,
//! and how each argument reaches a second attempt.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens as _;
use syn::parse::{Parse, ParseStream, Parser as _};
use syn::spanned::Spanned as _;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, Error, FnArg, GenericArgument, Ident, Pat, PathArguments, ReceiverKind, Result,
    ReturnType, Signature, Type, Visibility,
};

/// A function with its body kept as tokens: the body is not parsed (that is
/// most of what a function-like item costs a proc macro), only moved into
/// the attempt as written.
pub(crate) struct ItemFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The body's braces.
    pub(crate) brace: Span,
    /// The body's statements, inner attributes removed (they are in `attrs`).
    pub(crate) body: TokenStream,
}

/// The signature and what precedes it: attributes, visibility.
struct Head {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
}

impl Parse for Head {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the signature"));
        }
        Ok(Head { attrs, vis, sig })
    }
}

fn not_a_function(span: Span) -> Error {
    Error::new(
        span,
        "`#[retry]` applies to an `async fn` or `fn` returning `Result`",
    )
}

impl ItemFn {
    /// Splits off the body (the last top-level token, a brace group)
    /// before parsing, so that the parser never walks it: a proc macro pays
    /// for every token it looks at.
    fn parse(item: TokenStream) -> Result<Self> {
        let mut trees: Vec<TokenTree> = item.into_iter().collect();
        let head = |trees: Vec<TokenTree>| {
            syn::parse2::<Head>(trees.into_iter().collect())
                .map_err(|error| not_a_function(error.span()))
        };
        let group = match trees.pop() {
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => group,
            Some(TokenTree::Punct(semi)) if semi.as_char() == ';' => {
                let declaration = head(trees)?;
                return Err(Error::new(
                    declaration.sig.span(),
                    "`#[retry]` needs the function's body: put it on the `impl`, not on the trait's declaration",
                ));
            }
            Some(last) => return Err(not_a_function(last.span())),
            None => return Err(not_a_function(Span::call_site())),
        };
        let Head {
            mut attrs,
            vis,
            sig,
        } = head(trees)?;
        let (inner, body) = split_inner_attributes(group.stream());
        attrs.extend(inner);
        Ok(ItemFn {
            attrs,
            vis,
            sig,
            brace: group.span(),
            body,
        })
    }
}

/// Takes the body's leading inner attributes (`#![allow(..)]`), which may
/// not stay at the top of the `async` block the body moves into, and turns
/// them into the function's outer attributes.
fn split_inner_attributes(body: TokenStream) -> (Vec<Attribute>, TokenStream) {
    // Look at the first token only, unless it starts an attribute: the rest
    // of the body is passed on untouched.
    match body.clone().into_iter().next() {
        Some(TokenTree::Punct(pound)) if pound.as_char() == '#' => {}
        _ => return (Vec::new(), body),
    }
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut attrs = Vec::new();
    let mut rest = 0;
    while let [
        TokenTree::Punct(pound),
        TokenTree::Punct(bang),
        TokenTree::Group(group),
        ..,
    ] = &tokens[rest..]
    {
        if pound.as_char() != '#'
            || bang.as_char() != '!'
            || group.delimiter() != Delimiter::Bracket
        {
            break;
        }
        let outer = quote::quote!(# #group);
        match Attribute::parse_outer.parse2(outer) {
            Ok(parsed) => attrs.extend(parsed),
            Err(_) => break,
        }
        rest += 3;
    }
    (attrs, tokens[rest..].iter().cloned().collect())
}

impl quote::ToTokens for ItemFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for attr in &self.attrs {
            attr.to_tokens(tokens);
        }
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        let mut body = Group::new(Delimiter::Brace, self.body.clone());
        body.set_span(self.brace);
        tokens.extend([TokenTree::Group(body)]);
    }
}

/// How an argument is made available to each attempt.
pub(crate) enum ArgPlan {
    /// A shared reference, `Copy`: used as is.
    Shared,
    /// `x: &mut T`: re-borrowed for each attempt (`let x = &mut *x;`) so
    /// that an attempt that moves it does not move it for the next. `cfg`
    /// holds the argument's `#[cfg]`/`#[cfg_attr]` attributes, which the
    /// per-attempt binding repeats (it must vanish with the argument).
    Reborrow {
        ident: Ident,
        mutable: bool,
        cfg: Vec<Attribute>,
    },
    /// Taken by value: cloned for each attempt into `pat`. `source` is the
    /// parameter's name in the signature (the original name when the pattern
    /// is a plain identifier, a generated one otherwise).
    Clone {
        pat: Box<Pat>,
        source: Ident,
        ty: Box<Type>,
        cfg: Vec<Attribute>,
    },
    /// `_: T`: nothing to bind.
    Ignored,
}

/// The receiver, for methods.
pub(crate) enum ReceiverPlan {
    /// `&self`, `&mut self`, `self: &Self`, ...: the body uses it as is
    /// (`&mut self` is re-borrowed implicitly at each use).
    Borrowed,
    /// `self` or `mut self` (or `self: Box<Self>`...): cloned for each attempt
    /// into a generated binding that the body's `self` is renamed to.
    Owned {
        mutable: bool,
        ty_span: Span,
        self_token: syn::Token![self],
        /// `self: Box<Self>`: the `Self` inside is cloned, so that a
        /// missing `Clone` is reported for `Self`.
        boxed: bool,
    },
    /// `self: Pin<&mut Self>`: re-borrowed for each attempt with
    /// `Pin::as_mut` into a binding the body's `self` is renamed to, so
    /// that an attempt that consumes it (`self.project()`) leaves it for
    /// the next.
    PinReborrow {
        mutable: bool,
        self_token: syn::Token![self],
    },
}

pub(crate) struct Function {
    pub(crate) item: ItemFn,
    pub(crate) is_async: bool,
    /// A plain `fn` returning `Pin<Box<dyn Future<Output = Result<..>> ..>>`,
    /// the shape `#[async_trait]` gives an `async fn`: its body builds the
    /// future that each attempt awaits, and `output` is the future's output.
    pub(crate) boxed_future: bool,
    /// The declared return type.
    pub(crate) output: Type,
    /// The span of the error type (`E` in `Result<T, E>`, else the return type).
    pub(crate) error_span: Span,
    /// The error type is (or holds) an `impl Trait`, which no code but
    /// the function's own body can name.
    pub(crate) opaque_error: bool,
    pub(crate) receiver: Option<ReceiverPlan>,
    pub(crate) args: Vec<ArgPlan>,
}

/// Parses the item. `Err` means it is not something `#[retry]` can apply to
/// at all; the caller emits the tokens untouched beside the error.
pub(crate) fn parse(item: TokenStream) -> Result<ItemFn> {
    ItemFn::parse(item)
}

impl Function {
    /// Reads the signature; every problem found is reported at its token.
    pub(crate) fn new(mut item: ItemFn) -> Result<Self> {
        let mut errors: Option<Error> = None;
        let mut fail = |error: Error| match &mut errors {
            Some(errors) => errors.combine(error),
            None => errors = Some(error),
        };
        if let Some(constness) = &item.sig.constness {
            fail(Error::new(
                constness.span(),
                "`#[retry]` cannot apply to a `const fn`: it sleeps between attempts",
            ));
        }
        if let Some(abi) = &item.sig.abi {
            if abi.name.as_ref().is_none_or(|name| name.value() != "Rust") {
                fail(Error::new_spanned(
                    abi,
                    "`#[retry]` cannot apply to a foreign-ABI function: its loop is Rust code; \
                     retry inside a Rust function that this one calls",
                ));
            }
        }
        if let Some(stacked) = item.attrs.iter().find(|attr| {
            attr.path()
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "retry")
        }) {
            fail(Error::new_spanned(
                stacked,
                "`#[retry]` is applied twice: the attempts would multiply (each attempt of the \
                 outer loop runs the whole inner loop); keep one attribute",
            ));
        }
        if let Some(variadic) = &item.sig.variadic {
            fail(Error::new(
                variadic.span(),
                "`#[retry]` cannot apply to a variadic function",
            ));
        }
        let boxed = if item.sig.asyncness.is_none() {
            boxed_future_output(&item.sig.output)
        } else {
            None
        };
        let boxed_future = boxed.is_some();
        let (output, error_span, opaque_error) =
            match boxed.map_or_else(|| result_type(&item.sig), result_of) {
                Ok(found) => found,
                Err(error) => {
                    fail(error);
                    (Type::Verbatim(TokenStream::new()), Span::call_site(), false)
                }
            };

        let receiver = item.sig.receiver().map(receiver_plan);
        match (&receiver, item.sig.inputs.first_mut()) {
            (Some(ReceiverPlan::Owned { .. }), Some(FnArg::Receiver(receiver))) => {
                // Only cloned from: the attempt's copy is the one that is `mut`.
                receiver.mutability = None;
            }
            (Some(ReceiverPlan::PinReborrow { .. }), Some(FnArg::Receiver(receiver))) => {
                // `Pin::as_mut` takes `&mut self`.
                receiver.mutability = Some(syn::Token![mut](receiver.self_token.span));
            }
            _ => {}
        }
        let args = item
            .sig
            .inputs
            .iter_mut()
            .enumerate()
            .filter_map(|(index, input)| match input {
                FnArg::Typed(typed) => Some(arg_plan(index, typed)),
                FnArg::Receiver(_) => None,
            })
            .collect();

        match errors {
            Some(error) => Err(error),
            None => Ok(Function {
                is_async: item.sig.asyncness.is_some() || boxed_future,
                boxed_future,
                item,
                output,
                error_span,
                opaque_error,
                receiver,
                args,
            }),
        }
    }
}

fn receiver_plan(receiver: &syn::Receiver) -> ReceiverPlan {
    let owned = |ty_span, boxed| ReceiverPlan::Owned {
        mutable: receiver.mutability.is_some(),
        ty_span,
        self_token: receiver.self_token,
        boxed,
    };
    match &receiver.kind {
        ReceiverKind::Reference(..) => ReceiverPlan::Borrowed,
        ReceiverKind::Typed(_, ty) => match pinned(ty) {
            _ if matches!(ungroup(ty), Type::Reference(_)) => ReceiverPlan::Borrowed,
            // `Pin<&Self>` is `Copy`.
            Some(Type::Reference(reference)) if reference.mutability.is_none() => {
                ReceiverPlan::Borrowed
            }
            Some(Type::Reference(_)) => ReceiverPlan::PinReborrow {
                mutable: receiver.mutability.is_some(),
                self_token: receiver.self_token,
            },
            _ => owned(ty.span(), argument_of(ty, "Box").is_some()),
        },
        _ => owned(receiver.self_token.span(), false),
    }
}

fn ungroup(mut ty: &Type) -> &Type {
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    ty
}

/// The single type argument of `ty` if its last path segment is `name`.
fn argument_of<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ungroup(ty) else {
        return None;
    };
    let last = path.path.segments.last()?;
    if path.qself.is_some() || last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let mut types = arguments.args.iter().filter_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    match (types.next(), types.next()) {
        (Some(only), None) => Some(ungroup(only)),
        _ => None,
    }
}

/// `T` in `Pin<T>`.
fn pinned(ty: &Type) -> Option<&Type> {
    argument_of(ty, "Pin")
}

/// `R` in `Pin<Box<dyn Future<Output = R> + ..>>`: the shape of an `async
/// fn` after `#[async_trait]`, or written by hand for a trait object.
fn boxed_future_output(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let boxed = argument_of(pinned(ty)?, "Box")?;
    let Type::TraitObject(object) = boxed else {
        return None;
    };
    object.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(arguments) = &last.arguments else {
            return None;
        };
        arguments.args.iter().find_map(|argument| match argument {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// Decides how argument `index` reaches each attempt, adjusting its
/// pattern in the signature where the per-attempt binding takes over.
fn arg_plan(index: usize, typed: &mut syn::PatType) -> ArgPlan {
    let ty = (*typed.ty).clone();
    let cfg: Vec<Attribute> = typed
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr"))
        .cloned()
        .collect();
    match (&mut *typed.pat, &ty) {
        (Pat::Wild(_), _) => ArgPlan::Ignored,
        (Pat::Ident(pat), Type::Reference(reference))
            if pat.by_ref.is_none() && pat.subpat.is_none() && reference.mutability.is_some() =>
        {
            // `mut x: &mut T` rebinds per attempt too, so the signature's
            // `mut` would be unused.
            let mutable = pat.mutability.take().is_some();
            ArgPlan::Reborrow {
                ident: pat.ident.clone(),
                mutable,
                cfg,
            }
        }
        (Pat::Ident(pat), Type::Reference(_))
            if pat.by_ref.is_none() && pat.subpat.is_none() && pat.mutability.is_none() =>
        {
            ArgPlan::Shared
        }
        (Pat::Ident(pat), _) if pat.by_ref.is_none() && pat.subpat.is_none() => {
            let binding = Pat::Ident(pat.clone());
            // The signature's copy is only read (to clone from), so its
            // `mut` would be unused.
            pat.mutability = None;
            ArgPlan::Clone {
                pat: Box::new(binding),
                source: pat.ident.clone(),
                ty: Box::new(ty),
                cfg,
            }
        }
        (pat, _) => {
            // Hygienic: the body cannot name it.
            let source = Ident::new(&format!("__retry_arg{index}"), Span::mixed_site());
            let binding = std::mem::replace(
                pat,
                Pat::Ident(syn::PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: source.clone(),
                    subpat: None,
                }),
            );
            ArgPlan::Clone {
                pat: Box::new(binding),
                source,
                ty: Box::new(ty),
                cfg,
            }
        }
    }
}

/// `ty` with each `impl Trait` replaced by `_`, so that it can annotate a
/// `let` (where `impl Trait` is not allowed).
pub(crate) fn infer_impl_trait(ty: &Type) -> Type {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if matches!(ty, Type::ImplTrait(_)) {
                *ty = Type::Infer(syn::parse_quote_spanned!(ty.span()=> _));
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Infer.visit_type_mut(&mut ty);
    ty
}

/// The return type, if its last path segment is `Result` (so aliases such
/// as `io::Result<T>` qualify), and the span of its error type.
fn result_type(sig: &syn::Signature) -> Result<(Type, Span, bool)> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return Err(Error::new(
            sig.paren_token.span.close(),
            "`#[retry]` needs a function returning `Result` (add `-> Result<T, E>`): only an `Err` can be classified and retried",
        ));
    };
    result_of(ty)
}

/// `ty`, the span of its error type and whether that holds an `impl
/// Trait`, if it is a `Result`.
fn result_of(ty: &Type) -> Result<(Type, Span, bool)> {
    let mut inner: &Type = ty;
    while let Type::Group(group) = inner {
        inner = &group.elem;
    }
    let Type::Path(path) = inner else {
        return Err(not_result(ty));
    };
    let Some(last) = path.path.segments.last() else {
        return Err(not_result(ty));
    };
    if path.qself.is_some() || last.ident != "Result" {
        return Err(not_result(ty));
    }
    let error = match &last.arguments {
        PathArguments::AngleBracketed(arguments) => arguments
            .args
            .iter()
            .filter_map(|argument| match argument {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .nth(1),
        _ => None,
    };
    let error_span = error.map_or_else(|| ty.span(), syn::spanned::Spanned::span);
    let opaque = error.is_some_and(|error| has_impl(error.to_token_stream()));
    Ok((ty.clone(), error_span, opaque))
}

fn has_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => has_impl(group.stream()),
        _ => false,
    })
}

fn not_result(ty: &Type) -> Error {
    Error::new(
        ty.span(),
        format!(
            "`#[retry]` needs a function returning `Result`, not `{}`: only an `Err` can be classified and retried",
            compact(&ty.to_token_stream().to_string())
        ),
    )
}

/// A type as users write it: `Option<u32>`, not `Option < u32 >`.
fn compact(text: &str) -> String {
    [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ::", "::"),
        (":: ", "::"),
        (" ,", ","),
        ("& ", "&"),
    ]
    .iter()
    .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
}
