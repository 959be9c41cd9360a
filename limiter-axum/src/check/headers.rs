//! The rate-limit headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`, `Retry-After`): which
//! limit they report, and writing them on a response (with the IETF fields of
//! [`ietf_headers`](super::ietf_headers), when the limiter sends those).

use super::ietf_headers::{self, IetfFields};
use crate::core::Core;
use crate::options::{HeaderStyle, RetryAfter};
use crate::Response;
use axum::http::HeaderValue;
use limiter_core::{Decision, RateLimit, Timestamp, WindowStats};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the rate-limit headers of a response report: one limit after the request's hit (and,
/// when the limiter sends them, the IETF fields of every limit).
#[derive(Clone)]
pub(crate) struct HeaderInfo {
    amount: u64,
    remaining: u64,
    reset_at: Timestamp,
    /// Whether the request was refused by this limit: its `Retry-After` then never sends the
    /// client back before the reset. Decided by the limit, not by the response's status (a
    /// handler may answer 429 itself, an `on_breach` callback may answer something else).
    rejected: bool,
    /// Boxed: a pointer that stays null unless the IETF fields are sent.
    ietf: Option<Box<IetfFields>>,
}

impl HeaderInfo {
    /// The headers of `rate` after `decision`.
    pub(crate) fn of(rate: &RateLimit, decision: Decision) -> Self {
        HeaderInfo {
            amount: rate.amount(),
            remaining: decision.remaining,
            reset_at: decision.reset_at,
            rejected: !decision.allowed,
            ietf: None,
        }
    }

    /// The headers of `rate`, which refused the request, in the window `stats` describes.
    pub(crate) fn of_rejection(rate: &RateLimit, stats: WindowStats) -> Self {
        HeaderInfo {
            amount: rate.amount(),
            remaining: stats.remaining,
            reset_at: stats.reset_at,
            rejected: true,
            ietf: None,
        }
    }

    /// The same limit's headers in the window `stats` describes (read again after a deduction).
    pub(crate) fn in_window(self, stats: WindowStats) -> Self {
        HeaderInfo {
            remaining: stats.remaining,
            reset_at: stats.reset_at,
            ..self
        }
    }

    /// These headers with the IETF fields `ietf`.
    pub(crate) fn with_ietf(mut self, ietf: Option<IetfFields>) -> Self {
        self.ietf = ietf.map(Box::new);
        self
    }
}

/// Which of a request's decided limits (smallest window first, given by whether each is shared)
/// the headers report: the first that is not shared, else the first; `None` when there are
/// none.
pub(crate) fn header_limit(mut shared: impl ExactSizeIterator<Item = bool>) -> Option<usize> {
    let decided = shared.len();
    shared
        .position(|shared| !shared)
        .or((decided > 0).then_some(0))
}

/// `X-RateLimit-Reset`: `int(reset_time + 1)`.
pub(crate) fn reset_header(reset_at: Timestamp) -> u64 {
    (reset_at.as_secs_f64() + 1.0) as u64
}

/// The numbers up to which [`number_header`] answers from its table.
const CACHED_NUMBERS: u64 = 1023;

/// `value` as a header value. Rate-limit headers mostly carry small numbers (the limit, what
/// remains of it, `Retry-After` seconds): those come from a table built on first use, whose
/// values point at static text and are cloned without allocating. Larger ones are formatted.
fn number_header(value: u64) -> HeaderValue {
    static TABLE: OnceLock<Box<[HeaderValue]>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        // One leaked string holds every number's text (about 3 KB, once per process).
        let mut text = String::new();
        let mut ends = Vec::new();
        for number in 0..=CACHED_NUMBERS {
            text.push_str(&number.to_string());
            ends.push(text.len());
        }
        let text: &'static str = Box::leak(text.into_boxed_str());
        let mut start = 0;
        ends.into_iter()
            .map(|end| {
                let value = HeaderValue::from_static(&text[start..end]);
                start = end;
                value
            })
            .collect()
    });
    match usize::try_from(value)
        .ok()
        .and_then(|index| table.get(index))
    {
        Some(cached) => cached.clone(),
        None => HeaderValue::from(value),
    }
}

