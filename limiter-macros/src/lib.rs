//! Attribute macros for [`limiter-axum`](https://docs.rs/limiter-axum): `#[limit]`,
//! `#[shared_limit]` and `#[exempt]`.
//!
//! The macros leave the annotated `async fn` exactly as written and register its metadata with
//! [`inventory`](https://docs.rs/inventory), keyed by the [`TypeId`](std::any::TypeId) of the
//! function item. `limiter_axum::routing::get(handler)` looks that metadata up when the route is
//! built, so the limits are known before the handler runs and nothing of a rejected handler runs.
//!
//! Limit strings are parsed **at compile time** with [`limiter_core::parse_many`]; a bad string
//! is a compile error pointing at the string:
//!
//! ```compile_fail
//! #[limiter_macros::limit("1 per dya")]
//! async fn slow() -> &'static str { "24" }
//! ```
//!
//! Use the macros through `limiter_axum` (`use limiter_axum::{limit, exempt};`): the generated code
//! refers to `::limiter_axum`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

use limiter_core::{parse_many, Granularity};
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, LitStr, Token};

/// Rate-limits a handler: `#[limit("1 per day")]`, stackable, with Flask-Limiter's options.
///
/// ```text
/// #[limit("10 per minute; 100/day",
///         key_func = my_key,            // fn(&Request) -> Cow<str>
///         per_method,                   // a separate counter per HTTP method
///         methods = [GET, POST],        // only these methods are limited
///         error_message = "slow down",  // the 429 description
///         exempt_when = is_admin,       // fn(&Request) -> bool
///         override_defaults = false,    // combine with the default limits
///         deduct_when = is_error,       // fn(&Response) -> bool: count only some responses
///         on_breach = custom_429,       // fn(&RequestLimit) -> Option<Response>
///         cost = 2,                     // or cost = fn(&Request) -> u64
///         scope = "group",              // bucket "endpoint:group"
///         shared)]                      // with scope: bucket "group", shared by every route
/// ```
#[proc_macro_attribute]
pub fn limit(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_limit(args, item, false)
}

/// A limit shared by every route declaring the same `scope`:
/// `#[shared_limit("5 per minute", scope = "group")]` (same options as [`macro@limit`]).
#[proc_macro_attribute]
pub fn shared_limit(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_limit(args, item, true)
}

/// Exempts a handler from the default, application and meta limits (and its own limits), as
/// Flask-Limiter's `@limiter.exempt`. `#[exempt(flags = DEFAULT | APPLICATION)]` chooses the
/// [`ExemptionScope`](https://docs.rs/limiter-axum) flags.
#[proc_macro_attribute]
pub fn exempt(args: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match syn::parse::<ItemFn>(item) {
        Ok(item_fn) => item_fn,
        Err(error) => return error.to_compile_error().into(),
    };
    let flags = if args.is_empty() {
        quote!(::limiter_axum::ExemptionScope::DEFAULT_EXEMPTION)
    } else {
        match syn::parse::<ExemptArgs>(args) {
            Ok(parsed) => parsed.flags,
            Err(error) => return error.to_compile_error().into(),
        }
    };
    let register = registration(
        &item_fn,
        quote!(::limiter_axum::__private::Declared::Exempt(#flags)),
    );
    match register {
        Ok(register) => quote!(#item_fn #register).into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item_fn #error).into()
        }
    }
}

struct ExemptArgs {
    flags: TokenStream2,
}

impl Parse for ExemptArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: syn::Ident = input.parse()?;
        if key != "flags" {
            return Err(syn::Error::new(key.span(), "expected `flags = A | B`"));
        }
        input.parse::<Token![=]>()?;
        let names: Punctuated<syn::Ident, Token![|]> = Punctuated::parse_separated_nonempty(input)?;
        let mut flags = quote!(::limiter_axum::ExemptionScope::NONE);
        for name in names {
            let valid = [
                "NONE",
                "APPLICATION",
                "DEFAULT",
                "META",
                "DESCENDENTS",
                "ANCESTORS",
            ];
            if !valid.contains(&name.to_string().as_str()) {
                return Err(syn::Error::new(
                    name.span(),
                    "expected NONE, APPLICATION, DEFAULT, META, DESCENDENTS or ANCESTORS",
                ));
            }
            flags = quote!(#flags.union(::limiter_axum::ExemptionScope::#name));
        }
        Ok(ExemptArgs { flags })
    }
}

/// The parsed arguments of `#[limit]`.
struct LimitArgs {
    value: LitStr,
    options: Vec<(syn::Ident, Option<Expr>)>,
}

impl Parse for LimitArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let value: LitStr = input.parse()?;
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: syn::Ident = input.parse()?;
            let value = if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Some(input.parse::<Expr>()?)
            } else {
                None
            };
            options.push((key, value));
        }
        Ok(LimitArgs { value, options })
    }
}

