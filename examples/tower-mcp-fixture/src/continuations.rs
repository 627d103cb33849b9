//! Multi-round-trip results (2026-07-28, SEP-2322): a tool or prompt answers "input required"
//! with the requests the client must answer, and is called again with the answers.
//!
//! Every flow here is data: its rounds of input requests and its final answer. Flows that
//! keep state between rounds seal it in `requestState` with the router's
//! [`RequestStateCodec`](tower_mcp::RequestStateCodec), so any process can continue them and
//! a forged or tampered state is refused.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_mcp::protocol::{
    CreateMessageParams, ElicitRequestParams, InputRequest, InputRequests, InputRequiredResult,
    ListRootsParams, SamplingMessage,
};
use tower_mcp::{
    CallToolResult, ElicitFormParams, ElicitFormSchema, ElicitMode, Error, NoParams, Prompt,
    PromptBuilder, RequestContext, RequestOutcome, Tool, ToolBuilder,
};

use crate::content::{prompt, text_block};

/// One input request of a round: the key the client answers under, and what is asked.
type Ask = (&'static str, fn() -> InputRequest);

/// A conversation of one or more rounds that ends with `answer`.
struct Flow {
    name: &'static str,
    rounds: &'static [&'static [Ask]],
    /// Whether the round is carried in a sealed `requestState` (else it is inferred from
    /// which answers arrived, which only works for one round).
    sealed: bool,
    answer: &'static str,
}

/// What a sealed `requestState` holds: which flow, and how many rounds are answered.
#[derive(Serialize, Deserialize)]
struct Progress {
    flow: String,
    answered: usize,
}

const TOOL_FLOWS: &[Flow] = &[
    Flow {
        name: "test_input_required_result_elicitation",
        rounds: &[&[("user_name", || ask_string("What is your name?", "name"))]],
        sealed: false,
        answer: "Hello, Alice!",
    },
    Flow {
        name: "test_input_required_result_sampling",
        rounds: &[&[("capital_question", || {
            ask_model("What is the capital of France?", 100)
        })]],
        sealed: false,
        answer: "The capital of France is Paris.",
    },
    Flow {
        name: "test_input_required_result_list_roots",
        rounds: &[&[("client_roots", ask_roots)]],
        sealed: false,
        answer: "Received client roots",
    },
    Flow {
        name: "test_input_required_result_capabilities",
        rounds: &[&[("sampling_only", || {
            ask_model("Generate a capability-safe response", 50)
        })]],
        sealed: false,
        answer: "Capability-safe input received",
    },
    Flow {
        name: "test_input_required_result_request_state",
        rounds: &[&[("confirm", ask_confirmation)]],
        sealed: true,
        answer: "state-ok",
    },
    Flow {
        name: "test_input_required_result_tampered_state",
        rounds: &[&[("confirm", ask_confirmation)]],
        sealed: true,
        answer: "State validated",
    },
    Flow {
        name: "test_input_required_result_multiple_inputs",
        rounds: &[&[
            ("user_name", || ask_string("What is your name?", "name")),
            ("greeting", || ask_model("Generate a greeting", 50)),
            ("client_roots", ask_roots),
        ]],
        sealed: true,
        answer: "All input received",
    },
    Flow {
        name: "test_input_required_result_multi_round",
        rounds: &[
            &[("step1", || ask_string("Step 1: What is your name?", "name"))],
            &[("step2", || {
                ask_string("Step 2: What is your favorite color?", "color")
            })],
        ],
        sealed: true,
        answer: "Multi-round input complete",
    },
];

const PROMPT_FLOW: Flow = Flow {
    name: "test_input_required_result_prompt",
    rounds: &[&[("user_context", || {
        ask_string("What context should the prompt use?", "context")
    })]],
    sealed: false,
    answer: "Use the supplied test context",
};

