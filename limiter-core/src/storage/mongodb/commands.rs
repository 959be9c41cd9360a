//! The command documents the MongoDB backend sends, built by pure functions so that they are
//! unit-tested without a server (see the tests below).
//!
//! They reproduce the documents and update pipelines of Python `limits`' `MongoDBStorage`
//! (as Python's `limits` stores them), so a Flask-Limiter deployment and ours share one
//! `limits` database:
//!
//! * counters: `{_id: key, count, expireAt}`;
//! * windows (moving window): `{_id: key, entries: [float seconds, newest first], expireAt}`;
//! * windows (sliding window counter): `{_id: key, previousCount, currentCount, expireAt,
//!   _acquired}` (`_acquired` is left in the document by `limits` too).
//!
//! One deliberate difference, in the sliding window counter only: the pipelines start with one
//! stage ([`sliding_window_expired_stage`]) that treats a document whose `expireAt` has passed as
//! absent. MongoDB's TTL monitor deletes expired documents only once a minute, and `limits'` own
//! pipeline rolls such a stale document over by a single window, which moves counts of the
//! finished window into the "current" bucket's successor and can over-admit. Once the TTL
//! monitor has run, both treatments coincide (a fresh document), so the two implementations keep
//! sharing the documents.

use ::mongodb::bson::{doc, Bson, DateTime, Document};

/// Whether a `findAndModify` returns the document as it was before or after the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Return {
    /// The document after the update (`ReturnDocument.AFTER`).
    After,
}

/// An update: a classic update document, or an aggregation pipeline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Update {
    /// `{$set: …, $push: …}`.
    Document(Document),
    /// `[{$set: …}, …]`, evaluated server-side with `$$NOW`.
    Pipeline(Vec<Document>),
}

/// A `findAndModify` (`find_one_and_update`) on one collection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FindOneAndUpdate {
    /// Which document.
    pub filter: Document,
    /// What to change.
    pub update: Update,
    /// Insert the document when the filter matches none.
    pub upsert: bool,
    /// Which version of the document to return.
    pub return_document: Return,
    /// The fields to return (`None`: all).
    pub projection: Option<Document>,
}

/// Seconds since the epoch, as `limits` stores moving-window entries (`time.time()`).
pub(crate) fn seconds(now_millis: i64) -> f64 {
    now_millis as f64 / 1000.0
}

