//! Code generation from the parsed arguments: the annotated function exactly as written, followed
//! by the `inventory` registration of what it declares, keyed by the `TypeId` of the function item.

use limiter_core::Granularity;
use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::Parse;
use syn::spanned::Spanned;
use syn::{Expr, ItemFn};

use crate::parse::{check_handler, Cost, ExemptArgs, LimitArgs};

/// `#[limit]` and `#[shared_limit]` (`Args` is [`LimitArgs`] or
/// [`SharedLimitArgs`](crate::parse::SharedLimitArgs)).
pub(crate) fn limit<Args: Parse + Into<LimitArgs>>(
    args: TokenStream,
    item: TokenStream,
) -> TokenStream {
    expand(args, item, |args: Args| declared_limit(&args.into()))
}

/// `#[exempt]`.
pub(crate) fn exempt(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, |args: ExemptArgs| declared_exemption(&args))
}

/// Parses the item and the arguments, then emits the item and its registration, or the item and
/// the error.
fn expand<Args: Parse>(
    args: TokenStream,
    item: TokenStream,
    declare: impl FnOnce(Args) -> TokenStream,
) -> TokenStream {
    let item_fn = match syn::parse2::<ItemFn>(item) {
        Ok(item_fn) => item_fn,
        Err(error) => return error.to_compile_error(),
    };
    let declared = syn::parse2::<Args>(args).and_then(|args| {
        check_handler(&item_fn)?;
        Ok(declare(args))
    });
    match declared {
        Ok(declared) => {
            let register = registration(&item_fn, declared);
            quote!(#item_fn #register)
        }
        Err(error) => {
            // Keep the function so that the only error is the one about the attribute.
            let error = error.to_compile_error();
            quote!(#item_fn #error)
        }
    }
}

/// A `Declared::Limit(StaticLimit { … })` expression.
fn declared_limit(args: &LimitArgs) -> TokenStream {
    let source = &args.source;
    let limits = args.limits.iter().map(|limit| {
        let amount = limit.amount();
        let multiples = limit.multiples();
        let granularity = granularity(limit.granularity());
        quote!(::limiter_axum::__private::RateLimit::new(
            #amount, #multiples, ::limiter_axum::__private::Granularity::#granularity
        ))
    });
    let shared = args.shared;
    let options = &args.options;
    let scope = optional(options.scope.as_ref());
    let per_method = options.per_method;
    let methods = optional(options.methods.as_ref().map(|names| quote!(&[#(#names),*])));
    let error_message = optional(options.error_message.as_ref());
    let exempt_when = callback(options.exempt_when.as_ref(), "ExemptWhenFn");
    let deduct_when = callback(options.deduct_when.as_ref(), "DeductWhenFn");
    let on_breach = callback(options.on_breach.as_ref(), "OnBreachFn");
    let key_func = callback(options.key_func.as_ref(), "KeyFn");
    let override_defaults = options.override_defaults;
    let cost = cost(options.cost.as_ref());
    let shadow = options.shadow;
    let cost_from_response = options.cost_from_response;
    quote! {
        ::limiter_axum::__private::Declared::Limit(::limiter_axum::__private::StaticLimit {
            source: #source,
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
            shadow: #shadow,
            cost_from_response: #cost_from_response,
        })
    }
}

/// A `Declared::Exempt(flags)` expression.
fn declared_exemption(args: &ExemptArgs) -> TokenStream {
    let flags = match &args.flags {
        None => quote!(::limiter_axum::ExemptionScope::DEFAULT_EXEMPTION),
        Some(names) => names.iter().fold(
            quote!(::limiter_axum::ExemptionScope::NONE),
            |flags, name| quote!(#flags.union(::limiter_axum::ExemptionScope::#name)),
        ),
    };
    quote!(::limiter_axum::__private::Declared::Exempt(#flags))
}

fn granularity(granularity: Granularity) -> TokenStream {
    match granularity {
        Granularity::Second => quote!(Second),
        Granularity::Minute => quote!(Minute),
        Granularity::Hour => quote!(Hour),
        Granularity::Day => quote!(Day),
        Granularity::Month => quote!(Month),
        Granularity::Year => quote!(Year),
    }
}

fn optional(value: Option<impl quote::ToTokens>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `Some(f as FnType)`, spanned at `f` so that a mismatched signature is reported there.
fn callback(function: Option<&Expr>, fn_type: &str) -> TokenStream {
    let Some(function) = function else {
        return quote!(::core::option::Option::None);
    };
    let span = function.span();
    let fn_type = Ident::new(fn_type, span);
    quote_spanned!(span=> ::core::option::Option::Some(#function as ::limiter_axum::__private::#fn_type))
}

fn cost(cost: Option<&Cost>) -> TokenStream {
    match cost {
        None => quote!(::limiter_axum::Cost::Fixed(1)),
        Some(Cost::Fixed(units)) => quote!(::limiter_axum::Cost::Fixed(#units)),
        Some(Cost::PerRequest(function)) => {
            quote_spanned!(function.span()=> ::limiter_axum::Cost::PerRequest(#function as ::limiter_axum::__private::CostFn))
        }
    }
}

/// `inventory::submit!` of the declaration, keyed by the `TypeId` of the function item.
fn registration(item_fn: &ItemFn, declared: TokenStream) -> TokenStream {
    let name = &item_fn.sig.ident;
    let name_str = name.to_string();
    quote! {
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
    }
}
