//! Session ids are bearer secrets: whatever the layer logs about a session names it by its
//! tag, never by its id.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use http::StatusCode;
use mcp_edge_session::SessionId;
use serde_json::json;

/// Everything logged while the guard lives, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_name_sessions_by_tag_only() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let service = memory_fixture();
    let id = initialize(&service, LATEST).await;
    // A client response nobody waits for, then the end of the session: both are logged.
    let stray = json!({ "jsonrpc": "2.0", "id": "srv-unknown", "result": {} });
    let response = send(&service, post_request(Some(&id), stray)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let response = send(&service, delete_request(&id)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let tag = id.parse::<SessionId>().unwrap().log_tag().to_string();
    assert!(
        logs.contains(&tag),
        "sessions are named in the logs: {logs}"
    );
    assert!(
        !logs.contains(&id),
        "the session id leaked into the logs: {logs}"
    );
}
