//! Tools that talk to the client while they run (legacy protocol versions): log messages,
//! progress, sampling and elicitation requests on the request's own stream, list-change
//! notifications; and the 2026-07-28 tools that check what a request may and may not do.

use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tower_mcp::extract::{Context, Json, RawArgs};
use tower_mcp::protocol::{
    CreateMessageParams, ElicitResult, LogLevel, LoggingMessageParams, SamplingMessage,
};
use tower_mcp::schemars::{self, JsonSchema};
use tower_mcp::{
    CallToolResult, ClientCapabilities, ElicitFormParams, ElicitFormSchema, ElicitMode,
    SamplingCapability, SamplingContent, Tool, ToolBuilder,
};

/// Pause between the notifications of one call, so clients see them arrive one by one.
const STEP: Duration = Duration::from_millis(50);

pub(crate) fn tools() -> Vec<Tool> {
    let mut tools = vec![
        talking(
            "test_tool_with_logging",
            "Logs three messages while it runs",
            |ctx| async move {
                for message in [
                    "Tool execution started",
                    "Tool processing data",
                    "Tool execution completed",
                ] {
                    ctx.send_log(log(message));
                    tokio::time::sleep(STEP).await;
                }
                CallToolResult::text("Logging complete")
            },
        ),
        talking(
            "test_tool_with_progress",
            "Reports progress 0, 50 and 100 of 100",
            |ctx| async move {
                for (done, label) in [(0.0, "Starting"), (50.0, "Halfway"), (100.0, "Complete")] {
                    ctx.report_progress(done, Some(100.0), Some(label)).await;
                    tokio::time::sleep(STEP).await;
                }
                CallToolResult::text("Progress complete")
            },
        ),
        sampling(),
        elicit("test_elicitation", "Please provide test input", || {
            ElicitFormSchema::new().string_field("test_field", Some("A test field"), true)
        }),
        elicit(
            "test_elicitation_sep1034_defaults",
            "Please provide details with defaults",
            || {
                ElicitFormSchema::new()
                    .string_field_with_default("name", Some("Name"), true, "John Doe")
                    .integer_field_with_default("age", Some("Age"), false, 30)
                    .number_field_with_default("score", Some("Score"), false, 95.5)
                    .enum_field_with_default(
                        "status",
                        Some("Status"),
                        false,
                        &["active", "inactive", "pending"],
                        "active",
                    )
                    .boolean_field_with_default("verified", Some("Verified"), false, true)
            },
        ),
        elicit(
            "test_elicitation_sep1330_enums",
            "Please select from enum options",
            enum_schema,
        ),
        talking(
            "test_logging_tool",
            "Logs one message if the request allows it",
            |ctx| async move {
                ctx.send_log(log("Diagnostic log message"));
                CallToolResult::text("Logging diagnostic complete")
            },
        ),
        talking(
            "test_streaming_elicitation",
            "Checks that a 2026-07-28 request cannot send an elicitation of its own",
            |ctx| async move {
                match ctx.can_elicit() {
                    true => CallToolResult::error("Independent elicitation must not be available"),
                    false => CallToolResult::text("No independent elicitation request emitted"),
                }
            },
        ),
        talking(
            "test_trigger_tool_change",
            "Announces that the tool list changed",
            |ctx| async move { announced(ctx.notify_tools_list_changed(), "Tool change emitted") },
        ),
        talking(
            "test_trigger_prompt_change",
            "Announces that the prompt list changed",
            |ctx| async move { announced(ctx.notify_prompts_list_changed(), "Prompt change emitted") },
        ),
    ];
    tools.push(
        talking(
            "test_missing_capability",
            "Needs a client that can sample",
            |_| async { CallToolResult::text("sampling capability present") },
        )
        .require_client_capabilities(ClientCapabilities {
            sampling: Some(SamplingCapability::default()),
            ..ClientCapabilities::default()
        }),
    );
    tools
}

