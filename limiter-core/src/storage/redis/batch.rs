//! Coalescing: the script calls of concurrent requests leave as one call.
//!
//! Each request hands its hits to one task per storage. The task takes what has queued up,
//! sends it as one `EVALSHA` whose script decides every request's hits in order (each request
//! keeps its own stop-at-first-breach), and deals the records back. Nothing waits for a batch to
//! fill or for a timer: woken by a request, the task yields once to the scheduler, so that the
//! requests already runnable on this worker queue up too, then sends what it has. A request alone
//! goes out after that one yield; under load a call carries many (measured: about 16 one-limit
//! requests per call with 64 connections, where without the yield it was one). The server then
//! parses, looks up and starts one script where it did many, and the client encodes and parses
//! one command; a batch is as atomic as a single request's call, so counts stay exact.
//!
//! On a cluster, a batch is sent as one call per hash slot, all at once (`cluster_calls.rs`).

use super::scripts::{Call, Records, Request, ScriptHit};
use super::storage::{Inner, RedisStorage};
use crate::strategy::Strategy;
use redis::{RedisError, RedisResult};
use std::sync::Weak;
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};

/// At most this many hits go in one call: a script blocks the server while it runs (a fixed
/// window hit takes it about 2 µs).
const MAX_HITS_PER_CALL: usize = 128;

/// One request waiting for its records.
pub(super) struct Pending {
    strategy: Strategy,
    request: Request,
    hits: Vec<ScriptHit>,
    reply: oneshot::Sender<RedisResult<Records>>,
}

/// The queue to a storage's coalescing task.
#[derive(Debug)]
pub(super) struct Batcher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Batcher {
    /// Starts the coalescing task of the storage `inner` on the current tokio runtime; `None`
    /// outside one (calls are then sent one by one). The task ends when the storage is dropped.
    pub(super) fn start(inner: Weak<Inner>) -> Option<Batcher> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (queue, receiver) = mpsc::unbounded_channel();
        runtime.spawn(run(inner, receiver));
        Some(Batcher { queue })
    }

    /// Queues one request's hits; its records arrive on the returned receiver. Gives the hits
    /// back if the task is gone (its runtime was shut down), for the caller to send them itself.
    pub(super) fn submit(
        &self,
        strategy: Strategy,
        request: Request,
        hits: Vec<ScriptHit>,
    ) -> Result<oneshot::Receiver<RedisResult<Records>>, Vec<ScriptHit>> {
        let (reply, receiver) = oneshot::channel();
        let pending = Pending {
            strategy,
            request,
            hits,
            reply,
        };
        match self.queue.send(pending) {
            Ok(()) => Ok(receiver),
            Err(mpsc::error::SendError(pending)) => Err(pending.hits),
        }
    }
}

/// The coalescing task: takes everything queued, one call per strategy, each sent on a task of
/// its own so that a slow call does not hold back the next batch.
async fn run(inner: Weak<Inner>, mut receiver: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        // Lets the requests that are ready to run queue up behind the first.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        let mut hits = batch[0].hits.len();
        while hits < MAX_HITS_PER_CALL {
            match receiver.try_recv() {
                Ok(pending) => {
                    hits += pending.hits.len();
                    batch.push(pending);
                }
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let storage = RedisStorage { inner };
        // Almost always one strategy per storage; mixed batches split by strategy.
        while !batch.is_empty() {
            let strategy = batch[0].strategy;
            let (same, rest): (Vec<Pending>, Vec<Pending>) = batch
                .into_iter()
                .partition(|pending| pending.strategy == strategy);
            batch = rest;
            tokio::spawn(send(storage.clone(), strategy, same));
        }
    }
}

/// Sends one batch as one script call and deals out the records, or the error to every request.
async fn send(storage: RedisStorage, strategy: Strategy, batch: Vec<Pending>) {
    let mut hits = Vec::with_capacity(batch.iter().map(|pending| pending.hits.len()).sum());
    let mut requests = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for pending in batch {
        hits.extend(pending.hits);
        requests.push(pending.request);
        replies.push(pending.reply);
    }
    let call = Call {
        strategy,
        now: crate::clock::Timestamp::from(SystemTime::now()).as_secs_f64(),
        peek: false,
        hits: &hits,
        requests: &requests,
    };
    // Bounded like the requests themselves, which have given up by then: a call stuck on a
    // reconnecting connection must not outlive them.
    let dealt = match tokio::time::timeout(storage.inner.timeout, storage.eval_any(&call)).await {
        Ok(dealt) => dealt,
        // A request whose own timer fires in the same tick may still listen: it must hear of a
        // timeout, not of a task that stopped.
        Err(_) => Err(timed_out()),
    };
    match dealt {
        Ok(dealt) => {
            for (reply, records) in replies.into_iter().zip(dealt) {
                // A request that has timed out no longer listens.
                let _ = reply.send(Ok(records));
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

/// The error a coalesced call that ran out of time gives each request: a timeout, which
/// [`bounded`](super::errors::bounded) reports as [`StorageError::Timeout`](crate::StorageError::Timeout).
fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the rate-limit script call timed out",
    ))
}

#[cfg(test)]
mod tests {
    use super::timed_out;
    use crate::storage::error::StorageError;
    use std::time::Duration;

    #[tokio::test]
    async fn a_coalesced_call_that_times_out_reads_as_a_timeout() {
        let timeout = Duration::from_millis(5);
        let reported =
            super::super::errors::bounded("redis", timeout, async { Err::<(), _>(timed_out()) })
                .await;
        assert!(
            matches!(
                reported,
                Err(StorageError::Timeout {
                    backend: "redis",
                    ..
                })
            ),
            "{reported:?}"
        );
    }
}
