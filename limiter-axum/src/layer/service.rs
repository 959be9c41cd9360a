//! [`LimiterService`]: the layer's service — the same check as a routed handler's
//! ([`check_now`], else [`check_later`]), in front of any service over `http::Request`.

use super::grpc::{is_grpc, to_grpc_status};
use super::table::RouteTable;
use crate::check::{check_later, check_now, write_headers, HeaderInfo, Immediate, ResolvedRoute};
use crate::{Request, Response};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::MatchedPath;
use axum::http;
use axum::BoxError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A service wrapped by [`LimiterLayer`](super::LimiterLayer): every request is checked against
/// its route's limits before `S` sees it; a rejected request never reaches `S`.
#[derive(Clone)]
pub struct LimiterService<S> {
    inner: S,
    table: Arc<RouteTable>,
}

impl<S> std::fmt::Debug for LimiterService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimiterService").finish_non_exhaustive()
    }
}

impl<S> LimiterService<S> {
    pub(super) fn new(inner: S, table: Arc<RouteTable>) -> Self {
        LimiterService { inner, table }
    }
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for LimiterService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // After routing (`route_layer`), the route's pattern; before it, the path itself.
        let cell = {
            let path = match request.extensions().get::<MatchedPath>() {
                Some(matched) => matched.as_str(),
                None => request.uri().path(),
            };
            self.table.route(path, request.method())
        };
        let grpc = is_grpc(&request);
        // The check reads the request's head only: it sees it with an empty body (no
        // allocation), and the service gets the request back with its own body.
        let (parts, body) = request.into_parts();
        let mut head = Request::from_parts(parts, Body::empty());
        let state = match check_now(&cell, &head) {
            Immediate::Serve(headers, current) => {
                if let Some(current) = current {
                    head.extensions_mut().insert(current);
                }
                let (parts, _) = head.into_parts();
                State::Inner {
                    future: self.inner.call(http::Request::from_parts(parts, body)),
                    headers,
                }
            }
            Immediate::Respond(response) => State::Ready {
                response: Some(response),
            },
            Immediate::Later => {
                // The clone is not known to be ready: keep the one `poll_ready` readied.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                State::Boxed {
                    future: Box::pin(async move {
                        let mut failure = None;
                        let slot = &mut failure;
                        let response = check_later(cell, head, move |head: Request| {
                            let (parts, _) = head.into_parts();
                            let future = inner.call(http::Request::from_parts(parts, body));
                            async move {
                                match future.await {
                                    Ok(response) => response.map(Body::new),
                                    Err(error) => {
                                        *slot = Some(error);
                                        Response::default()
                                    }
                                }
                            }
                        })
                        .await;
                        match failure {
                            Some(error) => Err(error),
                            None => Ok(response),
                        }
                    }),
                }
            }
        };
        ResponseFuture { state, grpc }
    }
}

/// The boxed check of a request that waits on the storage, with the service's call inside.
type BoxFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of [`LimiterService`]: the service's own future (plus the rate-limit headers)
    /// when the decision was taken at once, a ready rejection, or the boxed check.
    pub struct ResponseFuture<F, E> {
        #[pin]
        state: State<F, E>,
        grpc: bool,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProjection]
    enum State<F, E> {
        Inner {
            #[pin]
            future: F,
            headers: Option<(Arc<ResolvedRoute>, HeaderInfo)>,
        },
        Ready { response: Option<Response> },
        Boxed { future: BoxFuture<E> },
    }
}

impl<F, E> std::fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, E, ResBody> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProjection::Inner { future, headers } => {
                let mut response = std::task::ready!(future.poll(cx))?.map(Body::new);
                if let Some((route, header)) = headers.take() {
                    write_headers(&route.core, &mut response, header);
                }
                return Poll::Ready(Ok(response));
            }
            StateProjection::Ready { response } => match response.take() {
                Some(response) => response,
                None => panic!("ResponseFuture polled after completion"),
            },
            StateProjection::Boxed { future } => std::task::ready!(future.as_mut().poll(cx))?,
        };
        Poll::Ready(Ok(if *this.grpc {
            to_grpc_status(response)
        } else {
            response
        }))
    }
}
