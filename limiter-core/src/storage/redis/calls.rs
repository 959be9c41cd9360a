//! Script calls: a request's hits as script arguments, sent in as few calls as the topology
//! allows, through the coalescing task when there is one.

use super::batch;
use super::errors::unexpected;
use super::scripts::{Call, Mode, Records, Request, ScriptHit};
use super::storage::{Inner, RedisStorage};
use crate::storage::hit::Hit;
use crate::strategy::Strategy;
use redis::{Cmd, RedisResult, Value};
use std::future::Future;
use std::time::Duration;

impl Inner {
    /// One script call (EVALSHA, and SCRIPT LOAD + EVALSHA again after NOSCRIPT); returns the
    /// records of each of the call's requests, one per decided hit.
    pub(super) async fn eval(&self, call: &Call<'_>) -> RedisResult<Vec<Records>> {
        let arguments = call.arguments();
        let evalsha = call.evalsha(&arguments);
        let reply = match self.connection.query(&evalsha).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.connection.query(&call.load()).await?;
                self.connection.query(&evalsha).await?
            }
            other => other?,
        };
        let Value::BulkString(bytes) = reply else {
            return Err(unexpected("not a string"));
        };
        call.records(&bytes, &arguments)
            .ok_or_else(|| unexpected("wrong number of records"))
    }
}

/// The coalescing task sends its calls on the storage's connection.
impl batch::Target for Inner {
    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn eval(&self, call: &Call<'_>) -> impl Future<Output = RedisResult<Vec<Records>>> + Send {
        self.eval_any(call)
    }
}

impl RedisStorage {
    pub(super) fn script_hit(&self, strategy: Strategy, hit: &Hit<'_>) -> ScriptHit {
        ScriptHit {
            amount: hit.limit.amount(),
            expiry: hit.limit.expiry_seconds(),
            cost: hit.cost,
            keys: Self::keys_for(&self.inner.key_prefix, strategy, hit.limit, hit.identifiers),
        }
    }

    /// Sends one command to the server (standalone, sentinel master) or the node owning its keys.
    pub(super) async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        self.inner.connection.query(cmd).await
    }

    /// One script call for the hits of one request.
    async fn eval_one(
        &self,
        strategy: Strategy,
        now: f64,
        hits: &[ScriptHit],
        mode: Mode,
        peek: bool,
    ) -> RedisResult<Records> {
        let requests = [Request {
            hits: hits.len(),
            mode,
        }];
        let call = Call {
            strategy,
            now,
            peek,
            hits,
            requests: &requests,
        };
        let mut records = self.inner.eval_any(&call).await?;
        Ok(records.pop().unwrap_or_default())
    }

    /// Decides one request's `hits` in as few script calls as the topology allows (one, unless a
    /// cluster batch spans several slots: then one per slot, at once; see `cluster_calls.rs`).
    pub(super) async fn eval_batch(
        &self,
        strategy: Strategy,
        now: f64,
        hits: &[ScriptHit],
        mode: Mode,
        peek: bool,
    ) -> RedisResult<Records> {
        self.eval_one(strategy, now, hits, mode, peek).await
    }

    /// Decides one request's `hits`: through the coalescing task when there is one, else by
    /// [`eval_batch`](Self::eval_batch).
    pub(super) async fn decide(
        &self,
        strategy: Strategy,
        now: f64,
        hits: Vec<ScriptHit>,
        mode: Mode,
    ) -> RedisResult<Records> {
        let request = Request {
            hits: hits.len(),
            mode,
        };
        let hits = match &self.inner.batcher {
            Some(batcher) => match batcher.submit(strategy, request, hits) {
                Ok(records) => {
                    return records
                        .await
                        .unwrap_or_else(|_| Err(unexpected("the coalescing task stopped")));
                }
                Err(hits) => hits,
            },
            None => hits,
        };
        self.eval_batch(strategy, now, &hits, mode, false).await
    }
}
