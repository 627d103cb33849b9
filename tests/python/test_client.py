"""The official Python MCP SDK (`mcp` 2.3) against a server behind SessionLayer.

Run with `tests/python/run.sh URL`, e.g. against `cargo run --example everything`
(http://127.0.0.1:8080/mcp). The server must expose the conformance fixture
(examples/fixture): tools `test_simple_text` and `touch_resource`, resources
`test://static-text` and `test://watched-resource`.

Two tests, one per protocol era, both through the SDK's high-level `mcp.Client`:

- `test_auto_mode_negotiates_2026_07_28`: the default `mode="auto"` probes
  `server/discover` and adopts 2026-07-28 (no initialize, no session); then tools,
  a resource read, and a `resources/updated` event on a `subscriptions/listen` stream.
- `test_legacy_mode_session`: `mode="legacy"` forces the initialize handshake
  (a 2025-era session); then tools, a resource read, `resources/subscribe`, and the
  update arriving on the session's GET stream.

Every HTTP exchange goes through `WireTap`, so the tests also check what crossed the
wire (which request was the probe, which stream carried the update), not only what
the SDK made of it.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # anyio's dependency before 3.11

MODERN = "2026-07-28"
SIMPLE_TEXT = "This is a simple text response for testing."
STATIC_TEXT_URI = "test://static-text"
STATIC_TEXT = "This is the content of the static text resource."
WATCHED_URI = "test://watched-resource"
UPDATED = "notifications/resources/updated"

# Every single wait below is bounded by this; pytest.ini's timeout is the backstop.
WAIT_S = 15.0

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def url() -> str:
    value = os.environ.get("MCP_URL")
    if not value:
        pytest.fail("MCP_URL is not set: run these tests with tests/python/run.sh URL")
    return value


# --- Wire tap -------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One HTTP request the SDK made, and the response bytes read so far (SSE streams grow)."""

    http_method: str
    rpc_methods: list[str]
    request_headers: dict[str, str]
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)

    def carried(self, method: str, uri: str) -> bool:
        """Whether the response so far holds a JSON-RPC message `method` about `uri`."""
        for message in _sse_or_json_messages(bytes(self.body)):
            if message.get("method") == method and (message.get("params") or {}).get("uri") == uri:
                return True
        return False

    def __repr__(self) -> str:
        return (
            f"<{self.http_method} {self.rpc_methods} -> {self.status} "
            f"{self.response_headers.get('content-type')!r} {bytes(self.body[:300])!r}>"
        )


def _sse_or_json_messages(body: bytes) -> list[dict[str, Any]]:
    """The JSON-RPC messages in a response body, whether plain JSON or an SSE stream."""
    text = body.decode("utf-8", "replace")
    candidates: list[str] = []
    if text.lstrip().startswith(("{", "[")):
        candidates.append(text)
    else:
        for event in text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(
                line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:")
            )
            if data.strip():
                candidates.append(data)
    messages: list[dict[str, Any]] = []
    for candidate in candidates:
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue  # an event still arriving
        messages.extend(m for m in (parsed if isinstance(parsed, list) else [parsed]) if isinstance(m, dict))
    return messages


class _TappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, exchange: Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._exchange.body.extend(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class WireTap(httpx2.AsyncBaseTransport):
    """An httpx2 transport that records every exchange, then passes it through unchanged."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        rpc_methods: list[str] = []
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            for message in parsed if isinstance(parsed, list) else [parsed]:
                if isinstance(message, dict) and "method" in message:
                    rpc_methods.append(message["method"])
        exchange = Exchange(request.method, rpc_methods, {k.lower(): v for k, v in request.headers.items()})
        self.exchanges.append(exchange)
        response = await self._inner.handle_async_request(request)
        exchange.status = response.status_code
        exchange.response_headers = {k.lower(): v for k, v in response.headers.items()}
        response.stream = _TappedStream(response.stream, exchange)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def posts(self, rpc_method: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.http_method == "POST" and rpc_method in e.rpc_methods]

    def gets(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.http_method == "GET"]

    def rpc_sequence(self) -> list[str]:
        return [m for e in self.exchanges if e.http_method == "POST" for m in e.rpc_methods]


@asynccontextmanager
async def tapped_client(url: str, **kwargs: Any) -> AsyncIterator[tuple[Client, WireTap]]:
    """`mcp.Client` on the SDK's own Streamable HTTP transport, with a `WireTap` under it."""
    tap = WireTap()
    # The SDK's default timeouts are 30 s (connect) and 300 s (read, for SSE); ours are shorter.
    timeout = httpx2.Timeout(WAIT_S, read=WAIT_S * 4)
    try:
        async with httpx2.AsyncClient(transport=tap, timeout=timeout) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, read_timeout_seconds=WAIT_S, **kwargs) as client:
                yield client, tap
    except BaseExceptionGroup as group:
        # The SDK's task groups wrap whatever the test raised: report the one failure itself.
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if leaf is group:
            raise
        raise leaf from None


