//! Compares what Flask-Limiter and our port answered, request by request (bursts as a whole):
//! status, `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`, `Retry-After` (both
//! forms), 429 bodies and their content type, and the `Allow` of OPTIONS answers. Times are
//! compared as seconds from the request (see the module docs of the test).

use crate::run::{Run, StepResult};
use crate::spec::{Req, RetryAfterCheck, Script};
use limiter_tests::Reply;

/// How far apart two times, each in seconds from its own request, may be. Both servers get
/// each request at the same moment and the schedule keeps every truncation to whole seconds
/// away from a second's edge, so equal behaviour differs by the milliseconds between the two
/// sends, and any real difference by at least a second.
const TOLERANCE: f64 = 0.25;

/// One answer, with the wall-clock times (epoch seconds) around its request.
#[derive(Debug, Clone)]
pub struct Observed {
    pub status: u16,
    pub limit: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub allow: Option<String>,
    pub body: String,
    pub sent: f64,
    pub received: f64,
}

fn all_values(reply: &Reply, name: &str) -> Option<String> {
    let values: Vec<&str> = reply
        .headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(" | "))
}

impl Observed {
    pub fn new(reply: Reply, sent: f64, received: f64) -> Observed {
        Observed {
            status: reply.status,
            limit: all_values(&reply, "x-ratelimit-limit"),
            remaining: all_values(&reply, "x-ratelimit-remaining"),
            reset: all_values(&reply, "x-ratelimit-reset"),
            retry_after: all_values(&reply, "retry-after"),
            content_type: all_values(&reply, "content-type"),
            allow: all_values(&reply, "allow"),
            body: reply.body,
            sent,
            received,
        }
    }

    fn reset_epoch(&self) -> Option<f64> {
        self.reset
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .map(|v| v as f64)
    }
}

/// A `Retry-After` value as seconds from the request: `(seconds, is_http_date)`.
fn retry_after_seconds(answer: &Observed) -> Option<(f64, bool)> {
    let text = answer.retry_after.as_deref()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some((seconds as f64, false));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    let epoch = date
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some((epoch - answer.sent, true))
}

/// What a script's run compared and found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Scripted requests compared (a burst counts each of its requests).
    pub compared: usize,
    /// One line per difference.
    pub differences: Vec<String>,
    /// The latest answer of any step, in seconds after the step's scheduled time.
    pub worst_latency: f64,
}

/// Compares one run of `script`.
pub fn compare(script: &Script, run: &Run) -> Outcome {
    let mut outcome = Outcome::default();
    let mut flask_429s = 0;
    for (_, at_ms, result) in &run.steps {
        match result {
            StepResult::Sequence(answers) => {
                for (index, (request, flask, ours)) in answers.iter().enumerate() {
                    let at = format!(
                        "step {at_ms} ms #{index} {} {}",
                        request.method, request.path
                    );
                    flask_429s += usize::from(flask.status == 429);
                    outcome.compared += 1;
                    sanity(&at, request, flask, &mut outcome.differences);
                    compare_answers(&at, script, request, flask, ours, &mut outcome.differences);
                }
            }
            StepResult::Burst(request, flask, ours) => {
                let at = format!(
                    "step {at_ms} ms burst of {} {} {}",
                    flask.len(),
                    request.method,
                    request.path
                );
                flask_429s += flask.iter().filter(|a| a.status == 429).count();
                outcome.compared += flask.len();
                for answer in flask {
                    sanity(&at, request, answer, &mut outcome.differences);
                }
                compare_burst(&at, flask, ours, &mut outcome.differences);
            }
        }
    }
    if script.expect_429 && flask_429s == 0 {
        outcome
            .differences
            .push("the script is broken: Flask never answered 429".to_owned());
    }
    outcome
}

/// Flask must answer what the script asked for or a 429: anything else (404, 405, 500) means
/// the script or the app builder is wrong, and would make the comparison vacuous.
fn sanity(at: &str, request: &Req, flask: &Observed, differences: &mut Vec<String>) {
    let expected = request.status.unwrap_or(200);
    if flask.status != expected && flask.status != 429 {
        differences.push(format!(
            "{at}: the script is broken: Flask answered {} (expected {expected} or 429)",
            flask.status
        ));
    }
}

fn field(at: &str, name: &str, flask: &Option<String>, ours: &Option<String>) -> Option<String> {
    (flask != ours).then(|| format!("{at}: {name}: Flask {flask:?}, ours {ours:?}"))
}