/// What `test_sampling` asks the client's model.
#[derive(Debug, Deserialize, JsonSchema)]
struct SamplingArgs {
    /// The prompt; the suite's own when absent.
    prompt: Option<String>,
}

/// Asks the client's model (with the caller's prompt, if any) and returns its answer.
fn sampling() -> Tool {
    ToolBuilder::new("test_sampling")
        .description("Asks the client's model and returns its answer")
        .extractor_handler(
            (),
            |ctx: Context, Json(args): Json<SamplingArgs>| async move {
                if !ctx.can_sample() {
                    return Ok(CallToolResult::error("Sampling not available"));
                }
                let prompt = args
                    .prompt
                    .unwrap_or_else(|| "Test sampling request".into());
                let params = CreateMessageParams::new(vec![SamplingMessage::user(prompt)], 100);
                Ok(match ctx.sample(params).await {
                    Ok(result) => match result.content_items().first() {
                        Some(SamplingContent::Text { text, .. }) => {
                            CallToolResult::text(text.clone())
                        }
                        Some(other) => CallToolResult::text(format!("{other:?}")),
                        None => CallToolResult::text("No content"),
                    },
                    Err(error) => CallToolResult::error(format!("Sampling failed: {error}")),
                })
            },
        )
        .build()
}

/// A tool that ignores its arguments and uses the request context.
fn talking<F, Fut>(name: &str, description: &str, run: F) -> Tool
where
    F: Fn(Context) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = CallToolResult> + Send + 'static,
{
    ToolBuilder::new(name)
        .description(description)
        .extractor_handler((), move |ctx: Context, RawArgs(_): RawArgs| {
            let run = run.clone();
            async move { Ok(run(ctx).await) }
        })
        .build()
}

/// A tool that asks the user to fill in a form and reports what came back.
fn elicit(name: &'static str, message: &'static str, schema: fn() -> ElicitFormSchema) -> Tool {
    talking(name, message, move |ctx| async move {
        if !ctx.can_elicit() {
            return CallToolResult::error("Elicitation not available");
        }
        let params = ElicitFormParams {
            mode: Some(ElicitMode::Form),
            message: message.into(),
            requested_schema: schema(),
            meta: None,
        };
        match ctx.elicit_form(params).await {
            Ok(ElicitResult {
                action, content, ..
            }) => CallToolResult::text(format!(
                "Elicitation completed: action={action:?}, content={content:?}"
            )),
            Err(error) => CallToolResult::error(format!("Elicitation failed: {error}")),
        }
    })
}

/// The five enum shapes of SEP-1330: untitled and titled single choice, the legacy
/// `enumNames`, untitled and titled multiple choice.
fn enum_schema() -> ElicitFormSchema {
    let options = |prefix: &str| -> Vec<Value> {
        ["First", "Second", "Third"]
            .iter()
            .enumerate()
            .map(|(i, title)| json!({ "const": format!("value{}", i + 1), "title": format!("{title} {prefix}") }))
            .collect()
    };
    ElicitFormSchema::new()
        .raw_field("untitledSingle", json!({ "type": "string", "enum": ["option1", "option2", "option3"] }), false)
        .raw_field("titledSingle", json!({ "type": "string", "oneOf": options("Option") }), false)
        .raw_field(
            "legacyEnum",
            json!({ "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] }),
            false,
        )
        .raw_field(
            "untitledMulti",
            json!({ "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } }),
            false,
        )
        .raw_field("titledMulti", json!({ "type": "array", "items": { "anyOf": options("Choice") } }), false)
}

fn log(message: &str) -> LoggingMessageParams {
    LoggingMessageParams::new(LogLevel::Info, json!(message)).with_logger("everything")
}

fn announced(sent: bool, done: &str) -> CallToolResult {
    match sent {
        true => CallToolResult::text(done),
        false => CallToolResult::error("Notification channel unavailable"),
    }
}
