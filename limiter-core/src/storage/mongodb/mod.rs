//! MongoDB storage (`mongodb://`, `mongodb+srv://`), compatible with Python `limits`
//! deployments. Built with the Cargo feature `mongodb`, which is **off by default** because the
//! official driver takes minutes to compile:
//!
//! ```toml
//! limiter-core = { version = "0.1", features = ["mongodb"] }
//! ```
//!
//! * **Shared with Python**: the database (`limits`), the collections (`counters`, `windows`), the
//!   documents and the update pipelines are those of `limits`' `MongoDBStorage`, so a
//!   Flask-Limiter service and ours on one database enforce one limit. One deliberate
//!   difference: the sliding-window pipelines first treat a document whose `expireAt` has passed
//!   (still there because MongoDB's TTL monitor runs once a minute) as absent, where `limits`
//!   rolls it over once (which can over-admit); once the TTL monitor has run, both coincide.
//!   Moving-window hits send `limits`' filter and update with `findAndModify` (returning the
//!   document) instead of `update_one`, so an admitted hit learns its remaining amount and reset
//!   time in the same round trip; concurrent first hits of a key are retried rather than
//!   rejected by the duplicate key error of the losing insert.
//! * **Atomic**: every decision is one server-side command on one document (an upserting
//!   `findAndModify`, mostly with an update pipeline evaluated with the server's `$$NOW`).
//! * **Round trips**: one per hit. A request checked against several limits costs one command
//!   per limit, sent in order (and stopped at the first rejection when asked): MongoDB has no
//!   multi-document `findAndModify`, and neither a `bulkWrite` (which returns no documents, so no
//!   decisions) nor a transaction (several round trips, and a replica set needed) would be
//!   equivalent. A rejected moving-window hit costs a second command (the aggregation that gives
//!   its remaining amount and reset time).
//! * **Bounded**: [`MongoDbStorage::connect`] pings the server and creates the TTL indexes within
//!   the timeout ([`DEFAULT_TIMEOUT`] unless [configured](MongoDbStorageBuilder::timeout)); every
//!   later operation is bounded by the same timeout (and so is the driver's server selection),
//!   giving [`StorageError::Timeout`] or [`StorageError::Backend`], never a panic or a hang.
//! * **The true cause at start-up**: a failure to open is a [`StorageError::Connect`] with the
//!   URI's password masked and a [`ConnectFailure`](crate::ConnectFailure): `Refused` (nothing
//!   listens, or the host does not resolve; reported as soon as every seed host's heartbeat
//!   failed, not after the timeout), `Timeout` (nothing answered in time), `Tls` (the handshake
//!   or the certificate check failed), `Authentication` (credentials refused or missing: the
//!   server's codes 18 and 13), `Database` (a database name the server refuses: code 73), `Other`.
//!   Authentication and database could not be tested against a MongoDB server (none can run on
//!   the project's machines): their classification is unit-tested on the server's error codes;
//!   the other causes are tested over real sockets.
//!   The driver's error shapes: `connect_failure.rs`.
//! * **TTL indexes**: `{expireAt: 1}` with `expireAfterSeconds: 0` on both collections, created
//!   at connect (idempotent when they exist), and again after [`Storage::reset`](super::Storage::reset)
//!   drops the collections (`limits` creates them once per client, so after its `reset` they are
//!   gone until a restart).

pub(crate) mod commands;
mod connect_failure;
mod documents;

use super::backend::Backend;
use super::error::StorageError;
use super::hit::{AdmittedReset, Decisions, Hit};
use crate::clock::Timestamp;
use crate::notation::RateLimit;
use crate::strategy::Strategy;
use crate::strategy::{Decision, WindowStats};
use ::mongodb::bson::Document;
use ::mongodb::error::{ErrorKind, WriteFailure};
use ::mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use ::mongodb::{Client, Collection, IndexModel};
use commands::{FindOneAndUpdate, Return, Update};
use documents::{
    count, expire_at_millis, moving_window_from_entries, moving_window_stats, number,
    timestamp_from_millis, SlidingState,
};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The database `limits` uses: `limits`.
pub const DEFAULT_DATABASE_NAME: &str = "limits";
/// The fixed-window collection `limits` uses: `counters`.
pub const DEFAULT_COUNTER_COLLECTION_NAME: &str = "counters";
/// The moving- and sliding-window collection `limits` uses: `windows`.
pub const DEFAULT_WINDOW_COLLECTION_NAME: &str = "windows";
/// How long one operation (or connecting) may take unless configured otherwise: 1 second.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The scheme name reported in errors.
const BACKEND: &str = "mongodb";
/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;
/// How often a decision is retried after a duplicate key error from a concurrent first insert.
const UPSERT_ATTEMPTS: usize = 3;

