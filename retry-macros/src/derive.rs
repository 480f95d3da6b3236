//! `#[derive(Classify)]`.
//!
//! Input:
//!
//! ```text
//! #[derive(Classify)]
//! #[classify(default = permanent)]
//! enum CreateError {
//!     #[classify(transient, label = "no placement", retry_after = wait)]
//!     NoPlacement { wait: Option<Duration> },
//!     #[classify(transparent)]
//!     Io(std::io::Error),
//!     Invalid(String),
//! }
//! ```
//!
//! Output: `impl Classify for CreateError` whose `classify`, `retry_after`
//! and `label` each `match self` over the variants: a class constant, the
//! hint and label where given, or a call on the single field of a
//! `transparent` variant.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::spanned::Spanned as _;
use syn::{Attribute, Data, DeriveInput, Error, Fields, Ident, LitStr, Member, Path, Result};

use crate::expand::respan;
use crate::suggest::{nearest, one_of};

const CLASSES: &[&str] = &["transient", "ambiguous", "permanent", "transparent"];
const DEFAULTS: &[&str] = &["transient", "ambiguous", "permanent"];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Transient,
    Ambiguous,
    Permanent,
    Transparent,
}

/// What `#[classify(..)]` says about a variant (or a struct).
#[derive(Default)]
struct Spec {
    kind: Option<(Kind, Span)>,
    label: Option<LitStr>,
    retry_after: Option<Ident>,
    /// Container only.
    default: Option<(Kind, Span)>,
    krate: Option<Path>,
}

fn kind(word: &Ident, allowed: &[&str]) -> Result<Kind> {
    let text = word.to_string();
    let kind = match text.as_str() {
        "transient" => Some(Kind::Transient),
        "ambiguous" => Some(Kind::Ambiguous),
        "permanent" => Some(Kind::Permanent),
        "transparent" => Some(Kind::Transparent),
        _ => None,
    };
    match kind {
        Some(kind) if allowed.contains(&text.as_str()) => Ok(kind),
        _ => {
            let near = nearest(&text, allowed)
                .map(|near| format!("did you mean `{near}`? "))
                .unwrap_or_default();
            Err(Error::new(
                word.span(),
                format!("unknown class `{text}`; {near}expected {}", one_of(allowed)),
            ))
        }
    }
}

/// Reads every `#[classify(..)]` on an item, refusing repeats.
fn spec(attrs: &[Attribute], container: bool) -> Result<Spec> {
    let mut spec = Spec::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("classify")) {
        attr.parse_nested_meta(|meta| {
            let Some(word) = meta.path.get_ident().cloned() else {
                return Err(meta.error(
                    "expected a class, `label = \"..\"`, `retry_after = field` or `default = ..`",
                ));
            };
            let duplicate = |what: &str| Error::new(word.span(), format!("duplicate `{what}`"));
            match word.to_string().as_str() {
                "label" => {
                    if spec.label.is_some() {
                        return Err(duplicate("label"));
                    }
                    spec.label = Some(meta.value()?.parse()?);
                }
                "retry_after" => {
                    if spec.retry_after.is_some() {
                        return Err(duplicate("retry_after"));
                    }
                    spec.retry_after = Some(meta.value()?.parse()?);
                }
                "default" if container => {
                    if spec.default.is_some() {
                        return Err(duplicate("default"));
                    }
                    let value: Ident = meta.value()?.parse()?;
                    spec.default = Some((kind(&value, DEFAULTS)?, value.span()));
                }
                "default" => {
                    return Err(Error::new(
                        word.span(),
                        "`default` goes on the enum, not on a variant",
                    ));
                }
                "crate" if container => {
                    spec.krate = Some(meta.value()?.parse()?);
                }
                _ => {
                    let new = kind(&word, CLASSES)?;
                    if let Some((_, first)) = spec.kind {
                        let mut error =
                            Error::new(word.span(), "a variant has one class; this is its second");
                        error.combine(Error::new(first, "first class given here"));
                        return Err(error);
                    }
                    spec.kind = Some((new, word.span()));
                }
            }
            Ok(())
        })?;
    }
    Ok(spec)
}