async def wait_until(predicate: Any, what: str) -> None:
    try:
        with anyio.fail_after(WAIT_S):
            while not predicate():
                await anyio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {WAIT_S}s waiting for {what}") from None


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, f"tool returned an error: {result.content}"
    assert len(result.content) == 1, result.content
    block = result.content[0]
    assert isinstance(block, types.TextContent), block
    return block.text


def assert_fixture_tools(tools: types.ListToolsResult) -> None:
    names = {tool.name for tool in tools.tools}
    assert {"test_simple_text", "touch_resource"} <= names, sorted(names)


# --- 2026-07-28 (auto mode) -----------------------------------------------------------------



async def assert_tools_and_static_resource(client) -> None:
    """The fixture's tools are listed, the simple one answers, the static resource reads."""
    tools = await client.list_tools()
    assert_fixture_tools(tools)

    assert text_of(await client.call_tool("test_simple_text", {})) == SIMPLE_TEXT

    read = await client.read_resource(STATIC_TEXT_URI)
    assert len(read.contents) == 1, read.contents
    content = read.contents[0]
    assert isinstance(content, types.TextResourceContents), content
    assert str(content.uri) == STATIC_TEXT_URI
    assert content.text == STATIC_TEXT

async def test_auto_mode_negotiates_2026_07_28(url: str) -> None:
    async with tapped_client(url) as (client, tap):
        # Auto mode: a server/discover probe, adopted, with no initialize and no session.
        assert client.protocol_version == MODERN, tap.exchanges
        sequence = tap.rpc_sequence()
        assert sequence[:1] == ["server/discover"], sequence
        assert "initialize" not in sequence, sequence
        discover = tap.posts("server/discover")[0]
        assert discover.status == 200, discover
        assert discover.request_headers.get("mcp-protocol-version") == MODERN, discover.request_headers
        assert "mcp-session-id" not in discover.response_headers, discover.response_headers
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.resources is not None

        await assert_tools_and_static_resource(client)

        # The stateless era's notification stream: subscriptions/listen for one URI.
        async with client.listen(resource_subscriptions=[WATCHED_URI]) as subscription:
            assert subscription.honored.resource_subscriptions == [WATCHED_URI], subscription.honored

            touched = await client.call_tool("touch_resource", {"uri": WATCHED_URI})
            assert WATCHED_URI in text_of(touched)

            try:
                with anyio.fail_after(WAIT_S):
                    event = await subscription.__anext__()
            except TimeoutError:
                raise AssertionError(
                    f"no event on subscriptions/listen within {WAIT_S}s; wire: {tap.exchanges}"
                ) from None
            assert event == ResourceUpdated(uri=WATCHED_URI), event

            # The update came on the listen request's own response stream.
            (listen,) = tap.posts("subscriptions/listen")
            assert listen.status == 200, listen
            assert listen.response_headers.get("content-type", "").startswith("text/event-stream"), listen
            assert listen.carried(UPDATED, WATCHED_URI), listen

        # Stateless to the end: never a session id, never a GET stream.
        assert not any("mcp-session-id" in e.request_headers for e in tap.exchanges), tap.exchanges
        assert not tap.gets(), tap.gets()


# --- 2025-era session (legacy mode) ---------------------------------------------------------


async def test_legacy_mode_session(url: str) -> None:
    updates: list[types.ResourceUpdatedNotification] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(message)

    async with tapped_client(url, mode="legacy", message_handler=on_message) as (client, tap):
        # Legacy mode: the initialize handshake only, and a session.
        assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS, client.protocol_version
        sequence = tap.rpc_sequence()
        assert sequence[:1] == ["initialize"], sequence
        assert "server/discover" not in sequence, sequence
        session_id = tap.posts("initialize")[0].response_headers.get("mcp-session-id")
        assert session_id, tap.exchanges
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe, client.server_capabilities.resources

        await assert_tools_and_static_resource(client)

        # The SDK opens the session's GET stream after notifications/initialized; let it open
        # before the update is published, so the test is about delivery, not a race.
        await wait_until(
            lambda: any(e.status == 200 for e in tap.gets()),
            f"the session's GET stream to open; wire: {tap.exchanges}",
        )
        assert "notifications/initialized" in tap.rpc_sequence(), tap.rpc_sequence()
        get = next(e for e in tap.gets() if e.status == 200)
        assert get.request_headers.get("mcp-session-id") == session_id, get.request_headers
        assert get.response_headers.get("content-type", "").startswith("text/event-stream"), get

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # removed in 2026-07-28, not in 2025
            await client.subscribe_resource(WATCHED_URI)

        touched = await client.call_tool("touch_resource", {"uri": WATCHED_URI})
        assert WATCHED_URI in text_of(touched)

        await wait_until(lambda: bool(updates), f"{UPDATED} for {WATCHED_URI}; wire: {tap.exchanges}")
        assert [str(u.params.uri) for u in updates] == [WATCHED_URI], updates

        # It came on the GET stream, not on the touch_resource POST.
        assert get.carried(UPDATED, WATCHED_URI), get
        on_posts = [e for e in tap.posts("tools/call") if e.carried(UPDATED, WATCHED_URI)]
        assert not on_posts, on_posts
