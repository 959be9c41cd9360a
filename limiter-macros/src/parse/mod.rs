//! The attributes' arguments, read into typed structures before any code is generated.
//!
//! Everything the macros reject is rejected here, with the error spanned at the token at fault
//! (the limit string, the option's name or value, the function's generics), so that
//! [`expand`](crate::expand) only ever sees valid input.

mod exempt;
mod handler;
mod limit;
mod option;

pub(crate) use exempt::ExemptArgs;
pub(crate) use handler::check_handler;
pub(crate) use limit::{Cost, LimitArgs, SharedLimitArgs};