/// Rate-limit storage on MongoDB (`mongodb://`, `mongodb+srv://`).
///
/// Cloning is cheap and shares the client (and its connection pool).
///
/// ```no_run
/// use limiter_core::storage::MongoDbStorage;
/// use limiter_core::{RateLimiter, Strategy};
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = MongoDbStorage::builder("mongodb://127.0.0.1:27017")
///     .database_name("limits")
///     .timeout(Duration::from_millis(500))
///     .build()
///     .await?;
/// let limiter = RateLimiter::new(Strategy::MovingWindow, storage)?;
/// let limit = "10 per minute".parse()?;
/// let allowed = limiter.hit(&limit, &["127.0.0.1", "index"], 1).await?;
/// # let _ = allowed;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MongoDbStorage {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    counters: Collection<Document>,
    windows: Collection<Document>,
    timeout: Duration,
}

impl fmt::Debug for MongoDbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MongoDbStorage")
            .field("database", &self.inner.counters.namespace().db)
            .field("counters", &self.inner.counters.name())
            .field("windows", &self.inner.windows.name())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Configures a [`MongoDbStorage`]; see [`MongoDbStorage::builder`].
#[derive(Debug, Clone)]
pub struct MongoDbStorageBuilder {
    uri: String,
    database_name: String,
    counter_collection_name: String,
    window_collection_name: String,
    timeout: Duration,
}

impl MongoDbStorageBuilder {
    /// The database. Defaults to [`DEFAULT_DATABASE_NAME`] (`limits`), as `limits`'
    /// `database_name` option.
    pub fn database_name(mut self, name: impl Into<String>) -> Self {
        self.database_name = name.into();
        self
    }

    /// The fixed-window collection. Defaults to [`DEFAULT_COUNTER_COLLECTION_NAME`]
    /// (`counters`), as `limits`' `counter_collection_name` option.
    pub fn counter_collection_name(mut self, name: impl Into<String>) -> Self {
        self.counter_collection_name = name.into();
        self
    }

    /// The moving- and sliding-window collection. Defaults to
    /// [`DEFAULT_WINDOW_COLLECTION_NAME`] (`windows`), as `limits`' `window_collection_name`.
    pub fn window_collection_name(mut self, name: impl Into<String>) -> Self {
        self.window_collection_name = name.into();
        self
    }

    /// The longest one operation (connecting included) may take. Defaults to
    /// [`DEFAULT_TIMEOUT`]. It also becomes the driver's server selection and connect timeouts,
    /// unless the URI sets them (`serverSelectionTimeoutMS`, `connectTimeoutMS`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Creates the client, pings the server and creates the TTL indexes, each step within the
    /// timeout.
    ///
    /// # Errors
    ///
    /// [`StorageError::Connect`] with the URI's password masked and the cause classified (see
    /// [`ConnectFailure`](crate::ConnectFailure)): `Refused` when nothing listens or the host does
    /// not resolve (reported as soon as every seed host's first heartbeat failed, not after the
    /// timeout), `Timeout` when nothing answered in time, `Tls` for a failed TLS handshake or
    /// certificate, `Authentication` for refused or missing credentials, `Database` for a
    /// database name the server refuses, `Other` for anything else.
    pub async fn build(self) -> Result<MongoDbStorage, StorageError> {
        let timeout = self.timeout;
        // Parsing resolves a `mongodb+srv` URI's hosts (DNS), so it is bounded too.
        let mut options = match tokio::time::timeout(timeout, ClientOptions::parse(&self.uri)).await
        {
            Ok(Ok(options)) => options,
            Ok(Err(error)) => return Err(connect_failure::before_client(&self.uri, error)),
            Err(_) => return Err(connect_failure::timed_out(&self.uri, timeout)),
        };
        options.server_selection_timeout.get_or_insert(timeout);
        options.connect_timeout.get_or_insert(timeout);
        let startup = connect_failure::Startup::watch(&self.uri, &mut options);
        let client = Client::with_options(options)
            .map_err(|error| connect_failure::before_client(&self.uri, error))?;
        let database = client.database(&self.database_name);
        let storage = MongoDbStorage {
            inner: Arc::new(Inner {
                counters: database.collection(&self.counter_collection_name),
                windows: database.collection(&self.window_collection_name),
                client,
                timeout,
            }),
        };
        startup
            .prove(async {
                storage.ping().await?;
                storage.create_indexes().await
            })
            .await?;
        Ok(storage)
    }
}

