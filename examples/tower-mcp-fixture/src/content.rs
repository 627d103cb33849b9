//! What the suite reads back as data: tools with fixed content, schema-feature tools,
//! resources, a resource template and prompts.

use std::collections::HashMap;

use serde_json::{json, Value};
use tower_mcp::extract::RawArgs;
use tower_mcp::protocol::{Content, ReadResourceResult, ResourceContent};
use tower_mcp::{
    CallToolResult, GetPromptResult, Prompt, PromptBuilder, PromptMessage, PromptRole, Resource,
    ResourceBuilder, ResourceTemplate, ResourceTemplateBuilder, Tool, ToolBuilder,
};

use crate::media::{png_base64, wav_base64};

const EMBEDDED_URI: &str = "test://embedded-resource";
const EMBEDDED_TEXT: &str = "Embedded resource content";

pub(crate) fn tools() -> Vec<Tool> {
    vec![
        fixed("test_simple_text", "Returns one text block", || {
            CallToolResult::text("This is a simple text response for testing.")
        }),
        fixed("test_image_content", "Returns a 1x1 PNG", || {
            CallToolResult::image(png_base64(), "image/png")
        }),
        fixed("test_audio_content", "Returns a one-sample WAV", || {
            CallToolResult::audio(wav_base64(), "audio/wav")
        }),
        fixed(
            "test_embedded_resource",
            "Returns an embedded resource",
            || CallToolResult::resource(embedded(EMBEDDED_URI)),
        ),
        fixed(
            "test_multiple_content_types",
            "Returns text, an image and an embedded resource",
            || CallToolResult {
                content: vec![
                    text_block("This is text content"),
                    Content::Image {
                        data: png_base64(),
                        mime_type: "image/png".into(),
                        annotations: None,
                        meta: None,
                    },
                    Content::Resource {
                        resource: embedded(EMBEDDED_URI),
                        annotations: None,
                        meta: None,
                    },
                ],
                is_error: false,
                structured_content: None,
                meta: None,
            },
        ),
        fixed("test_error_handling", "Returns a tool error", || {
            CallToolResult::error("This is an error response")
        }),
        with_schema(
            "json_schema_2020_12_tool",
            "Declares an input schema with JSON Schema 2020-12 keywords",
            json_schema_2020_12(),
            |args| {
                let name = args.get("name").and_then(Value::as_str).unwrap_or("world");
                CallToolResult::text(format!("Hello, {name}!"))
            },
        ),
        with_schema(
            "test_custom_header",
            "Mirrors a parameter that clients also send as a header (x-mcp-header)",
            json!({
                "type": "object",
                "properties": { "value": { "type": "string", "x-mcp-header": "Value" } },
                "required": ["value"]
            }),
            |args| match args.get("value").and_then(Value::as_str) {
                Some(value) => CallToolResult::text(value),
                None => CallToolResult::error("value must be a string"),
            },
        ),
    ]
}

/// A tool that ignores its arguments and always answers the same.
fn fixed(name: &str, description: &str, answer: fn() -> CallToolResult) -> Tool {
    ToolBuilder::new(name)
        .description(description)
        .extractor_handler((), move |RawArgs(_): RawArgs| async move { Ok(answer()) })
        .build()
}

/// A tool with a hand-written input schema, answered from its raw arguments.
fn with_schema(
    name: &str,
    description: &str,
    schema: Value,
    answer: fn(&Value) -> CallToolResult,
) -> Tool {
    ToolBuilder::new(name)
        .description(description)
        .input_schema(schema)
        .extractor_handler((), move |RawArgs(args): RawArgs| async move {
            Ok(answer(&args))
        })
        .build()
}

fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "address",
                "type": "object",
                "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
            }
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" }
        },
        "allOf": [{ "anyOf": [{ "required": ["name"] }, { "required": ["address"] }] }],
        "if": { "required": ["address"] },
        "then": { "properties": { "address": { "required": ["street"] } } },
        "else": { "required": ["name"] },
        "additionalProperties": false
    })
}

