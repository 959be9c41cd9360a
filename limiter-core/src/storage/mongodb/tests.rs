//! The exact documents the MongoDB backend sends, checked without a server, and the decoding of
//! what it receives.

use super::commands::*;
use super::*;
use ::mongodb::bson::{doc, DateTime};

/// 2026-11-01T00:00:00.250Z in milliseconds.
const NOW: i64 = 1_793_491_200_250;

#[test]
fn fixed_window_is_one_upserting_pipeline_update() {
    let command = fixed_window_update("LIMITER/a/b/5/1/minute", 60, 2, NOW);
    assert_eq!(
        command,
        FindOneAndUpdate {
            filter: doc! { "_id": "LIMITER/a/b/5/1/minute" },
            update: Update::Pipeline(vec![doc! {
                "$set": {
                    "count": {
                        "$cond": {
                            "if": { "$lt": ["$expireAt", "$$NOW"] },
                            "then": 2_i64,
                            "else": { "$add": ["$count", 2_i64] },
                        }
                    },
                    "expireAt": {
                        "$cond": {
                            "if": { "$lt": ["$expireAt", "$$NOW"] },
                            "then": DateTime::from_millis(NOW + 60_000),
                            "else": "$expireAt",
                        }
                    },
                }
            }]),
            upsert: true,
            return_document: Return::After,
            projection: Some(doc! { "count": 1, "expireAt": 1 }),
        }
    );
    assert_eq!(counter_filter("k"), doc! { "_id": "k" });
}

#[test]
fn moving_window_pushes_cost_copies_under_the_entries_filter() {
    let command = moving_window_acquire("k", 5, 10, 2, NOW);
    let now = NOW as f64 / 1000.0;
    assert_eq!(
        command,
        FindOneAndUpdate {
            filter: doc! { "_id": "k", "entries.3": { "$not": { "$gte": now - 10.0 } } },
            update: Update::Document(doc! {
                "$push": {
                    "entries": { "$each": [now, now], "$position": 0, "$slice": 5_i64 }
                },
                "$set": { "expireAt": DateTime::from_millis(NOW + 10_000) },
            }),
            upsert: true,
            return_document: Return::After,
            projection: Some(doc! { "entries": 1, "expireAt": 1 }),
        }
    );
    // A cost of the whole amount looks at the newest entry.
    let command = moving_window_acquire("k", 1, 10, 1, NOW);
    assert_eq!(
        command.filter,
        doc! { "_id": "k", "entries.0": { "$not": { "$gte": now - 10.0 } } }
    );
}

#[test]
fn moving_window_stats_is_an_aggregation_over_the_entries_in_the_window() {
    let cutoff = NOW as f64 / 1000.0 - 60.0;
    assert_eq!(
        commands::moving_window_aggregation("k", 60, NOW),
        vec![
            doc! { "$match": { "_id": "k" } },
            doc! {
                "$project": {
                    "entries": {
                        "$filter": {
                            "input": "$entries",
                            "as": "entry",
                            "cond": { "$gte": ["$$entry", cutoff] },
                        }
                    }
                }
            },
            doc! { "$unwind": "$entries" },
            doc! { "$group": { "_id": "$_id", "min": { "$min": "$entries" }, "count": { "$sum": 1 } } },
        ]
    );
}

/// The stage that starts an expired (not yet TTL-deleted) document afresh.
fn expired_stage() -> Document {
    doc! {
        "$set": {
            "previousCount": {
                "$cond": { "if": { "$lte": ["$expireAt", "$$NOW"] }, "then": 0, "else": "$previousCount" }
            },
            "currentCount": {
                "$cond": { "if": { "$lte": ["$expireAt", "$$NOW"] }, "then": 0, "else": "$currentCount" }
            },
            "expireAt": {
                "$cond": { "if": { "$lte": ["$expireAt", "$$NOW"] }, "then": "$$REMOVE", "else": "$expireAt" }
            },
        }
    }
}