/// One arm of each generated `match`.
struct Arm {
    pattern: TokenStream,
    class: TokenStream,
    retry_after: TokenStream,
    label: TokenStream,
}

pub(crate) fn expand(input: &DeriveInput) -> Result<TokenStream> {
    let container = spec(&input.attrs, true)?;
    let krate = container
        .krate
        .as_ref()
        .map_or_else(|| quote!(::retry_runtime), ToTokens::to_token_stream);
    let mut errors: Option<Error> = None;
    let mut arms = Vec::new();
    let mut transparent_types = Vec::new();

    let mut add = |result: Result<(Arm, Option<syn::Type>)>| match result {
        Ok((arm, transparent)) => {
            arms.push(arm);
            transparent_types.extend(transparent);
        }
        Err(error) => match &mut errors {
            Some(errors) => errors.combine(error),
            None => errors = Some(error),
        },
    };

    match &input.data {
        Data::Enum(data) => {
            if container.kind.is_some() {
                return Err(Error::new(
                    input.ident.span(),
                    "on an enum, classify each variant, or set `#[classify(default = ..)]`",
                ));
            }
            if let Some(label) = &container.label {
                return Err(Error::new(
                    label.span(),
                    "on an enum, `label` goes on each variant: `#[classify(transient, label = \"..\")]`",
                ));
            }
            if let Some(field) = &container.retry_after {
                return Err(Error::new(
                    field.span(),
                    "on an enum, `retry_after` goes on each variant that has the field: \
                     `#[classify(transient, retry_after = field)]`",
                ));
            }
            for variant in &data.variants {
                let ident = &variant.ident;
                add(spec(&variant.attrs, false).and_then(|spec| {
                    arm(
                        &krate,
                        &quote!(Self::#ident),
                        ident,
                        &variant.fields,
                        &spec,
                        &container,
                    )
                }));
            }
        }
        Data::Struct(data) => {
            let mut own = spec(&input.attrs, true)?;
            if own.kind.is_none() {
                own.kind = container.default;
            }
            add(arm(
                &krate,
                &quote!(Self),
                &input.ident,
                &data.fields,
                &own,
                &Spec::default(),
            ));
        }
        Data::Union(_) => {
            return Err(Error::new(
                input.ident.span(),
                "`Classify` cannot be derived for a union",
            ));
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }

    Ok(implementation(input, &krate, &arms, transparent_types))
}

/// The `impl Classify` with one `match` per method over `arms`, and a
/// bound for each transparent field's type.
fn implementation(
    input: &DeriveInput,
    krate: &TokenStream,
    arms: &[Arm],
    transparent_types: Vec<syn::Type>,
) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let params: Vec<String> = input
        .generics
        .type_params()
        .map(|param| param.ident.to_string())
        .collect();
    let mut where_clause = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    for ty in transparent_types {
        // Spanned at the field's type: if it is not `Classify`, that is
        // one error there (a concrete type's bound that does not hold is
        // an error of its own), instead of one per method at `#[derive]`.
        // A type that mentions a parameter gets the plain `Classify`
        // bound, as documentation shows it.
        let bound = if mentions(ty.to_token_stream(), &params) {
            quote!(#krate::Classify)
        } else {
            quote!(#krate::__private::TransparentField)
        };
        let predicate = respan(quote!(#ty: #bound), ty.span());
        where_clause.predicates.push(syn::parse_quote!(#predicate));
    }
    let patterns: Vec<_> = arms.iter().map(|arm| &arm.pattern).collect();
    let classes = arms.iter().map(|arm| &arm.class);
    let hints = arms.iter().map(|arm| &arm.retry_after);
    let labels = arms.iter().map(|arm| &arm.label);
    let no_variants = arms.is_empty().then(|| quote!(_ => match *self {}));
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Classify for #name #ty_generics #where_clause {
            fn classify(&self) -> #krate::Class {
                #[allow(unused_variables)]
                match self {
                    #(#patterns => #classes,)*
                    #no_variants
                }
            }
            fn retry_after(&self) -> ::core::option::Option<::core::time::Duration> {
                #[allow(unused_variables)]
                match self {
                    #(#patterns => #hints,)*
                    #no_variants
                }
            }
            fn label(&self) -> ::core::option::Option<&str> {
                #[allow(unused_variables)]
                match self {
                    #(#patterns => #labels,)*
                    #no_variants
                }
            }
        }
    }
}

fn mentions(tokens: TokenStream, params: &[String]) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => params.iter().any(|param| ident == param),
        proc_macro2::TokenTree::Group(group) => mentions(group.stream(), params),
        _ => false,
    })
}

fn member<'a>(fields: &'a Fields, name: &Ident) -> Option<(Member, &'a syn::Type)> {
    match fields {
        Fields::Named(named) => named
            .named
            .iter()
            .find(|field| field.ident.as_ref() == Some(name))
            .map(|field| (Member::Named(name.clone()), &field.ty)),
        _ => None,
    }
}