/// Runs `operation` within `timeout`.
async fn bounded<T>(
    timeout: Duration,
    operation: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(result) => result,
        Err(_) => Err(StorageError::Timeout {
            backend: BACKEND,
            timeout,
        }),
    }
}

fn backend_error(error: ::mongodb::error::Error) -> StorageError {
    StorageError::Backend {
        backend: BACKEND,
        source: Box::new(error),
    }
}

fn is_duplicate_key(error: &::mongodb::error::Error) -> bool {
    match &*error.kind {
        ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        ErrorKind::Write(WriteFailure::WriteError(write)) => write.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// The time of one operation, read once: in whole milliseconds for the commands (BSON dates
/// have millisecond precision) and precisely for the "now" the operation reports, so that a
/// reset time of "now" is never before a clock reading taken before the call.
#[derive(Debug, Clone, Copy)]
struct Now {
    millis: i64,
    stamp: Timestamp,
}

/// One hit, as the commands take it.
#[derive(Debug, Clone, Copy)]
struct HitAt<'a> {
    /// The `limits` key.
    key: &'a str,
    /// The limit's amount.
    amount: u64,
    /// The limit's window, in whole seconds.
    expiry: u64,
    /// What the hit deducts.
    cost: u64,
    /// When it is decided.
    now: Now,
}

impl Now {
    fn read() -> Now {
        let stamp = Timestamp::from(SystemTime::now());
        Now {
            millis: i64::try_from(stamp.as_nanos() / 1_000_000).unwrap_or(i64::MAX),
            stamp,
        }
    }
}

impl MongoDbStorage {
    /// Starts configuring a storage on the MongoDB that `uri` names (`mongodb://…` or
    /// `mongodb+srv://…`, passed to the driver as it is).
    pub fn builder(uri: impl Into<String>) -> MongoDbStorageBuilder {
        MongoDbStorageBuilder {
            uri: uri.into(),
            database_name: DEFAULT_DATABASE_NAME.to_owned(),
            counter_collection_name: DEFAULT_COUNTER_COLLECTION_NAME.to_owned(),
            window_collection_name: DEFAULT_WINDOW_COLLECTION_NAME.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Connects with the default options (see [`MongoDbStorageBuilder::build`]).
    pub async fn connect(uri: impl Into<String>) -> Result<MongoDbStorage, StorageError> {
        MongoDbStorage::builder(uri).build().await
    }

    /// The configured timeout of one operation.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The driver's client, e.g. to inspect the collections.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    async fn ping(&self) -> Result<(), StorageError> {
        let database = self.inner.counters.namespace().db;
        let client = self.inner.client.clone();
        bounded(self.inner.timeout, async move {
            client
                .database(&database)
                .run_command(commands::ping())
                .await
                .map(drop)
                .map_err(backend_error)
        })
        .await
    }

    async fn create_indexes(&self) -> Result<(), StorageError> {
        let index = || {
            IndexModel::builder()
                .keys(commands::ttl_index_keys())
                .options(IndexOptions::builder().expire_after(Duration::ZERO).build())
                .build()
        };
        bounded(self.inner.timeout, async {
            self.inner
                .counters
                .create_index(index())
                .await
                .map_err(backend_error)?;
            self.inner
                .windows
                .create_index(index())
                .await
                .map_err(backend_error)?;
            Ok(())
        })
        .await
    }

    /// Sends one `findAndModify`, within the timeout; `Ok(Err(()))` on a duplicate key error.
    async fn find_one_and_update(
        &self,
        collection: &Collection<Document>,
        command: FindOneAndUpdate,
    ) -> Result<Result<Option<Document>, DuplicateKey>, StorageError> {
        let FindOneAndUpdate {
            filter,
            update,
            upsert,
            return_document,
            projection,
        } = command;
        let mut action = match update {
            Update::Document(update) => collection.find_one_and_update(filter, update),
            Update::Pipeline(pipeline) => collection.find_one_and_update(filter, pipeline),
        }
        .upsert(upsert)
        .return_document(match return_document {
            Return::After => ReturnDocument::After,
        });
        if let Some(projection) = projection {
            action = action.projection(projection);
        }
        bounded(self.inner.timeout, async {
            match action.await {
                Ok(document) => Ok(Ok(document)),
                Err(error) if is_duplicate_key(&error) => Ok(Err(DuplicateKey)),
                Err(error) => Err(backend_error(error)),
            }
        })
        .await
    }

    /// An upserting `findAndModify` whose filter is `{_id: key}`: a duplicate key error can only
    /// come from a concurrent first insert of the same key, so it is retried.
    async fn upsert_by_id(
        &self,
        collection: &Collection<Document>,
        command: FindOneAndUpdate,
    ) -> Result<Option<Document>, StorageError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .find_one_and_update(collection, command.clone())
                .await?
            {
                Ok(document) => return Ok(document),
                Err(DuplicateKey) if attempts < UPSERT_ATTEMPTS => continue,
                Err(DuplicateKey) => {
                    return Err(StorageError::Backend {
                        backend: BACKEND,
                        source: "duplicate key error on every attempt of an upsert by _id".into(),
                    })
                }
            }
        }
    }

    async fn find_one(
        &self,
        collection: &Collection<Document>,
        filter: Document,
    ) -> Result<Option<Document>, StorageError> {
        bounded(self.inner.timeout, async {
            collection.find_one(filter).await.map_err(backend_error)
        })
        .await
    }

    /// `get_moving_window`: the oldest entry in the window and how many there are.
    async fn moving_window(
        &self,
        key: &str,
        expiry_seconds: u64,
        now: i64,
    ) -> Result<(f64, u64), StorageError> {
        let pipeline = commands::moving_window_aggregation(key, expiry_seconds, now);
        let windows = &self.inner.windows;
        bounded(self.inner.timeout, async {
            let mut cursor = windows.aggregate(pipeline).await.map_err(backend_error)?;
            match cursor.advance().await.map_err(backend_error)? {
                true => {
                    let document: Document = cursor.deserialize_current().map_err(backend_error)?;
                    Ok((number(&document, "min"), count(&document, "count")))
                }
                false => Ok((commands::seconds(now), 0)),
            }
        })
        .await
    }

    async fn sliding_state(
        &self,
        key: &str,
        expiry_seconds: u64,
        now: i64,
    ) -> Result<SlidingState, StorageError> {
        let command = commands::sliding_window_read(key, expiry_seconds);
        // No upsert, so no duplicate key error can happen; it would read as a missing document.
        let document = self
            .find_one_and_update(&self.inner.windows, command)
            .await?
            .unwrap_or_default();
        Ok(SlidingState::from_document(
            document.as_ref(),
            commands::expiry_millis(expiry_seconds),
            now,
        ))
    }

    async fn acquire_hit(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        let key = hit.limit.key_for(hit.identifiers);
        let at = HitAt {
            key: &key,
            amount: hit.limit.amount(),
            expiry: hit.limit.expiry_seconds(),
            cost: hit.cost,
            now: Now::read(),
        };
        match strategy {
            Strategy::FixedWindow => self.acquire_fixed(&at).await,
            Strategy::MovingWindow => self.acquire_moving(&at).await,
            Strategy::SlidingWindowCounter => self.acquire_sliding(&at).await,
            Strategy::Gcra { .. } => Err(unsupported(strategy)),
        }
    }

    /// A fixed-window hit: `limits`' increment pipeline on the counter document.
    async fn acquire_fixed(&self, at: &HitAt<'_>) -> Result<Decision, StorageError> {
        let HitAt {
            key,
            amount,
            expiry,
            cost,
            now,
        } = *at;
        let command = commands::fixed_window_update(key, expiry, cost, now.millis);
        let document = self
            .upsert_by_id(&self.inner.counters, command)
            .await?
            .unwrap_or_default();
        let count = count(&document, "count");
        let reset = expire_at_millis(&document).map_or(now.stamp, timestamp_from_millis);
        Ok(Decision {
            allowed: count <= amount,
            remaining: amount.saturating_sub(count),
            reset_at: reset,
        })
    }

    /// A moving-window hit: `limits`' filter and update, retried after a concurrent first insert.
    async fn acquire_moving(&self, at: &HitAt<'_>) -> Result<Decision, StorageError> {
        let HitAt {
            key,
            amount,
            expiry,
            cost,
            now,
        } = *at;
        let mut attempts = 0;
        loop {
            attempts += 1;
            if cost <= amount {
                let command =
                    commands::moving_window_acquire(key, amount, expiry, cost, now.millis);
                if let Ok(document) = self
                    .find_one_and_update(&self.inner.windows, command)
                    .await?
                {
                    let cutoff = commands::seconds(now.millis) - expiry as f64;
                    let (oldest, count) =
                        moving_window_from_entries(&document.unwrap_or_default(), cutoff);
                    let stats = moving_window_stats(amount, expiry, now.stamp, oldest, count);
                    return Ok(stats.decision(true));
                }
            }
            // Rejected by the duplicate key error: the window is full, unless a
            // concurrent first hit inserted the document between our filter and our
            // insert (then there is room and we try again, against the document).
            let (oldest, count) = self.moving_window(key, expiry, now.millis).await?;
            let room = cost <= amount && count <= amount - cost;
            if room && attempts < UPSERT_ATTEMPTS {
                continue;
            }
            let stats = moving_window_stats(amount, expiry, now.stamp, oldest, count);
            return Ok(stats.decision(false));
        }
    }

    /// A sliding-window hit: the roll-over, weighing and counting pipeline on the window document.
    async fn acquire_sliding(&self, at: &HitAt<'_>) -> Result<Decision, StorageError> {
        let HitAt {
            key,
            amount,
            expiry,
            cost,
            now,
        } = *at;
        let expiry_ms = commands::expiry_millis(expiry);
        if cost > amount {
            let stats = self
                .sliding_state(key, expiry, now.millis)
                .await?
                .stats(amount, expiry_ms, now.stamp);
            return Ok(stats.decision(false));
        }
        let command = commands::sliding_window_acquire(key, amount, expiry, cost);
        let document = self.upsert_by_id(&self.inner.windows, command).await?;
        let allowed = document
            .as_ref()
            .and_then(|document| document.get_bool("_acquired").ok())
            .unwrap_or(false);
        let stats = SlidingState::from_document(document.as_ref(), expiry_ms, now.millis)
            .stats(amount, expiry_ms, now.stamp);
        Ok(stats.decision(allowed))
    }

    /// `get` and `get_expiry` of the fixed window in one read: the count while the window is
    /// open (`expireAt >= now`), else 0, and the end of the window (now when closed).
    async fn fixed_window_count(
        &self,
        key: &str,
        now: Now,
    ) -> Result<(u64, Timestamp), StorageError> {
        let document = self
            .find_one(&self.inner.counters, commands::counter_filter(key))
            .await?;
        Ok(
            match document.as_ref().and_then(|document| {
                expire_at_millis(document).map(|expire_at| (document, expire_at))
            }) {
                Some((document, expire_at)) if expire_at >= now.millis => {
                    (count(document, "count"), timestamp_from_millis(expire_at))
                }
                _ => (0, now.stamp),
            },
        )
    }
}

