//! `#[limit("…", options)]` and `#[shared_limit("…", options)]`.

use limiter_core::{parse_many, RateLimit};
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

use super::option::RawOption;

/// The methods `methods = […]` accepts, in upper case.
const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
];

/// The arguments of `#[limit]`: the limit string, parsed at compile time, and the options.
pub(crate) struct LimitArgs {
    /// The limit string as written (kept for `Limiter::routes()` and the CLI).
    pub(crate) source: LitStr,
    /// The limits of `source`, in order.
    pub(crate) limits: Vec<RateLimit>,
    /// One bucket per scope, shared by every route declaring it, instead of one per endpoint.
    pub(crate) shared: bool,
    /// Everything after the limit string.
    pub(crate) options: LimitOptions,
}

/// The arguments of `#[shared_limit]`: those of `#[limit]`, shared unless `shared = false`.
pub(crate) struct SharedLimitArgs(LimitArgs);

/// The options of `#[limit]` other than `shared`, with their defaults.
pub(crate) struct LimitOptions {
    /// `key_func = f`: the request's key (`fn(&Request) -> Cow<str>`).
    pub(crate) key_func: Option<Expr>,
    /// `per_method`: a separate counter per HTTP method.
    pub(crate) per_method: bool,
    /// `methods = [GET, POST]`: only these methods are limited, in upper case.
    pub(crate) methods: Option<Vec<String>>,
    /// `error_message = "…"`: the 429 description.
    pub(crate) error_message: Option<LitStr>,
    /// `exempt_when = f`: `fn(&Request) -> bool`.
    pub(crate) exempt_when: Option<Expr>,
    /// `override_defaults = false` combines the limit with the default limits.
    pub(crate) override_defaults: bool,
    /// `deduct_when = f`: `fn(&Response) -> bool`, count only some responses.
    pub(crate) deduct_when: Option<Expr>,
    /// `on_breach = f`: `fn(&RequestLimit) -> Option<Response>`.
    pub(crate) on_breach: Option<Expr>,
    /// `cost = …`; `None` is one per request.
    pub(crate) cost: Option<Cost>,
    /// `scope = "…"`: the bucket's name.
    pub(crate) scope: Option<LitStr>,
    /// `shadow`: counted and logged, never refused (dry run).
    pub(crate) shadow: bool,
    /// `cost_from_response`: charged after the response, the cost the handler set on it.
    pub(crate) cost_from_response: bool,
}

/// What one request costs.
pub(crate) enum Cost {
    /// `cost = 2`.
    Fixed(u64),
    /// `cost = f`, a `fn(&Request) -> u64`.
    PerRequest(Expr),
}

impl Parse for LimitArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        LimitArgs::parse_shared_by_default(input, false)
    }
}

impl Parse for SharedLimitArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        LimitArgs::parse_shared_by_default(input, true).map(SharedLimitArgs)
    }
}

impl From<SharedLimitArgs> for LimitArgs {
    fn from(args: SharedLimitArgs) -> Self {
        args.0
    }
}

impl LimitArgs {
    fn parse_shared_by_default(input: ParseStream, shared_by_default: bool) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "expected a rate limit string, e.g. `(\"10 per minute\")`",
            ));
        }
        let source: LitStr = input.parse()?;
        let limits =
            parse_many(&source.value()).map_err(|error| syn::Error::new(source.span(), error))?;
        let mut options = LimitOptions::default();
        // `shared` stays apart from the options: its default depends on the attribute, and its
        // token is where a missing scope is reported.
        let mut shared: Option<(bool, Span)> = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let option: RawOption = input.parse()?;
            if option.key == "shared" {
                let span = option.key.span();
                shared = Some((option.switch()?, span));
            } else {
                options.set(option)?;
            }
        }
        let (shared, shared_span) = shared.unwrap_or((shared_by_default, Span::call_site()));
        if shared && options.scope.is_none() {
            return Err(syn::Error::new(
                shared_span,
                "a shared limit needs a scope: `scope = \"name\"`",
            ));
        }
        Ok(LimitArgs {
            source,
            limits,
            shared,
            options,
        })
    }
}

impl Default for LimitOptions {
    fn default() -> Self {
        LimitOptions {
            key_func: None,
            per_method: false,
            methods: None,
            error_message: None,
            exempt_when: None,
            override_defaults: true,
            deduct_when: None,
            on_breach: None,
            cost: None,
            scope: None,
            shadow: false,
            cost_from_response: false,
        }
    }
}

impl LimitOptions {
    /// Records one option; a repeated option replaces the earlier one.
    fn set(&mut self, option: RawOption) -> syn::Result<()> {
        match option.key.to_string().as_str() {
            "key_func" => self.key_func = Some(option.required_value()?),
            "per_method" => self.per_method = option.switch()?,
            "methods" => self.methods = Some(methods(option.required_value()?)?),
            "error_message" => self.error_message = Some(option.string()?),
            "exempt_when" => self.exempt_when = Some(option.required_value()?),
            "override_defaults" => self.override_defaults = option.switch()?,
            "deduct_when" => self.deduct_when = Some(option.required_value()?),
            "on_breach" => self.on_breach = Some(option.required_value()?),
            "cost" => self.cost = Some(Cost::from_expr(option.required_value()?)?),
            "scope" => self.scope = Some(option.string()?),
            "shadow" => self.shadow = option.switch()?,
            "cost_from_response" => self.cost_from_response = option.switch()?,
            _ => {
                return Err(syn::Error::new(
                    option.key.span(),
                    "unknown option: expected key_func, per_method, methods, error_message, \
                     exempt_when, override_defaults, deduct_when, on_breach, cost, scope, shadow, \
                     cost_from_response or shared",
                ))
            }
        }
        Ok(())
    }
}