fn arm(
    krate: &TokenStream,
    path: &TokenStream,
    ident: &Ident,
    fields: &Fields,
    spec: &Spec,
    container: &Spec,
) -> Result<(Arm, Option<syn::Type>)> {
    let Some((kind, kind_span)) = spec.kind.or(container.default) else {
        return Err(Error::new(
            ident.span(),
            format!(
                "`{ident}` has no class: add `#[classify(transient)]`, `#[classify(ambiguous)]`, \
                 `#[classify(permanent)]` or `#[classify(transparent)]`, or a default on the enum: \
                 `#[classify(default = permanent)]`"
            ),
        ));
    };
    let retry_after_member = match &spec.retry_after {
        Some(name) => Some(member(fields, name).ok_or_else(|| {
            Error::new(
                name.span(),
                format!("`{ident}` has no named field `{name}` to read the hint from"),
            )
        })?),
        None => None,
    };
    if kind == Kind::Transparent && (spec.label.is_some() || spec.retry_after.is_some()) {
        return Err(Error::new(
            kind_span,
            "a `transparent` variant takes its label and hint from its field; remove `label`/`retry_after`",
        ));
    }

    let field = Ident::new("__classify_field", Span::mixed_site());
    // Call-site hygiene (it is bound and used in one generated arm only),
    // so that the call reading it, spanned at the field's type, reports a
    // wrong type there.
    let hint = Ident::new("__classify_retry_after", Span::call_site());
    let mut bound = Vec::new();
    let mut transparent_type = None;
    if kind == Kind::Transparent {
        let mut iter = fields.iter();
        let (Some(only), None) = (iter.next(), iter.next()) else {
            return Err(Error::new(
                ident.span(),
                format!(
                    "`transparent` delegates to the single field, but `{ident}` has {}",
                    fields.len()
                ),
            ));
        };
        let name = only
            .ident
            .clone()
            .map_or_else(|| Member::Unnamed(0.into()), Member::Named);
        bound.push(quote!(#name: #field));
        transparent_type = Some(only.ty.clone());
    }
    if let Some((name, _)) = &retry_after_member {
        bound.push(quote!(#name: #hint));
    }
    let pattern = quote!(#path { #(#bound,)* .. });
    let class = match kind {
        Kind::Transient => quote!(#krate::Class::Transient),
        Kind::Ambiguous => quote!(#krate::Class::Ambiguous),
        Kind::Permanent => quote!(#krate::Class::Permanent),
        Kind::Transparent => quote!(#krate::__private::TransparentField::field_class(#field)),
    };
    let retry_after = match (kind, &retry_after_member) {
        (Kind::Transparent, _) => {
            quote!(#krate::__private::TransparentField::field_retry_after(#field))
        }
        // Spanned at the field's type: a wrong type is reported there.
        (_, Some((_, ty))) => respan(
            quote!(#krate::__private::RetryAfterField::retry_after_field(#hint)),
            ty.span(),
        ),
        (_, None) => quote!(::core::option::Option::None),
    };
    let label = match (kind, &spec.label) {
        (Kind::Transparent, _) => quote!(#krate::__private::TransparentField::field_label(#field)),
        (_, Some(label)) => quote!(::core::option::Option::Some(#label)),
        (_, None) => quote!(::core::option::Option::None),
    };
    Ok((
        Arm {
            pattern,
            class,
            retry_after,
            label,
        },
        transparent_type,
    ))
}