pub(crate) fn tools() -> Vec<Tool> {
    TOOL_FLOWS
        .iter()
        .map(|flow| {
            ToolBuilder::new(flow.name)
                .description("Asks for input over one or more rounds (SEP-2322)")
                .mrtr_handler::<NoParams, _, _>(move |ctx, _| async move {
                    Ok(match step(flow, &ctx)? {
                        Step::Ask(result) => RequestOutcome::input_required(result),
                        Step::Done => RequestOutcome::Complete(CallToolResult::text(flow.answer)),
                    })
                })
                .build()
        })
        .collect()
}

pub(crate) fn prompts() -> Vec<Prompt> {
    vec![PromptBuilder::new(PROMPT_FLOW.name)
        .description("A prompt that asks for context first (SEP-2322)")
        .mrtr_handler(|ctx, _| async move {
            Ok(match step(&PROMPT_FLOW, &ctx)? {
                Step::Ask(result) => RequestOutcome::input_required(result),
                Step::Done => RequestOutcome::Complete(prompt(text_block(PROMPT_FLOW.answer))),
            })
        })
        .build()]
}

enum Step {
    Ask(InputRequiredResult),
    Done,
}

/// Where `flow` stands for this call, and what to answer.
fn step(flow: &Flow, ctx: &RequestContext) -> Result<Step, Error> {
    let answered = match flow.sealed {
        true => unseal(flow, ctx)?,
        false => usize::from(has_answers(ctx, flow.rounds[0])),
    };
    if answered > 0 && !has_answers(ctx, flow.rounds[answered - 1]) {
        return Err(Error::invalid_params(
            "the answers of the previous round are missing",
        ));
    }
    let Some(round) = flow.rounds.get(answered) else {
        return Ok(Step::Done);
    };
    let requests: InputRequests = round
        .iter()
        .map(|(key, ask)| (key.to_string(), ask()))
        .collect();
    let result = InputRequiredResult::with_requests(requests);
    if !flow.sealed {
        return Ok(Step::Ask(result));
    }
    let progress = Progress {
        flow: flow.name.into(),
        answered: answered + 1,
    };
    let token = codec(ctx)?
        .encode(&progress)
        .map_err(|error| Error::internal(format!("cannot seal requestState: {error}")))?;
    Ok(Step::Ask(result.with_request_state(token)))
}

/// Rounds answered so far, from the sealed `requestState` (none on the first call).
fn unseal(flow: &Flow, ctx: &RequestContext) -> Result<usize, Error> {
    let Some(token) = ctx.request_state() else {
        return Ok(0);
    };
    let progress: Progress = codec(ctx)?
        .decode(token)
        .map_err(|error| Error::invalid_params(format!("invalid requestState: {error}")))?;
    if progress.flow != flow.name || progress.answered == 0 || progress.answered > flow.rounds.len()
    {
        return Err(Error::invalid_params(
            "requestState belongs to another flow",
        ));
    }
    Ok(progress.answered)
}

fn codec(ctx: &RequestContext) -> Result<&tower_mcp::RequestStateCodec, Error> {
    ctx.request_state_codec()
        .ok_or_else(|| Error::internal("no requestState codec configured"))
}

fn has_answers(ctx: &RequestContext, round: &[Ask]) -> bool {
    ctx.input_responses()
        .is_some_and(|answers| round.iter().all(|(key, _)| answers.contains_key(*key)))
}

fn ask_string(message: &str, field: &str) -> InputRequest {
    ask_form(message, field, json!({ "type": "string" }))
}

fn ask_confirmation() -> InputRequest {
    ask_form("Please confirm", "ok", json!({ "type": "boolean" }))
}

fn ask_form(message: &str, field: &str, schema: serde_json::Value) -> InputRequest {
    InputRequest::Elicit(ElicitRequestParams::Form(ElicitFormParams {
        mode: Some(ElicitMode::Form),
        message: message.into(),
        requested_schema: ElicitFormSchema::new().raw_field(field, schema, true),
        meta: None,
    }))
}

fn ask_model(message: &str, max_tokens: u32) -> InputRequest {
    InputRequest::CreateMessage(CreateMessageParams::new(
        vec![SamplingMessage::user(message)],
        max_tokens,
    ))
}

fn ask_roots() -> InputRequest {
    InputRequest::ListRoots(ListRootsParams::default())
}
