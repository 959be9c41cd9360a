//! The timeouts a storage URI's query may set, with redis-py's names (so a URI written for
//! Flask-Limiter means the same here): `socket_timeout` for each command and
//! `socket_connect_timeout` for connecting, both in seconds (`?socket_timeout=0.25`).

use std::time::Duration;

/// The timeouts a URI's query sets; `None` where it sets none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QueryTimeouts {
    /// `socket_timeout`: the longest one command may take.
    pub(crate) command: Option<Duration>,
    /// `socket_connect_timeout`: the longest connecting may take.
    pub(crate) connect: Option<Duration>,
}

/// Reads `socket_timeout` and `socket_connect_timeout` from `uri`'s query; a value that is not a
/// positive, finite number of seconds is an error naming the parameter.
pub(crate) fn query_timeouts(uri: &str) -> Result<QueryTimeouts, String> {
    let mut timeouts = QueryTimeouts::default();
    let Some((_, query)) = uri.split_once('?') else {
        return Ok(timeouts);
    };
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "socket_timeout" => &mut timeouts.command,
            "socket_connect_timeout" => &mut timeouts.connect,
            _ => continue,
        };
        *slot =
            Some(seconds(value).ok_or_else(|| {
                format!("{name}={value:?}: expected a positive number of seconds")
            })?);
    }
    Ok(timeouts)
}

/// A positive, finite number of seconds.
fn seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.parse().ok()?;
    (seconds.is_finite() && seconds > 0.0)
        .then(|| Duration::try_from_secs_f64(seconds).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_redis_py_names_in_seconds() {
        let timeouts =
            query_timeouts("redis://h:6379/0?socket_timeout=0.25&socket_connect_timeout=2")
                .unwrap();
        assert_eq!(timeouts.command, Some(Duration::from_millis(250)));
        assert_eq!(timeouts.connect, Some(Duration::from_secs(2)));
        assert_eq!(
            query_timeouts("redis://h").unwrap(),
            QueryTimeouts::default()
        );
        assert_eq!(
            query_timeouts("redis://h/0?db=1&x=y").unwrap(),
            QueryTimeouts::default()
        );
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["0", "-1", "abc", "", "inf", "NaN"] {
            let error = query_timeouts(&format!("redis://h?socket_timeout={bad}")).unwrap_err();
            assert!(error.starts_with("socket_timeout="), "{error}");
        }
    }
}
