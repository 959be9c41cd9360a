//! Runs scripts: serves each script's app on both sides, sends every step to both servers at
//! the same moment, on the wall-clock schedule the module docs of the test explain, and hands
//! the answers to [`crate::compare`].

use crate::compare::{self, Observed};
use crate::flask::{self, Flask};
use crate::spec::{Action, Req, Script};
use limiter_tests::Server;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// Where in a wall-clock second a script starts (see the module docs of the test).
const START_PHASE: f64 = 0.05;
/// Step offsets are multiples of this many milliseconds, so every step falls at a phase of
/// 0.05 or 0.55 s.
const STEP_GRID_MS: u64 = 500;
/// Every answer of a step must arrive this soon after the step's scheduled time, or the
/// script's timing cannot be trusted and it runs again: a step at a phase of 0.55 s then ends
/// before the next second's edge, and a window's expiry stays at least 0.1 s away from any
/// request that reads it.
const MAX_STEP_LATENCY: f64 = 0.4;
/// How many times a script runs before a late step fails it.
const ATTEMPTS: usize = 3;

/// The wall clock in seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

async fn sleep_until(instant: f64) {
    let wait = instant - now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

/// What one step got from both servers.
pub enum StepResult {
    /// One `(request, Flask, ours)` per request of a [`Action::Sequence`].
    Sequence(Vec<(Req, Observed, Observed)>),
    /// The answers to an [`Action::Burst`], in arrival order.
    Burst(Req, Vec<Observed>, Vec<Observed>),
}

/// A script's steps with their scheduled times (epoch seconds) and results.
pub struct Run {
    pub steps: Vec<(f64, u64, StepResult)>,
}

async fn send(server: &Server, request: &Req) -> Observed {
    let status = request.status.map(|status| status.to_string());
    let headers: Vec<(&str, &str)> = status
        .as_deref()
        .map(|status| vec![("x-status", status)])
        .unwrap_or_default();
    let sent = now();
    let reply = server
        .request(request.method.clone(), &request.path, &headers)
        .await;
    Observed::new(reply, sent, now())
}

/// Sends `request` to both servers at once.
async fn exchange(flask: &Server, ours: &Server, request: &Req) -> (Observed, Observed) {
    tokio::join!(send(flask, request), send(ours, request))
}

async fn burst(flask: &Server, ours: &Server, request: &Req, count: usize) -> StepResult {
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..2 * count {
        let addr = if index % 2 == 0 {
            flask.addr
        } else {
            ours.addr
        };
        let request = request.clone();
        tasks.spawn(async move { (index % 2 == 0, send(&Server::at(addr), &request).await) });
    }
    let (mut from_flask, mut from_ours) = (Vec::new(), Vec::new());
    while let Some(answer) = tasks.join_next().await {
        let (is_flask, observed) = answer.expect("a burst request");
        if is_flask {
            from_flask.push(observed);
        } else {
            from_ours.push(observed);
        }
    }
    StepResult::Burst(request.clone(), from_flask, from_ours)
}

/// Runs the steps of `script` from `base` (epoch seconds) on.
async fn run_steps(script: &Script, flask: &Server, ours: &Server, base: f64) -> Run {
    let mut steps = Vec::with_capacity(script.steps.len());
    for step in &script.steps {
        let scheduled = base + step.at_ms as f64 / 1000.0;
        sleep_until(scheduled).await;
        let result = match &step.action {
            Action::Sequence(requests) => {
                let mut answers = Vec::with_capacity(requests.len());
                for request in requests {
                    let (from_flask, from_ours) = exchange(flask, ours, request).await;
                    answers.push((request.clone(), from_flask, from_ours));
                }
                StepResult::Sequence(answers)
            }
            Action::Burst(request, count) => burst(flask, ours, request, *count).await,
        };
        steps.push((scheduled, step.at_ms, result));
    }
    Run { steps }
}

/// The latest answer of any step, measured from the step's scheduled time.
fn worst_latency(run: &Run) -> f64 {
    run.steps
        .iter()
        .flat_map(|(scheduled, _, result)| {
            let received: Vec<f64> = match result {
                StepResult::Sequence(answers) => answers
                    .iter()
                    .flat_map(|(_, f, o)| [f.received, o.received])
                    .collect(),
                StepResult::Burst(_, f, o) => f.iter().chain(o).map(|a| a.received).collect(),
            };
            received.into_iter().map(move |at| at - scheduled)
        })
        .fold(0.0, f64::max)
}

/// Each request's `[first send, last answer]` over both servers (a burst as one interval).
fn request_intervals(run: &Run) -> Vec<(f64, f64)> {
    let span = |answers: &mut dyn Iterator<Item = &Observed>| {
        answers.fold((f64::MAX, f64::MIN), |(lo, hi), a| {
            (lo.min(a.sent), hi.max(a.received))
        })
    };
    run.steps
        .iter()
        .flat_map(|(_, _, result)| match result {
            StepResult::Sequence(answers) => answers
                .iter()
                .map(|(_, f, o)| span(&mut [f, o].into_iter()))
                .collect::<Vec<_>>(),
            StepResult::Burst(_, f, o) => vec![span(&mut f.iter().chain(o))],
        })
        .collect()
}

/// On the sliding window counter (clock-aligned buckets on memory storage) the weighted count
/// `floor(previous × time_left / window) + current` drops by one at every multiple of
/// `window / previous` seconds since the epoch: a request handled across such an instant can
/// get different answers from the two servers. Returns the first request whose interval
/// contains one, for any count up to the amount, in a bucket whose previous bucket saw requests.
fn sliding_threshold_race(script: &Script, run: &Run) -> Option<String> {
    if script.app.strategy != limiter_axum::Strategy::SlidingWindowCounter {
        return None;
    }
    let limits: Vec<(u64, f64)> = script
        .app
        .limit_strings()
        .into_iter()
        .flat_map(|value| limiter_core::parse_many(value).expect("a valid limit string"))
        .map(|limit| (limit.amount(), limit.expiry_seconds() as f64))
        .collect();
    let intervals = request_intervals(run);
    for &(amount, window) in &limits {
        for &(lo, hi) in &intervals {
            let bucket_start = (lo / window).floor() * window;
            let previous_had_requests = intervals
                .iter()
                .any(|&(a, b)| b >= bucket_start - window && a < bucket_start);
            if !previous_had_requests {
                continue;
            }
            for previous in 1..=amount {
                let step = window / previous as f64;
                if (hi / step).floor() != (lo / step).floor() {
                    return Some(format!(
                        "a request handled across a weighted-count step of {amount} per \
                         {window} s (every {step:.3} s)"
                    ));
                }
            }
        }
    }
    None
}

/// Checks the timing rules of the module docs on a script before it runs.
fn validate(script: &Script) {
    let windows: Vec<u64> = script
        .app
        .limit_strings()
        .into_iter()
        .flat_map(|value| limiter_core::parse_many(value).expect("a valid limit string"))
        .map(|limit| limit.expiry_seconds() * 1000)
        .collect();
    let mut previous = None;
    for step in &script.steps {
        assert_eq!(
            step.at_ms % STEP_GRID_MS,
            0,
            "{}: step at {} ms is off the {STEP_GRID_MS} ms grid",
            script.name,
            step.at_ms
        );
        assert!(
            previous.is_none_or(|previous| step.at_ms > previous),
            "{}: steps must be in time order",
            script.name
        );
        previous = Some(step.at_ms);
    }
    for (i, earlier) in script.steps.iter().enumerate() {
        for later in &script.steps[i + 1..] {
            let gap = later.at_ms - earlier.at_ms;
            assert!(
                !windows.contains(&gap),
                "{}: the step at {} ms is exactly one window after the step at {} ms, so it \
                 would race that window's expiry",
                script.name,
                later.at_ms,
                earlier.at_ms
            );
        }
    }
}

/// Serves the script's app on both sides and runs it, again while a step comes back too late
/// (a loaded machine) for its times to be compared; the comparison of the run that kept time.
async fn run_script(script: Script, flask: Arc<Mutex<Flask>>) -> (Script, compare::Outcome) {
    let mut last_problem = String::new();
    for attempt in 1..=ATTEMPTS {
        let flask_server = flask.lock().await.serve(&script.app).await;
        let our_server = crate::ours::serve(&script.app).await;
        // The first request a Werkzeug server answers is slow; a 404 is never limited.
        let warm_up = Req {
            method: axum::http::Method::GET,
            path: "/__warm_up".to_owned(),
            status: None,
        };
        exchange(&flask_server, &our_server, &warm_up).await;
        let earliest = now() + 0.3;
        let mut base = earliest.floor() + START_PHASE;
        if base < earliest {
            base += 1.0;
        }
        let run = run_steps(&script, &flask_server, &our_server, base).await;
        let latency = worst_latency(&run);
        let problem = if latency > MAX_STEP_LATENCY {
            Some(format!(
                "an answer came {:.0} ms after its step (limit {:.0} ms)",
                latency * 1000.0,
                MAX_STEP_LATENCY * 1000.0
            ))
        } else {
            sliding_threshold_race(&script, &run)
        };
        match problem {
            None => {
                let mut outcome = compare::compare(&script, &run);
                outcome.worst_latency = latency;
                return (script, outcome);
            }
            Some(problem) => {
                println!(
                    "{}: attempt {attempt}: {problem}; running it again",
                    script.name
                );
                last_problem = problem;
            }
        }
    }
    panic!(
        "{}: no attempt kept the time the comparison needs (last: {last_problem}); the \
         machine is too loaded to compare times",
        script.name
    );
}

/// Runs `scripts` concurrently against Flask-Limiter and our port and fails with every
/// difference found. Skipped (passing) when `LIMITER_TEST_PYTHON` is unset, unless
/// `LIMITER_TEST_SERVERS=1`; with `LIMITER_TEST_SERVERS=1` a Python without Flask-Limiter
/// 4.1.1 fails.
pub async fn check(test: &str, scripts: Vec<Script>) {
    let Some(python) = limiter_tests::server_env("LIMITER_TEST_PYTHON", test) else {
        return;
    };
    if let Err(why) = flask::probe(&python) {
        if limiter_tests::servers_required() {
            panic!("LIMITER_TEST_SERVERS=1 but {why}");
        }
        println!("SKIPPED: {test}: {why}");
        return;
    }
    for script in &scripts {
        validate(script);
    }
    let started = now();
    let flask = Arc::new(Mutex::new(Flask::start(&python)));
    let mut tasks = tokio::task::JoinSet::new();
    for script in scripts {
        tasks.spawn(run_script(script, flask.clone()));
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    outcomes.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
    let mut steps = 0;
    let mut worst_latency: f64 = 0.0;
    let mut failures = Vec::new();
    for (script, outcome) in &outcomes {
        steps += outcome.compared;
        worst_latency = f64::max(worst_latency, outcome.worst_latency);
        if !outcome.differences.is_empty() {
            println!(
                "{}: {} scripted requests compared, {} differences",
                script.name,
                outcome.compared,
                outcome.differences.len()
            );
            failures.push(format!(
                "{}:\n  {}",
                script.name,
                outcome.differences.join("\n  ")
            ));
        }
    }
    println!(
        "{test}: {} scripts, {steps} scripted steps compared, {} scripts differ; {:.1} s, \
         latest answer {:.0} ms into its step",
        outcomes.len(),
        failures.len(),
        now() - started,
        worst_latency * 1000.0
    );
    assert!(
        failures.is_empty(),
        "Flask-Limiter 4.1.1 and our port differ:\n{}",
        failures.join("\n")
    );
}
