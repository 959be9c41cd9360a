pub use limiter_core as core;
