//! placeholder

pub mod uri;
