//! The behavioural suite against the in-process storage.

use limiter_core::{MemoryStorage, Storage};

async fn open() -> Option<Storage> {
    Some(MemoryStorage::new().into())
}

limiter_tests::storage_suite!(open);
