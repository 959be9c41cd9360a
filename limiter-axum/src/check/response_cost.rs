//! [`ResponseCost`]: the cost a handler puts on its response, charged after it to the route's
//! [`cost_from_response`](crate::Limit::cost_from_response) limits.

use crate::core::Core;
use crate::Response;
use axum::response::{IntoResponseParts, ResponseParts};
use std::convert::Infallible;

/// The cost of a response, set by its handler, that the limiter charges after the response to
/// every [`cost_from_response`](crate::Limit::cost_from_response) limit of the route (e.g. the
/// tokens an LLM call used). The limiter takes it off the response.
///
/// ```
/// use axum::Json;
/// use limiter_axum::{limit, ResponseCost};
///
/// #[limit("10000 per hour", cost_from_response)]
/// async fn complete() -> (ResponseCost, Json<&'static str>) {
///     let tokens_used = 1_250;
///     (ResponseCost(tokens_used), Json("…"))
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseCost(pub u64);

impl IntoResponseParts for ResponseCost {
    type Error = Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Self::Error> {
        parts.extensions_mut().insert(self);
        Ok(parts)
    }
}

/// Takes the cost the handler set off `response`: the [`ResponseCost`] extension, else the
/// limiter's response-cost header (removed either way). `None` when it set none.
pub(crate) fn take_response_cost(core: &Core, response: &mut Response) -> Option<u64> {
    let extension = response.extensions_mut().remove::<ResponseCost>();
    let header = core
        .response_cost_header
        .as_ref()
        .and_then(|name| response.headers_mut().remove(name));
    if let Some(ResponseCost(cost)) = extension {
        return Some(cost);
    }
    let value = header?;
    let cost = value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok());
    if cost.is_none() {
        tracing::error!(
            ?value,
            "the response's cost header is not an integer; the limit's own cost is charged"
        );
    }
    cost
}
