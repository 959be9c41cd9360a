//! [`LimitFuture`]: the future of a limited handler.

use super::headers::{write_headers, HeaderInfo};
use super::route::ResolvedRoute;
use crate::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The boxed check of a request that waits on the storage, with the handler inside.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

pin_project_lite::pin_project! {
    /// The future of [`LimitedHandler`](super::LimitedHandler): when the decision was taken in
    /// `call` (memory storage), the future is the handler's own (plus the headers to add) or the
    /// ready 429, with nothing boxed; a check that waits on the storage, or counts after the
    /// response (`deduct_when`), is a boxed future.
    #[project = LimitFutureProjection]
    pub(crate) enum LimitFuture<F> {
        /// The request passed: the handler's future, then the rate-limit headers, if enabled.
        Inner {
            #[pin]
            future: F,
            headers: Option<(Arc<ResolvedRoute>, HeaderInfo)>,
        },
        /// Answered without the handler (a 429, or a failure-mode status).
        Ready { response: Option<Response> },
        /// The check waits on the storage.
        Boxed { future: BoxFuture },
    }
}

impl<F> Future for LimitFuture<F>
where
    F: Future<Output = Response>,
{
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            LimitFutureProjection::Inner { future, headers } => {
                let mut response = std::task::ready!(future.poll(cx));
                if let Some((route, header)) = headers.take() {
                    write_headers(&route.core, &mut response, header);
                }
                Poll::Ready(response)
            }
            LimitFutureProjection::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(response),
                None => panic!("LimitFuture polled after completion"),
            },
            LimitFutureProjection::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}