/// A window length in milliseconds, as `limits`' `expiry_ms`.
pub(crate) fn expiry_millis(expiry_seconds: u64) -> i64 {
    i64::try_from(expiry_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

fn int(value: u64) -> Bson {
    Bson::Int64(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Fixed window `incr`: one upserting pipeline update. When `expireAt < $$NOW` (a missing
/// document included: a missing field compares below any date) the count restarts at `cost` and
/// the window at `now + expiry`; otherwise `cost` is added. Returns the count and `expireAt`
/// after the update.
pub(crate) fn fixed_window_update(
    key: &str,
    expiry_seconds: u64,
    cost: u64,
    now_millis: i64,
) -> FindOneAndUpdate {
    let expiration =
        DateTime::from_millis(now_millis.saturating_add(expiry_millis(expiry_seconds)));
    FindOneAndUpdate {
        filter: doc! { "_id": key },
        update: Update::Pipeline(vec![doc! {
            "$set": {
                "count": {
                    "$cond": {
                        "if": { "$lt": ["$expireAt", "$$NOW"] },
                        "then": int(cost),
                        "else": { "$add": ["$count", int(cost)] },
                    }
                },
                "expireAt": {
                    "$cond": {
                        "if": { "$lt": ["$expireAt", "$$NOW"] },
                        "then": expiration,
                        "else": "$expireAt",
                    }
                },
            }
        }]),
        upsert: true,
        return_document: Return::After,
        projection: Some(doc! { "count": 1, "expireAt": 1 }),
    }
}

/// Fixed window `get` and `get_expiry` in one read: the counter document by `_id` (the caller
/// counts it only while `expireAt >= now`).
pub(crate) fn counter_filter(key: &str) -> Document {
    doc! { "_id": key }
}

/// Moving window `acquire_entry`: matches the key's window only if the entry `amount - cost`
/// places back is missing or older than `now - expiry`, then pushes `cost` copies of `now` at the
/// head, keeps at most `amount` entries and sets `expireAt = now + expiry`. On a full window the
/// filter matches nothing and the upsert collides on `_id` (duplicate key error): rejected.
///
/// `limits` sends this filter and update with `update_one`; we send the same ones with
/// `find_one_and_update` returning the document after the update, so an admitted hit learns its
/// remaining amount and reset time in the same round trip.
///
/// The caller checks `cost <= amount` first (nothing is written otherwise).
pub(crate) fn moving_window_acquire(
    key: &str,
    amount: u64,
    expiry_seconds: u64,
    cost: u64,
    now_millis: i64,
) -> FindOneAndUpdate {
    let timestamp = seconds(now_millis);
    let cutoff = timestamp - expiry_seconds as f64;
    let expire_at = DateTime::from_millis(now_millis.saturating_add(expiry_millis(expiry_seconds)));
    let position = format!("entries.{}", amount.saturating_sub(cost));
    let copies = usize::try_from(cost).unwrap_or(usize::MAX);
    let each: Vec<Bson> = std::iter::repeat_n(Bson::Double(timestamp), copies).collect();
    FindOneAndUpdate {
        filter: doc! { "_id": key, position: { "$not": { "$gte": cutoff } } },
        update: Update::Document(doc! {
            "$push": { "entries": { "$each": each, "$position": 0, "$slice": int(amount) } },
            "$set": { "expireAt": expire_at },
        }),
        upsert: true,
        return_document: Return::After,
        projection: Some(doc! { "entries": 1, "expireAt": 1 }),
    }
}

/// Moving window `get_moving_window`: the entries of the key at or after `now - expiry`, as the
/// oldest of them (`min`) and how many (`count`). No result document: the window is empty.
pub(crate) fn moving_window_aggregation(
    key: &str,
    expiry_seconds: u64,
    now_millis: i64,
) -> Vec<Document> {
    let cutoff = seconds(now_millis) - expiry_seconds as f64;
    vec![
        doc! { "$match": { "_id": key } },
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
        doc! {
            "$group": {
                "_id": "$_id",
                "min": { "$min": "$entries" },
                "count": { "$sum": 1 },
            }
        },
    ]
}

/// `true` in the pipeline when the current bucket has reached its last `expiry` (the document
/// is due to roll over): `expireAt - $$NOW <= expiry_ms`.
fn sliding_rollover_due(expiry_ms: i64) -> Document {
    doc! { "$lte": [{ "$subtract": ["$expireAt", "$$NOW"] }, expiry_ms] }
}

/// The stage that our sliding-window pipelines put before `limits`' own: a document whose
/// `expireAt` has passed (still there because the TTL monitor runs once a minute) is made to
/// look absent, so the following stages start it afresh as they would a new document.
pub(crate) fn sliding_window_expired_stage() -> Document {
    let expired = doc! { "$lte": ["$expireAt", "$$NOW"] };
    doc! {
        "$set": {
            "previousCount": { "$cond": { "if": expired.clone(), "then": 0, "else": "$previousCount" } },
            "currentCount": { "$cond": { "if": expired.clone(), "then": 0, "else": "$currentCount" } },
            "expireAt": { "$cond": { "if": expired, "then": "$$REMOVE", "else": "$expireAt" } },
        }
    }
}

/// `limits`' roll-over stages: when due, the current count becomes the previous one, the current
/// restarts at 0 and `expireAt` moves on by one window; a new document gets
/// `expireAt = $$NOW + 2 × expiry`.
fn sliding_window_rollover_stages(expiry_ms: i64) -> [Document; 2] {
    [
        doc! {
            "$set": {
                "previousCount": {
                    "$cond": {
                        "if": sliding_rollover_due(expiry_ms),
                        "then": { "$ifNull": ["$currentCount", 0] },
                        "else": { "$ifNull": ["$previousCount", 0] },
                    }
                },
            }
        },
        doc! {
            "$set": {
                "currentCount": {
                    "$cond": {
                        "if": sliding_rollover_due(expiry_ms),
                        "then": 0,
                        "else": { "$ifNull": ["$currentCount", 0] },
                    }
                },
                "expireAt": {
                    "$cond": {
                        "if": sliding_rollover_due(expiry_ms),
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

/// Sliding window counter `acquire_sliding_window_entry`: one upserting pipeline that rolls the
/// buckets over, computes `floor(previous × max(0, expireAt − ($$NOW + expiry)) / expiry +
/// current)`, adds `cost` to the current bucket if that plus `cost` stays within `amount`, and
/// records the outcome in `_acquired`. The caller checks `cost <= amount` first.
pub(crate) fn sliding_window_acquire(
    key: &str,
    amount: u64,
    expiry_seconds: u64,
    cost: u64,
) -> FindOneAndUpdate {
    let expiry_ms = expiry_millis(expiry_seconds);
    let [previous, current] = sliding_window_rollover_stages(expiry_ms);
    let fits = doc! { "$lte": [{ "$add": ["$curWeightedCount", int(cost)] }, int(amount)] };
    FindOneAndUpdate {
        filter: doc! { "_id": key },
        update: Update::Pipeline(vec![
            sliding_window_expired_stage(),
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
                                                {
                                                    "$max": [
                                                        0,
                                                        {
                                                            "$subtract": [
                                                                "$expireAt",
                                                                { "$add": ["$$NOW", expiry_ms] },
                                                            ]
                                                        },
                                                    ]
                                                },
                                                expiry_ms,
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
                            "then": { "$add": ["$currentCount", int(cost)] },
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
}

/// Sliding window counter `get_sliding_window`: the same roll-over, without upsert (a missing
/// key stays missing), returning the counts and `expireAt`.
pub(crate) fn sliding_window_read(key: &str, expiry_seconds: u64) -> FindOneAndUpdate {
    let [previous, current] = sliding_window_rollover_stages(expiry_millis(expiry_seconds));
    FindOneAndUpdate {
        filter: doc! { "_id": key },
        update: Update::Pipeline(vec![sliding_window_expired_stage(), previous, current]),
        upsert: false,
        return_document: Return::After,
        projection: Some(doc! { "currentCount": 1, "previousCount": 1, "expireAt": 1 }),
    }
}

/// The TTL index both collections carry: documents go once `expireAt` has passed.
pub(crate) fn ttl_index_keys() -> Document {
    doc! { "expireAt": 1 }
}

/// `ping`, the reachability check (`limits` calls `server_info()`, i.e. `buildInfo`).
pub(crate) fn ping() -> Document {
    doc! { "ping": 1 }
}
