//! `#[exempt]` and `#[exempt(flags = DEFAULT | APPLICATION)]`.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, Token};

/// The `ExemptionScope` constants `flags = …` accepts.
const FLAGS: [&str; 6] = [
    "NONE",
    "APPLICATION",
    "DEFAULT",
    "META",
    "DESCENDENTS",
    "ANCESTORS",
];

/// The arguments of `#[exempt]`.
pub(crate) struct ExemptArgs {
    /// The `ExemptionScope` constants to combine; `None` (a bare `#[exempt]`) is Flask-Limiter's
    /// default exemption.
    pub(crate) flags: Option<Vec<Ident>>,
}

impl Parse for ExemptArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(ExemptArgs { flags: None });
        }
        let key: Ident = input.parse()?;
        if key != "flags" {
            return Err(syn::Error::new(key.span(), "expected `flags = A | B`"));
        }
        let missing_value =
            || syn::Error::new(key.span(), "`flags` needs a value: `flags = A | B`");
        if input.is_empty() {
            return Err(missing_value());
        }
        input.parse::<Token![=]>()?;
        if input.is_empty() {
            return Err(missing_value());
        }
        let mut flags = vec![flag(input)?];
        while !input.is_empty() {
            let bar: Token![|] = input.parse()?;
            if input.is_empty() {
                return Err(syn::Error::new(bar.span, "expected a flag after `|`"));
            }
            flags.push(flag(input)?);
        }
        Ok(ExemptArgs { flags: Some(flags) })
    }
}

fn flag(input: ParseStream) -> syn::Result<Ident> {
    let name: Ident = input.parse()?;
    if !FLAGS.contains(&name.to_string().as_str()) {
        return Err(syn::Error::new(
            name.span(),
            "expected NONE, APPLICATION, DEFAULT, META, DESCENDENTS or ANCESTORS",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &str) -> Option<Vec<String>> {
        let args: ExemptArgs =
            syn::parse_str(args).unwrap_or_else(|error| panic!("{args}: {error}"));
        args.flags
            .map(|flags| flags.iter().map(ToString::to_string).collect())
    }

    fn error(args: &str) -> String {
        match syn::parse_str::<ExemptArgs>(args) {
            Ok(_) => panic!("{args} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_bare_exempt_is_the_default_exemption() {
        assert_eq!(flags(""), None);
    }

    #[test]
    fn flags_are_read_in_order() {
        assert_eq!(
            flags("flags = DEFAULT | META"),
            Some(vec!["DEFAULT".into(), "META".into()])
        );
        assert_eq!(flags("flags = NONE"), Some(vec!["NONE".into()]));
    }

    #[test]
    fn invalid_flags_are_rejected_with_their_reason() {
        assert_eq!(error("flag = DEFAULT"), "expected `flags = A | B`");
        assert_eq!(error("flags ="), "`flags` needs a value: `flags = A | B`");
        assert_eq!(error("flags = DEFAULT |"), "expected a flag after `|`");
        assert_eq!(error("flags = DEFAULT, META"), "expected `|`");
        assert!(error("flags = DEFAULTS").starts_with("expected NONE, APPLICATION"));
    }
}