pub(crate) fn text_block(text: impl Into<String>) -> Content {
    Content::Text {
        text: text.into(),
        annotations: None,
        meta: None,
    }
}

fn embedded(uri: &str) -> ResourceContent {
    ResourceContent {
        uri: uri.into(),
        mime_type: Some("text/plain".into()),
        text: Some(EMBEDDED_TEXT.into()),
        blob: None,
        meta: None,
    }
}

pub(crate) fn resources() -> Vec<Resource> {
    let text = |uri: &str, name: &str, body: &str| {
        ResourceBuilder::new(uri)
            .name(name)
            .mime_type("text/plain")
            .text(body)
    };
    vec![
        text(
            "test://static-text",
            "Static text",
            "This is static text content",
        ),
        text(EMBEDDED_URI, "Embedded resource", EMBEDDED_TEXT),
        text(
            "test://watched-resource",
            "Watched resource",
            "Watched resource content",
        ),
        ResourceBuilder::new("test://static-binary")
            .name("Static binary")
            .mime_type("image/png")
            .handler(|| async {
                Ok(ReadResourceResult {
                    contents: vec![ResourceContent {
                        uri: "test://static-binary".into(),
                        mime_type: Some("image/png".into()),
                        text: None,
                        blob: Some(png_base64()),
                        meta: None,
                    }],
                    ..Default::default()
                })
            })
            .build(),
    ]
}

pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![ResourceTemplateBuilder::new("test://template/{id}/data")
        .name("Template")
        .mime_type("text/plain")
        .handler(|uri: String, vars: HashMap<String, String>| async move {
            let id = vars.get("id").map(String::as_str).unwrap_or_default();
            Ok(ReadResourceResult {
                contents: vec![ResourceContent {
                    uri,
                    mime_type: Some("text/plain".into()),
                    text: Some(format!("Template data for id: {id}")),
                    blob: None,
                    meta: None,
                }],
                ..Default::default()
            })
        })]
}

pub(crate) fn prompts() -> Vec<Prompt> {
    vec![
        PromptBuilder::new("test_simple_prompt")
            .description("A prompt without arguments")
            .handler(|_| async { Ok(prompt(text_block("This is a simple prompt message"))) })
            .build(),
        PromptBuilder::new("test_prompt_with_arguments")
            .description("A prompt that fills in two arguments")
            .required_arg("arg1", "First argument")
            .required_arg("arg2", "Second argument")
            .handler(|args| async move {
                let arg = |name: &str| args.get(name).cloned().unwrap_or_default();
                Ok(prompt(text_block(format!(
                    "arg1: {}, arg2: {}",
                    arg("arg1"),
                    arg("arg2")
                ))))
            })
            .build(),
        PromptBuilder::new("test_prompt_with_embedded_resource")
            .description("A prompt that embeds the resource it is given")
            .required_arg("resourceUri", "URI of the resource to embed")
            .handler(|args| async move {
                let uri = args.get("resourceUri").map(String::as_str);
                Ok(prompt(Content::Resource {
                    resource: embedded(uri.unwrap_or(EMBEDDED_URI)),
                    annotations: None,
                    meta: None,
                }))
            })
            .build(),
        PromptBuilder::new("test_prompt_with_image")
            .description("A prompt with an image")
            .handler(|_| async {
                Ok(prompt(Content::Image {
                    data: png_base64(),
                    mime_type: "image/png".into(),
                    annotations: None,
                    meta: None,
                }))
            })
            .build(),
    ]
}

/// A prompt result of one user message.
pub(crate) fn prompt(content: Content) -> GetPromptResult {
    GetPromptResult {
        description: None,
        messages: vec![PromptMessage {
            role: PromptRole::User,
            content,
            meta: None,
        }],
        meta: None,
    }
}