impl Cost {
    /// An integer literal is a fixed cost; any other expression a function of the request.
    fn from_expr(expr: Expr) -> syn::Result<Self> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => int.base10_parse().map(Cost::Fixed).map_err(|_| {
                syn::Error::new(int.span(), format!("`cost` is at most {}", u64::MAX))
            }),
            other => Ok(Cost::PerRequest(other)),
        }
    }
}

/// `[GET, "post"]`: the method names in upper case.
fn methods(expr: Expr) -> syn::Result<Vec<String>> {
    let Expr::Array(array) = &expr else {
        return Err(syn::Error::new_spanned(
            &expr,
            "`methods` expects `[GET, POST, …]`",
        ));
    };
    array.elems.iter().map(method_name).collect()
}

/// One method, written as a name (`GET`) or a string (`"get"`), in any case.
fn method_name(element: &Expr) -> syn::Result<String> {
    let written = match element {
        Expr::Path(path) => path.path.get_ident().map(Ident::to_string),
        Expr::Lit(ExprLit {
            lit: Lit::Str(name),
            ..
        }) => Some(name.value()),
        _ => None,
    };
    let Some(written) = written else {
        return Err(syn::Error::new_spanned(
            element,
            "expected a method such as GET",
        ));
    };
    let upper = written.to_ascii_uppercase();
    if !HTTP_METHODS.contains(&upper.as_str()) {
        return Err(syn::Error::new_spanned(
            element,
            format!("unknown HTTP method `{written}`"),
        ));
    }
    Ok(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> LimitArgs {
        syn::parse_str(args).unwrap_or_else(|error| panic!("{args}: {error}"))
    }

    fn error(args: &str) -> String {
        match syn::parse_str::<LimitArgs>(args) {
            Ok(_) => panic!("{args} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_limit_string_is_parsed_at_compile_time() {
        let args = parse(r#""10 per minute; 100/day""#);
        assert_eq!(args.source.value(), "10 per minute; 100/day");
        let limits: Vec<String> = args.limits.iter().map(ToString::to_string).collect();
        assert_eq!(limits, ["10 per 1 minute", "100 per 1 day"]);
        assert!(!args.shared);
    }

    #[test]
    fn options_have_flask_limiters_defaults() {
        let options = parse(r#""1/second""#).options;
        assert!(!options.per_method);
        assert!(options.override_defaults);
        assert!(options.methods.is_none());
        assert!(options.cost.is_none());
        assert!(options.scope.is_none());
        assert!(!options.shadow && !options.cost_from_response);
    }

    #[test]
    fn every_option_is_read_into_its_field() {
        let args = parse(
            r#""1/second", key_func = by_user, per_method, methods = [get, "Post"],
               error_message = "slow down", exempt_when = is_admin, override_defaults = false,
               deduct_when = is_error, on_breach = custom, cost = 3, scope = "group", shared,
               shadow, cost_from_response = true,"#,
        );
        let options = &args.options;
        assert!(options.key_func.is_some() && options.exempt_when.is_some());
        assert!(options.deduct_when.is_some() && options.on_breach.is_some());
        assert!(options.per_method && !options.override_defaults);
        assert_eq!(
            options.methods.as_deref(),
            Some(&["GET".to_owned(), "POST".to_owned()][..])
        );
        assert_eq!(
            options.error_message.as_ref().map(LitStr::value).as_deref(),
            Some("slow down")
        );
        assert!(matches!(options.cost, Some(Cost::Fixed(3))));
        assert_eq!(
            options.scope.as_ref().map(LitStr::value).as_deref(),
            Some("group")
        );
        assert!(args.shared);
        assert!(options.shadow && options.cost_from_response);
    }

    #[test]
    fn a_cost_other_than_an_integer_is_a_function() {
        let options = parse(r#""1/second", cost = cost_of"#).options;
        assert!(matches!(options.cost, Some(Cost::PerRequest(_))));
    }

    #[test]
    fn a_repeated_option_replaces_the_earlier_one() {
        let options =
            parse(r#""1/second", scope = "a", scope = "b", per_method, per_method = false"#)
                .options;
        assert_eq!(
            options.scope.as_ref().map(LitStr::value).as_deref(),
            Some("b")
        );
        assert!(!options.per_method);
    }

    #[test]
    fn shared_limit_is_shared_unless_told_otherwise() {
        let shared: LimitArgs = syn::parse_str::<SharedLimitArgs>(r#""1/second", scope = "s""#)
            .map(Into::into)
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(shared.shared);
        let unshared: LimitArgs =
            syn::parse_str::<SharedLimitArgs>(r#""1/second", shared = false"#)
                .map(Into::into)
                .unwrap_or_else(|error| panic!("{error}"));
        assert!(!unshared.shared);
    }

    #[test]
    fn invalid_options_are_rejected_with_their_reason() {
        assert!(error(r#""1 per dya""#).starts_with("no granularity matched for 'dya'"));
        assert_eq!(
            error(r#""1/day", scope"#),
            "`scope` needs a value: `scope = …`"
        );
        assert_eq!(
            error(r#""1/day", cost ="#),
            "`cost` needs a value: `cost = …`"
        );
        assert_eq!(
            error(r#""1/day", shared"#),
            "a shared limit needs a scope: `scope = \"name\"`"
        );
        assert_eq!(
            error(r#""1/day", methods = [FETCH]"#),
            "unknown HTTP method `FETCH`"
        );
        assert!(error(r#""1/day", per_user"#).starts_with("unknown option"));
    }
}