/// `limits`' two roll-over stages for a window of `expiry_ms`.
fn rollover_stages(expiry_ms: i64) -> [Document; 2] {
    let due = doc! { "$lte": [{ "$subtract": ["$expireAt", "$$NOW"] }, expiry_ms] };
    [
        doc! {
            "$set": {
                "previousCount": {
                    "$cond": {
                        "if": due.clone(),
                        "then": { "$ifNull": ["$currentCount", 0] },
                        "else": { "$ifNull": ["$previousCount", 0] },
                    }
                }
            }
        },
        doc! {
            "$set": {
                "currentCount": {
                    "$cond": { "if": due.clone(), "then": 0, "else": { "$ifNull": ["$currentCount", 0] } }
                },
                "expireAt": {
                    "$cond": {
                        "if": due,
                        "then": {
                            "$cond": {
                                "if": { "$gt": ["$expireAt", 0] },
                                "then": { "$add": ["$expireAt", expiry_ms] },
                                "else": { "$add": ["$$NOW", 2 * expiry_ms] },
                            }
                        },
                        "else": "$expireAt",
                    }
                },
            }
        },
    ]
}

#[test]
fn sliding_window_acquire_rolls_over_weighs_and_records_the_outcome() {
    let [previous, current] = rollover_stages(30_000);
    let fits = doc! { "$lte": [{ "$add": ["$curWeightedCount", 1_i64] }, 4_i64] };
    assert_eq!(
        sliding_window_acquire("k", 4, 30, 1),
        FindOneAndUpdate {
            filter: doc! { "_id": "k" },
            update: Update::Pipeline(vec![
                expired_stage(),
                previous,
                current,
                doc! {
                    "$set": {
                        "curWeightedCount": {
                            "$floor": {
                                "$add": [
                                    {
                                        "$multiply": [
                                            "$previousCount",
                                            {
                                                "$divide": [
                                                    { "$max": [0, { "$subtract": ["$expireAt", { "$add": ["$$NOW", 30_000_i64] }] }] },
                                                    30_000_i64,
                                                ]
                                            },
                                        ]
                                    },
                                    "$currentCount",
                                ]
                            }
                        }
                    }
                },
                doc! {
                    "$set": {
                        "currentCount": {
                            "$cond": {
                                "if": fits.clone(),
                                "then": { "$add": ["$currentCount", 1_i64] },
                                "else": "$currentCount",
                            }
                        }
                    }
                },
                doc! { "$set": { "_acquired": fits } },
                doc! { "$unset": ["curWeightedCount"] },
            ]),
            upsert: true,
            return_document: Return::After,
            projection: None,
        }
    );
}

#[test]
fn sliding_window_read_rolls_over_without_upsert() {
    let [previous, current] = rollover_stages(2_000);
    assert_eq!(
        sliding_window_read("k", 2),
        FindOneAndUpdate {
            filter: doc! { "_id": "k" },
            update: Update::Pipeline(vec![expired_stage(), previous, current]),
            upsert: false,
            return_document: Return::After,
            projection: Some(doc! { "currentCount": 1, "previousCount": 1, "expireAt": 1 }),
        }
    );
}

#[test]
fn index_and_health_commands() {
    assert_eq!(ttl_index_keys(), doc! { "expireAt": 1 });
    assert_eq!(ping(), doc! { "ping": 1 });
}

#[test]
fn moving_window_entries_are_counted_inside_the_window_only() {
    let document = doc! { "entries": [100.5, 100.0, 95.0, 80.0_f64] };
    assert_eq!(moving_window_from_entries(&document, 90.0), (95.0, 3));
    assert_eq!(moving_window_from_entries(&doc! {}, 90.0).1, 0);
    let now = timestamp_from_millis(101_000);
    let stats = moving_window_stats(5, 10, now, 95.0, 3);
    assert_eq!(stats.remaining, 2);
    assert_eq!(stats.reset_at, Timestamp::from_secs_f64(105.0));
    // Empty window: full amount, starts now so resets one window (10 s) after now, as `limits`
    // and the memory storage.
    let stats = moving_window_stats(5, 10, now, f64::INFINITY, 0);
    assert_eq!(
        stats,
        WindowStats {
            remaining: 5,
            reset_at: timestamp_from_millis(111_000)
        }
    );
}