fn compare_answers(
    at: &str,
    script: &Script,
    request: &Req,
    flask: &Observed,
    ours: &Observed,
    differences: &mut Vec<String>,
) {
    if flask.status != ours.status {
        differences.push(format!(
            "{at}: status: Flask {}, ours {}",
            flask.status, ours.status
        ));
    }
    differences.extend(field(at, "X-RateLimit-Limit", &flask.limit, &ours.limit));
    differences.extend(field(
        at,
        "X-RateLimit-Remaining",
        &flask.remaining,
        &ours.remaining,
    ));
    compare_reset(at, flask, ours, differences);
    compare_retry_after(at, script.retry_after, flask, ours, differences);
    if flask.status == 429 || ours.status == 429 {
        if flask.body != ours.body {
            differences.push(format!(
                "{at}: 429 body: Flask {:?}, ours {:?}",
                flask.body, ours.body
            ));
        }
        differences.extend(field(
            at,
            "429 Content-Type",
            &flask.content_type,
            &ours.content_type,
        ));
    }
    if request.method == axum::http::Method::OPTIONS {
        let methods = |allow: &Option<String>| {
            let mut methods: Vec<String> = allow
                .as_deref()
                .unwrap_or_default()
                .split([',', '|'])
                .map(|m| m.trim().to_ascii_uppercase())
                .filter(|m| !m.is_empty())
                .collect();
            methods.sort();
            methods
        };
        if methods(&flask.allow) != methods(&ours.allow) {
            differences.push(format!(
                "{at}: Allow: Flask {:?}, ours {:?}",
                flask.allow, ours.allow
            ));
        }
    }
}

fn compare_reset(at: &str, flask: &Observed, ours: &Observed, differences: &mut Vec<String>) {
    match (flask.reset_epoch(), ours.reset_epoch()) {
        (None, None) if flask.reset.is_none() && ours.reset.is_none() => {}
        (Some(f), Some(o)) => {
            let (f, o) = (f - flask.sent, o - ours.sent);
            if (f - o).abs() > TOLERANCE {
                differences.push(format!(
                    "{at}: X-RateLimit-Reset: Flask request + {f:.3} s, ours request + {o:.3} s"
                ));
            }
        }
        _ => differences.push(format!(
            "{at}: X-RateLimit-Reset: Flask {:?}, ours {:?}",
            flask.reset, ours.reset
        )),
    }
}

fn compare_retry_after(
    at: &str,
    check: RetryAfterCheck,
    flask: &Observed,
    ours: &Observed,
    differences: &mut Vec<String>,
) {
    let (f, o) = match (retry_after_seconds(flask), retry_after_seconds(ours)) {
        (None, None) if flask.retry_after.is_none() && ours.retry_after.is_none() => return,
        (Some(f), Some(o)) if f.1 == o.1 => (f.0, o.0),
        _ => {
            differences.push(format!(
                "{at}: Retry-After: Flask {:?}, ours {:?}",
                flask.retry_after, ours.retry_after
            ));
            return;
        }
    };
    let is_date = retry_after_seconds(flask).is_some_and(|(_, date)| date);
    let close = |a: f64, b: f64| (a - b).abs() <= TOLERANCE;
    let (accepted, rule) = match check {
        RetryAfterCheck::KnownDifference1 => (
            close(f, o) || close(f - 1.0, o),
            "Flask's or one second less while difference 1 is open",
        ),
        RetryAfterCheck::Exact if ours.status == 429 && !is_date => {
            // Flask's value, unless it is 0; or the smallest that does not send the client
            // back before X-RateLimit-Reset.
            let not_before_reset = ours.reset_epoch().map(|reset| (reset - ours.sent).ceil());
            (
                o >= 1.0
                    && ((f >= 1.0 && close(f, o)) || not_before_reset.is_some_and(|n| close(n, o))),
                "on a 429: Flask's if not 0, or the smallest not before X-RateLimit-Reset; never 0",
            )
        }
        RetryAfterCheck::Exact => (close(f, o), "Flask's"),
    };
    if !accepted {
        differences.push(format!(
            "{at}: Retry-After: Flask {:?} (request + {f:.3} s), ours {:?} (request + {o:.3} s); \
             expected {rule}",
            flask.retry_after.as_deref().unwrap_or_default(),
            ours.retry_after.as_deref().unwrap_or_default()
        ));
    }
}

fn compare_burst(at: &str, flask: &[Observed], ours: &[Observed], differences: &mut Vec<String>) {
    let sorted = |answers: &[Observed], pick: &dyn Fn(&Observed) -> String| {
        let mut values: Vec<String> = answers.iter().map(pick).collect();
        values.sort();
        values
    };
    let status = |a: &Observed| a.status.to_string();
    let limit = |a: &Observed| format!("{:?}", a.limit);
    let body = |a: &Observed| {
        if a.status == 429 {
            a.body.clone()
        } else {
            String::new()
        }
    };
    for (name, pick) in [
        ("statuses", &status as &dyn Fn(&Observed) -> String),
        ("X-RateLimit-Limit values", &limit),
        ("429 bodies", &body),
    ] {
        let (f, o) = (sorted(flask, pick), sorted(ours, pick));
        if f != o {
            differences.push(format!("{at}: {name}: Flask {f:?}, ours {o:?}"));
        }
    }
}
