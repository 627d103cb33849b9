//! The backend contract, run against the memory backends (the Cloudflare backends run the same
//! checks inside workerd).

mod common;

use common::backends::{CountingHub, CountingStore};
use mcp_edge_session::{contract, MemoryHub, MemoryStore};

#[tokio::test]
async fn memory_store_meets_the_contract() {
    contract::check_store(&MemoryStore::new()).await.unwrap();
}

#[tokio::test]
async fn memory_hub_meets_the_contract() {
    contract::check_hub(&MemoryHub::new()).await.unwrap();
}

#[tokio::test]
async fn test_wrappers_meet_the_contract() {
    contract::check_store(&CountingStore::default())
        .await
        .unwrap();
    contract::check_hub(&CountingHub::default()).await.unwrap();
}

#[tokio::test]
async fn a_broken_backend_fails_the_contract() {
    let failure = contract::check_store(&common::backends::FailingStore)
        .await
        .unwrap_err();
    assert!(failure.reason.contains("store down"), "{failure}");
    assert!(contract::check_hub(&common::backends::FailingHub)
        .await
        .is_err());
}
