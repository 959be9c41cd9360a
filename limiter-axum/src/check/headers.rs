//! The rate-limit headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`, `Retry-After`): which
//! limit they report, and writing them on a response.

use crate::core::Core;
use crate::options::RetryAfter;
use crate::Response;
use axum::http::HeaderValue;
use limiter_core::{Decision, RateLimit, Timestamp, WindowStats};
use std::sync::OnceLock;
use std::time::SystemTime;

/// What the rate-limit headers of a response report: one limit after the request's hit.
#[derive(Clone, Copy)]
pub(crate) struct HeaderInfo {
    amount: u64,
    remaining: u64,
    reset_at: Timestamp,
}

impl HeaderInfo {
    /// The headers of `rate` after `decision`.
    pub(crate) fn of(rate: &RateLimit, decision: Decision) -> Self {
        HeaderInfo {
            amount: rate.amount(),
            remaining: decision.remaining,
            reset_at: decision.reset_at,
        }
    }

    /// The headers of `rate` in the window `stats` describes.
    pub(crate) fn of_window(rate: &RateLimit, stats: WindowStats) -> Self {
        HeaderInfo {
            amount: rate.amount(),
            remaining: stats.remaining,
            reset_at: stats.reset_at,
        }
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
    let mut retry_at = header.reset_at;
    // A Retry-After the handler set itself wins if it is later (§4.9).
    if let Some(existing) = response.headers().get(&names.retry_after) {
        if let Ok(text) = existing.to_str() {
            let existing_at = match text.trim().parse::<u64>() {
                Ok(seconds) => Some(Timestamp::from(
                    now + std::time::Duration::from_secs(seconds),
                )),
                Err(_) => httpdate::parse_http_date(text).ok().map(Timestamp::from),
            };
            if let Some(existing_at) = existing_at {
                retry_at = retry_at.max(existing_at);
            }
        }
    }
    let headers = response.headers_mut();
    // Room for the four headers at once rather than growing the map as they come.
    headers.reserve(4);
    headers.append(&names.limit, number_header(header.amount));
    headers.append(&names.remaining, number_header(header.remaining));
    headers.append(
        &names.reset,
        HeaderValue::from(reset_header(header.reset_at)),
    );
    let retry_value = match core.retry_after {
        RetryAfter::DeltaSeconds => {
            let delta = retry_at.as_secs_f64() - Timestamp::from(now).as_secs_f64();
            number_header(delta.max(0.0) as u64)
        }
        RetryAfter::HttpDate => {
            let date = httpdate::fmt_http_date(retry_at.to_system_time());
            HeaderValue::from_str(&date).unwrap_or_else(|_| HeaderValue::from_static("0"))
        }
    };
    headers.insert(&names.retry_after, retry_value);
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
}