/// The contract: one server-side command per hit.
impl Backend for MongoDbStorage {
    fn name(&self) -> &'static str {
        BACKEND
    }

    /// Not GCRA (not written for MongoDB yet): every other strategy.
    fn supports(&self, strategy: Strategy) -> bool {
        !matches!(strategy, Strategy::Gcra { .. })
    }

    async fn acquire(
        &self,
        strategy: Strategy,
        hits: &[Hit<'_>],
        stop_at_first_breach: bool,
        _admitted_reset: AdmittedReset,
    ) -> Result<Decisions, StorageError> {
        let mut decisions = Decisions::new();
        for hit in hits {
            let decision = self.acquire_hit(strategy, hit).await?;
            decisions.push(decision);
            if stop_at_first_breach && !decision.allowed {
                break;
            }
        }
        Ok(decisions)
    }

    async fn acquire_one(
        &self,
        strategy: Strategy,
        hit: &Hit<'_>,
    ) -> Result<Decision, StorageError> {
        self.acquire_hit(strategy, hit).await
    }

    async fn test(&self, strategy: Strategy, hit: Hit<'_>) -> Result<bool, StorageError> {
        let amount = hit.limit.amount();
        if hit.cost > amount {
            return Ok(false);
        }
        let key = hit.limit.key_for(hit.identifiers);
        let expiry = hit.limit.expiry_seconds();
        let now = Now::read();
        match strategy {
            Strategy::FixedWindow => {
                let current = self.fixed_window_count(&key, now).await?.0;
                Ok(current.saturating_add(hit.cost) <= amount)
            }
            Strategy::MovingWindow => {
                let (_, count) = self.moving_window(&key, expiry, now.millis).await?;
                Ok(count <= amount - hit.cost)
            }
            Strategy::SlidingWindowCounter => {
                let state = self.sliding_state(&key, expiry, now.millis).await?;
                let weighted = state.weighted_floor(commands::expiry_millis(expiry));
                Ok(weighted.saturating_add(hit.cost) <= amount)
            }
            Strategy::Gcra { .. } => Err(unsupported(strategy)),
        }
    }

    async fn window_stats(
        &self,
        strategy: Strategy,
        limit: &RateLimit,
        identifiers: &[&str],
    ) -> Result<WindowStats, StorageError> {
        let key = limit.key_for(identifiers);
        let amount = limit.amount();
        let expiry = limit.expiry_seconds();
        let now = Now::read();
        match strategy {
            Strategy::FixedWindow => {
                let (count, expire_at) = self.fixed_window_count(&key, now).await?;
                Ok(WindowStats {
                    remaining: amount.saturating_sub(count),
                    reset_at: expire_at,
                })
            }
            Strategy::MovingWindow => {
                let (oldest, count) = self.moving_window(&key, expiry, now.millis).await?;
                Ok(moving_window_stats(
                    amount, expiry, now.stamp, oldest, count,
                ))
            }
            Strategy::SlidingWindowCounter => {
                let expiry_ms = commands::expiry_millis(expiry);
                Ok(self
                    .sliding_state(&key, expiry, now.millis)
                    .await?
                    .stats(amount, expiry_ms, now.stamp))
            }
            Strategy::Gcra { .. } => Err(unsupported(strategy)),
        }
    }

    async fn clear(&self, limit: &RateLimit, identifiers: &[&str]) -> Result<(), StorageError> {
        let key = limit.key_for(identifiers);
        bounded(self.inner.timeout, async {
            self.inner
                .counters
                .delete_one(commands::counter_filter(&key))
                .await
                .map_err(backend_error)?;
            self.inner
                .windows
                .delete_one(commands::counter_filter(&key))
                .await
                .map_err(backend_error)?;
            Ok(())
        })
        .await
    }

    async fn reset(&self) -> Result<Option<u64>, StorageError> {
        let removed = bounded(self.inner.timeout, async {
            let counters = self
                .inner
                .counters
                .count_documents(Document::new())
                .await
                .map_err(backend_error)?;
            let windows = self
                .inner
                .windows
                .count_documents(Document::new())
                .await
                .map_err(backend_error)?;
            self.inner.counters.drop().await.map_err(backend_error)?;
            self.inner.windows.drop().await.map_err(backend_error)?;
            Ok(counters + windows)
        })
        .await?;
        self.create_indexes().await?;
        Ok(Some(removed))
    }

    async fn check(&self) -> bool {
        self.ping().await.is_ok()
    }
}

/// A duplicate key error: the upsert of a moving-window hit collided with the existing document.
#[derive(Debug)]
struct DuplicateKey;

/// The error for a strategy this backend does not carry out.
fn unsupported(strategy: Strategy) -> StorageError {
    StorageError::UnsupportedStrategy {
        strategy,
        backend: BACKEND,
    }
}

#[cfg(test)]
mod tests;
