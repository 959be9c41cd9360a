//! URIs for logs and error messages, with passwords masked.

use super::parts::{percent_encode, Parts};
use std::fmt;

/// Returns `uri` with the password replaced by `***`.
///
/// Masks the password in the user information (`user:***@host`) and the
/// value of any `password=` query parameter. Everything else, including an
/// unparseable URI, is returned unchanged.
///
/// ```
/// assert_eq!(
///     limiter_core::uri::masked("rediss://user:s3cret@host:6380/0"),
///     "rediss://user:***@host:6380/0"
/// );
/// ```
pub fn masked(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let parts = Parts::split(rest);
    let mut result = format!("{scheme}://");
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, password)) if !password.is_empty() => {
                result.push_str(user);
                result.push_str(":***");
            }
            _ => result.push_str(userinfo),
        }
        result.push('@');
    }
    result.push_str(parts.hosts);
    result.push_str(parts.path);
    if let Some(query) = parts.query {
        result.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value))
                    if name.eq_ignore_ascii_case("password") && !value.is_empty() =>
                {
                    format!("{name}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        result.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = parts.fragment {
        result.push('#');
        result.push_str(fragment);
    }
    result
}

/// Whether `uri` is one [`masked`] hid a password of (`user:***@`, `password=***`): it cannot
/// be connected to, and the real URI must come from elsewhere.
///
/// ```
/// use limiter_core::uri::{is_masked, masked};
/// assert!(is_masked(&masked("redis://:s3cret@host:6379")));
/// assert!(!is_masked("redis://host:6379"));
/// ```
pub fn is_masked(uri: &str) -> bool {
    let Some((_, rest)) = uri.split_once("://") else {
        return false;
    };
    let parts = Parts::split(rest);
    let userinfo_masked = parts
        .userinfo
        .and_then(|userinfo| userinfo.split_once(':'))
        .is_some_and(|(_, password)| password == "***");
    let query_masked = parts.query.is_some_and(|query| {
        query.split('&').any(|pair| {
            pair.split_once('=').is_some_and(|(name, value)| {
                name.eq_ignore_ascii_case("password") && value == "***"
            })
        })
    });
    userinfo_masked || query_masked
}

/// `user:***@`, `user@`, `:***@` or nothing.
pub(super) fn redacted_userinfo(username: &Option<String>, password: &Option<String>) -> String {
    let username = username.as_deref().map(percent_encode).unwrap_or_default();
    match password {
        Some(_) => format!("{username}:***@"),
        None if username.is_empty() => String::new(),
        None => format!("{username}@"),
    }
}

/// The items, comma-separated.
pub(super) fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