#[test]
fn sliding_state_is_decoded_and_weighed_as_limits_does() {
    // 4 per minute: previous bucket 4, current 0, 55 s left in the current bucket's first half.
    let now = 1_000_000;
    let document = doc! {
        "previousCount": 4_i32,
        "currentCount": 0_i64,
        "expireAt": DateTime::from_millis(now + 60_000 + 55_000),
    };
    let state = SlidingState::from_document(Some(&document), 60_000, now);
    assert_eq!(
        state,
        SlidingState {
            previous: 4,
            previous_ttl_ms: 55_000.0,
            current: 0,
            current_ttl_ms: 115_000.0
        }
    );
    // 4 × 55/60 = 3.67 → 3.
    assert_eq!(state.weighted_floor(60_000), 3);
    let stats = state.stats(4, 60_000, timestamp_from_millis(now));
    assert_eq!(stats.remaining, 1);
    // The weighted count drops by one every 15 s: next in 55 mod 15 = 10 s.
    assert_eq!(stats.reset_at, timestamp_from_millis(now + 10_000));
    // Missing document: nothing counted, resets now.
    let empty = SlidingState::from_document(None, 60_000, now);
    assert_eq!(
        empty.stats(4, 60_000, timestamp_from_millis(now)),
        WindowStats {
            remaining: 4,
            reset_at: timestamp_from_millis(now)
        }
    );
}

#[test]
fn numbers_of_every_bson_type_are_read() {
    let document = doc! { "a": 3_i32, "b": 4_i64, "c": 5.0_f64, "d": "x" };
    assert_eq!(count(&document, "a"), 3);
    assert_eq!(count(&document, "b"), 4);
    assert_eq!(count(&document, "c"), 5);
    assert_eq!(count(&document, "d"), 0);
    assert_eq!(count(&document, "missing"), 0);
}

#[test]
fn duplicate_key_errors_are_recognised_from_commands_and_writes() {
    use ::mongodb::error::{CommandError, Error, WriteError};
    let command = |code: i32| -> Error {
        let error: CommandError = ::mongodb::bson::from_document(
            doc! { "code": code, "codeName": "DuplicateKey", "errmsg": "E11000 duplicate key" },
        )
        .expect("command error");
        ErrorKind::Command(error).into()
    };
    let write = |code: i32| -> Error {
        let error: WriteError =
            ::mongodb::bson::from_document(doc! { "code": code, "errmsg": "E11000" })
                .expect("write error");
        ErrorKind::Write(WriteFailure::WriteError(error)).into()
    };
    assert!(is_duplicate_key(&command(11000)));
    assert!(is_duplicate_key(&write(11000)));
    assert!(!is_duplicate_key(&command(112)));
    assert!(!is_duplicate_key(&write(121)));
    assert!(!is_duplicate_key(&Error::custom("other")));
    // Anything else becomes a typed backend error.
    assert!(matches!(
        backend_error(command(112)),
        StorageError::Backend {
            backend: "mongodb",
            ..
        }
    ));
}

/// A reset of "now" is never before a precise clock reading taken before the call (the suite
/// checks that), although the commands carry whole milliseconds.
#[test]
fn now_is_read_once_precisely() {
    let before = Timestamp::from(SystemTime::now());
    let now = Now::read();
    assert!(now.stamp >= before);
    assert_eq!(now.millis, (now.stamp.as_nanos() / 1_000_000) as i64);
    let stats = moving_window_stats(5, 10, now.stamp, f64::INFINITY, 0);
    assert!(stats.reset_at >= before.saturating_add(Duration::from_secs(10)));
}