fn granularity_tokens(granularity: Granularity) -> TokenStream2 {
    match granularity {
        Granularity::Second => quote!(Second),
        Granularity::Minute => quote!(Minute),
        Granularity::Hour => quote!(Hour),
        Granularity::Day => quote!(Day),
        Granularity::Month => quote!(Month),
        Granularity::Year => quote!(Year),
    }
}

fn string_option(expr: &Expr, what: &str) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{what}` expects a string literal"),
        )),
    }
}

fn bool_option(expr: &Option<Expr>, what: &str) -> syn::Result<bool> {
    match expr {
        None => Ok(true),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        })) => Ok(b.value),
        Some(other) => Err(syn::Error::new(
            other.span(),
            format!("`{what}` expects `true` or `false`"),
        )),
    }
}

fn expand_limit(args: TokenStream, item: TokenStream, shared_attr: bool) -> TokenStream {
    let item_fn = match syn::parse::<ItemFn>(item) {
        Ok(item_fn) => item_fn,
        Err(error) => return error.to_compile_error().into(),
    };
    let declared =
        match syn::parse::<LimitArgs>(args).and_then(|args| limit_spec(args, shared_attr)) {
            Ok(declared) => declared,
            Err(error) => {
                // Keep the function so that the only error is the one about the attribute.
                let error = error.to_compile_error();
                return quote!(#item_fn #error).into();
            }
        };
    match registration(&item_fn, declared) {
        Ok(register) => quote!(#item_fn #register).into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item_fn #error).into()
        }
    }
}

fn limit_spec(args: LimitArgs, shared_attr: bool) -> syn::Result<TokenStream2> {
    let source = args.value.value();
    let limits = parse_many(&source).map_err(|error| syn::Error::new(args.value.span(), error))?;
    let limits = limits.iter().map(|limit| {
        let amount = limit.amount();
        let multiples = limit.multiples();
        let granularity = granularity_tokens(limit.granularity());
        quote!(::limiter_axum::__private::RateLimit::new(
            #amount, #multiples, ::limiter_axum::__private::Granularity::#granularity
        ))
    });
    let value = &args.value;
    let mut shared = shared_attr;
    let mut scope = quote!(::core::option::Option::None);
    let mut has_scope = false;
    let mut per_method = false;
    let mut methods = quote!(::core::option::Option::None);
    let mut error_message = quote!(::core::option::Option::None);
    let mut exempt_when = quote!(::core::option::Option::None);
    let mut deduct_when = quote!(::core::option::Option::None);
    let mut on_breach = quote!(::core::option::Option::None);
    let mut key_func = quote!(::core::option::Option::None);
    let mut override_defaults = true;
    let mut cost = quote!(::limiter_axum::Cost::Fixed(1));
    for (key, value) in args.options {
        let name = key.to_string();
        let need = |value: &Option<Expr>| -> syn::Result<Expr> {
            value.clone().ok_or_else(|| {
                syn::Error::new(key.span(), format!("`{name}` needs a value: `{name} = …`"))
            })
        };
        match name.as_str() {
            "shared" => shared = bool_option(&value, "shared")?,
            "per_method" => per_method = bool_option(&value, "per_method")?,
            "override_defaults" => override_defaults = bool_option(&value, "override_defaults")?,
            "scope" => {
                let s = string_option(&need(&value)?, "scope")?;
                has_scope = true;
                scope = quote!(::core::option::Option::Some(#s));
            }
            "error_message" => {
                let s = string_option(&need(&value)?, "error_message")?;
                error_message = quote!(::core::option::Option::Some(#s));
            }
            "methods" => {
                let expr = need(&value)?;
                let Expr::Array(array) = &expr else {
                    return Err(syn::Error::new(
                        expr.span(),
                        "`methods` expects `[GET, POST, …]`",
                    ));
                };
                let mut names = Vec::new();
                for element in &array.elems {
                    let text = match element {
                        Expr::Path(path) if path.path.get_ident().is_some() => path
                            .path
                            .get_ident()
                            .map(|i| i.to_string())
                            .unwrap_or_default(),
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(s), ..
                        }) => s.value(),
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "expected a method such as GET",
                            ))
                        }
                    };
                    let upper = text.to_ascii_uppercase();
                    let valid = [
                        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                        "CONNECT",
                    ];
                    if !valid.contains(&upper.as_str()) {
                        return Err(syn::Error::new(
                            element.span(),
                            format!("unknown HTTP method `{text}`"),
                        ));
                    }
                    names.push(upper);
                }
                methods = quote!(::core::option::Option::Some(&[#(#names),*]));
            }
            "exempt_when" => {
                let expr = need(&value)?;
                exempt_when = quote_spanned!(expr.span()=> ::core::option::Option::Some(#expr as ::limiter_axum::__private::ExemptWhenFn));
            }
            "deduct_when" => {
                let expr = need(&value)?;
                deduct_when = quote_spanned!(expr.span()=> ::core::option::Option::Some(#expr as ::limiter_axum::__private::DeductWhenFn));
            }
            "on_breach" => {
                let expr = need(&value)?;
                on_breach = quote_spanned!(expr.span()=> ::core::option::Option::Some(#expr as ::limiter_axum::__private::OnBreachFn));
            }
            "key_func" => {
                let expr = need(&value)?;
                key_func = quote_spanned!(expr.span()=> ::core::option::Option::Some(#expr as ::limiter_axum::__private::KeyFn));
            }
            "cost" => {
                let expr = need(&value)?;
                cost = match &expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(int), ..
                    }) => {
                        let n: u64 = int.base10_parse()?;
                        quote!(::limiter_axum::Cost::Fixed(#n))
                    }
                    other => {
                        quote_spanned!(other.span()=> ::limiter_axum::Cost::PerRequest(#other as ::limiter_axum::__private::CostFn))
                    }
                };
            }
            _ => {
                return Err(syn::Error::new(
                    key.span(),
                    "unknown option: expected key_func, per_method, methods, error_message, \
                     exempt_when, override_defaults, deduct_when, on_breach, cost, scope or shared",
                ))
            }
        }
    }
    if shared && !has_scope {
        return Err(syn::Error::new(
            Span::call_site(),
            "a shared limit needs a scope: `scope = \"name\"`",
        ));
    }
    Ok(quote! {
        ::limiter_axum::__private::Declared::Limit(::limiter_axum::__private::StaticLimit {
            source: #value,
            limits: &[#(#limits),*],
            scope: #scope,
            shared: #shared,
            per_method: #per_method,
            methods: #methods,
            error_message: #error_message,
            exempt_when: #exempt_when,
            deduct_when: #deduct_when,
            on_breach: #on_breach,
            key_func: #key_func,
            override_defaults: #override_defaults,
            cost: #cost,
        })
    })
}

/// `inventory::submit!` of the declaration, keyed by the `TypeId` of the function item.
fn registration(item_fn: &ItemFn, declared: TokenStream2) -> syn::Result<TokenStream2> {
    if !item_fn.sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            item_fn.sig.generics.span(),
            "limiter attributes cannot be put on generic functions; declare the limit in code \
             instead: `get(handler::<T>).limit(\"…\")`",
        ));
    }
    if let Some(receiver) = item_fn.sig.receiver() {
        return Err(syn::Error::new(
            receiver.span(),
            "limiter attributes go on free functions; for methods, declare the limit in code: \
             `get(Self::method).limit(\"…\")`",
        ));
    }
    let name = &item_fn.sig.ident;
    let name_str = name.to_string();
    Ok(quote! {
        const _: () = {
            fn __limiter_type_id() -> ::core::any::TypeId {
                ::limiter_axum::__private::type_id_of(&#name)
            }
            ::limiter_axum::__private::inventory::submit! {
                ::limiter_axum::__private::Registration {
                    handler: __limiter_type_id,
                    name: #name_str,
                    module: ::core::module_path!(),
                    line: ::core::line!(),
                    declared: #declared,
                }
            }
        };
    })
}
