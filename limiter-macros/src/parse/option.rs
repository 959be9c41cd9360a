//! One `key` or `key = value` of `#[limit]`'s argument list, and the readers of its value.

use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

/// An option as written, before its value is checked: `per_method`, `scope = "group"`.
pub(super) struct RawOption {
    pub(super) key: Ident,
    pub(super) value: Option<Expr>,
}

impl Parse for RawOption {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Ok(RawOption { key, value: None });
        }
        input.parse::<Token![=]>()?;
        // `key =` followed by nothing: reported at the key rather than at the end of the attribute.
        if input.is_empty() || input.peek(Token![,]) {
            return Err(missing_value(&key));
        }
        let value = input.parse()?;
        Ok(RawOption {
            key,
            value: Some(value),
        })
    }
}

impl RawOption {
    /// The value of an option that cannot be written bare: `key_func = my_key`.
    pub(super) fn required_value(self) -> syn::Result<Expr> {
        match self.value {
            Some(value) => Ok(value),
            None => Err(missing_value(&self.key)),
        }
    }

    /// A string-literal value: `scope = "group"`.
    pub(super) fn string(self) -> syn::Result<LitStr> {
        let key = self.key.clone();
        match self.required_value()? {
            Expr::Lit(ExprLit {
                lit: Lit::Str(string),
                ..
            }) => Ok(string),
            other => Err(syn::Error::new_spanned(
                other,
                format!("`{key}` expects a string literal"),
            )),
        }
    }

    /// A switch: bare `per_method` means `true`, otherwise `= true` or `= false`.
    pub(super) fn switch(self) -> syn::Result<bool> {
        match self.value {
            None => Ok(true),
            Some(Expr::Lit(ExprLit {
                lit: Lit::Bool(switch),
                ..
            })) => Ok(switch.value),
            Some(other) => Err(syn::Error::new_spanned(
                other,
                format!("`{}` expects `true` or `false`", self.key),
            )),
        }
    }
}

fn missing_value(key: &Ident) -> syn::Error {
    syn::Error::new(key.span(), format!("`{key}` needs a value: `{key} = …`"))
}
