//! The router's tool input schemas, listed once per process: the stateless era's
//! `Mcp-Param-*` header checks (SEP-2243) need them before the call runs.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use tower_mcp::protocol::{JsonRpcRequest, JsonRpcResponse, RequestId};
use tower_mcp::{JsonRpcService, McpRouter};

/// More pages than any real server lists; a router that keeps answering with a cursor stops
/// here.
const MAX_PAGES: usize = 100;

/// Tool name → input schema.
#[derive(Debug, Default)]
pub(crate) struct ToolSchemas(HashMap<String, Map<String, Value>>);

impl ToolSchemas {
    /// Lists the router's tools (all pages). A router that cannot list them gets no checks.
    pub(crate) async fn list(router: &McpRouter) -> Self {
        let mut schemas = HashMap::new();
        let mut cursor: Option<String> = None;
        for page in 0..MAX_PAGES {
            let session = router.with_fresh_session();
            session.session().mark_preinitialized();
            let mut service = JsonRpcService::new(session);
            let mut request = JsonRpcRequest::new(RequestId::Number(page as i64), "tools/list");
            request.params = cursor.as_ref().map(|cursor| json!({ "cursor": cursor }));
            let Ok(JsonRpcResponse::Result(listed)) = service.call_single(request).await else {
                break;
            };
            for tool in listed.result["tools"].as_array().into_iter().flatten() {
                if let (Some(name), Some(Value::Object(schema))) =
                    (tool["name"].as_str(), tool.get("inputSchema"))
                {
                    schemas.insert(name.to_owned(), schema.clone());
                }
            }
            cursor = listed.result["nextCursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        Self(schemas)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Map<String, Value>> {
        self.0.get(name)
    }
}