/// Adds the rate-limit headers of `header` to `response`, if the limiter sends headers.
pub(crate) fn write_headers(core: &Core, response: &mut Response, header: HeaderInfo) {
    if !core.headers_enabled {
        return;
    }
    let names = &core.header_names;
    let now = SystemTime::now();
    let reset = reset_header(header.reset_at);
    // A Retry-After the handler set itself wins if it is later (as Flask-Limiter's headers), in whole seconds as Flask.
    let existing = response
        .headers()
        .get(&names.retry_after)
        .and_then(|existing| existing.to_str().ok())
        .and_then(|text| existing_retry_at(text, now));
    let retry_at = existing.map_or(reset, |existing| existing.max(reset));
    let rejected = header.rejected;
    if let Some(fields) = &header.ietf {
        ietf_headers::write(response, fields);
    }
    let x_ratelimit = core.header_style != HeaderStyle::Ietf;
    // With the IETF fields alone, `Retry-After` is only sent on a 429.
    if !x_ratelimit && !rejected {
        return;
    }
    let headers = response.headers_mut();
    if x_ratelimit {
        // Room for the four headers at once rather than growing the map as they come.
        headers.reserve(4);
        headers.append(&names.limit, number_header(header.amount));
        headers.append(&names.remaining, number_header(header.remaining));
        headers.append(&names.reset, HeaderValue::from(reset));
    }
    let retry_value = match core.retry_after {
        RetryAfter::DeltaSeconds => {
            let now = now
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |since| since.as_secs_f64());
            number_header(retry_after_seconds(retry_at, now, rejected))
        }
        RetryAfter::HttpDate => {
            let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(retry_at));
            HeaderValue::from_str(&date).unwrap_or_else(|_| HeaderValue::from_static("0"))
        }
    };
    headers.insert(&names.retry_after, retry_value);
}

/// A `Retry-After` value already on the response (delta-seconds or HTTP-date) as whole epoch
/// seconds, truncated as Flask-Limiter's `int(retry_after)`.
fn existing_retry_at(text: &str, now: SystemTime) -> Option<u64> {
    let at = match text.trim().parse::<u64>() {
        Ok(seconds) => now.checked_add(Duration::from_secs(seconds))?,
        Err(_) => httpdate::parse_http_date(text).ok()?,
    };
    at.duration_since(UNIX_EPOCH)
        .ok()
        .map(|since| since.as_secs())
}

/// `Retry-After` in seconds for a retry at `retry_at` (whole epoch seconds) seen at `now`.
///
/// Flask-Limiter sends `int(reset_at - now)`: truncated, so up to a second before `reset_at`, and
/// 0 when the reset is within the second. On a 429 that would send an obedient client back
/// before the window has reset, to be refused again, so a rejection rounds up instead: never 0,
/// and never before `X-RateLimit-Reset` (a deliberate difference from Flask-Limiter). Any other
/// response gets Flask-Limiter's value (never negative).
fn retry_after_seconds(retry_at: u64, now: f64, rejected: bool) -> u64 {
    let delta = retry_at as f64 - now;
    if rejected {
        delta.ceil().max(1.0) as u64
    } else {
        delta.max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_headers_are_the_numbers() {
        for number in [0, 1, 9, 10, 99, 100, 1022, 1023, 1024, 86_400, u64::MAX] {
            assert_eq!(number_header(number), HeaderValue::from(number), "{number}");
        }
    }

    #[test]
    fn headers_report_the_first_limit_that_is_not_shared() {
        assert_eq!(header_limit([true, false, false].into_iter()), Some(1));
        assert_eq!(header_limit([true, true].into_iter()), Some(0));
        assert_eq!(header_limit([].into_iter()), None);
    }

    #[test]
    fn retry_after_is_flasks_truncated_delta_to_the_reset_header() {
        // The window resets at 100.7 s: X-RateLimit-Reset is 101.
        let reset = reset_header(Timestamp::from_secs_f64(100.7));
        assert_eq!(reset, 101);
        // int(101 - 40.5) = 60, as Flask-Limiter, on a response that was let through.
        assert_eq!(retry_after_seconds(reset, 40.5, false), 60);
        assert_eq!(retry_after_seconds(reset, 101.0, false), 0);
        assert_eq!(
            retry_after_seconds(reset, 102.5, false),
            0,
            "never negative"
        );
    }

    #[test]
    fn a_rejection_never_sends_the_client_back_before_the_reset() {
        let reset = reset_header(Timestamp::from_secs_f64(100.7));
        for now in [40.5, 99.2, 100.0, 100.5, 100.99, 101.0, 103.0] {
            let seconds = retry_after_seconds(reset, now, true);
            assert!(seconds >= 1, "never 0 (now {now})");
            assert!(
                now + seconds as f64 >= reset as f64,
                "not before the reset (now {now})"
            );
        }
        // On a whole-second boundary the value is Flask-Limiter's.
        assert_eq!(retry_after_seconds(reset, 41.0, true), 60);
        assert_eq!(retry_after_seconds(reset, 40.5, true), 61);
    }

    #[test]
    fn an_existing_retry_after_is_read_in_whole_seconds() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_500);
        assert_eq!(existing_retry_at("500", now), Some(1_500));
        assert_eq!(
            existing_retry_at("Thu, 01 Jan 1970 00:20:00 GMT", now),
            Some(1_200)
        );
        assert_eq!(existing_retry_at("soon", now), None);
    }
}
