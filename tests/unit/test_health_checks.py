"""The supervisor's /ping client against a real HTTP server: answers, a server that closes
kept-alive connections, one that stops listening, and connections to gone workers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shadowserve.workers.instance import HealthChecks


class _PingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    status = 200
    close_after_answer = False
    connections: list[object] = []

    def do_GET(self) -> None:
        type(self).connections.append(self.connection)
        self.send_response(self.status if self.path == "/ping" else 404)
        self.send_header("Content-Length", "0")
        if self.close_after_answer:
            self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def _server(**behaviour: object) -> ThreadingHTTPServer:
    handler = type("Handler", (_PingHandler,), {**behaviour, "connections": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def checks() -> Iterator[HealthChecks]:
    checks = HealthChecks(timeout=5)
    yield checks
    checks.close()


def test_a_server_answering_200_is_healthy_over_one_kept_alive_connection(
    checks: HealthChecks,
) -> None:
    server = _server()
    try:
        assert [checks.answers(_url(server)) for _ in range(3)] == [True, True, True]
        assert len(set(map(id, server.RequestHandlerClass.connections))) == 1  # type: ignore[attr-defined]
    finally:
        server.shutdown()


def test_a_server_answering_anything_else_is_not(checks: HealthChecks) -> None:
    server = _server(status=503)
    try:
        assert checks.answers(_url(server)) is False
    finally:
        server.shutdown()


def test_a_server_that_closes_each_connection_is_still_healthy(checks: HealthChecks) -> None:
    server = _server(close_after_answer=True)
    try:
        assert [checks.answers(_url(server)) for _ in range(3)] == [True, True, True]
    finally:
        server.shutdown()


def test_a_kept_alive_connection_the_server_dropped_is_replaced(checks: HealthChecks) -> None:
    server = _server()
    try:
        url = _url(server)
        assert checks.answers(url)
        for connection in server.RequestHandlerClass.connections:  # type: ignore[attr-defined]
            connection.shutdown(socket.SHUT_RDWR)  # the server closes the idle connection
        assert checks.answers(url)
    finally:
        server.shutdown()


def test_nothing_listening_is_not_healthy(checks: HealthChecks) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: a port nobody serves
    assert checks.answers(f"http://127.0.0.1:{port}") is False
    assert checks.answers("not a url") is False


def test_a_worker_that_is_no_longer_pinged_loses_its_connection(checks: HealthChecks) -> None:
    kept, gone = _server(), _server()
    try:
        assert checks.answers(_url(kept)) and checks.answers(_url(gone))
        checks.forget_unused()  # both were pinged in this pass: both kept
        assert checks.answers(_url(kept))
        checks.forget_unused()  # the second was not: its connection is closed
        assert checks.answers(_url(gone))  # so pinging it again opens a new one
        opened = gone.RequestHandlerClass.connections  # type: ignore[attr-defined]
        assert len(set(map(id, opened))) == 2
        kept_opened = kept.RequestHandlerClass.connections  # type: ignore[attr-defined]
        assert len(kept_opened) == 2 and len(set(map(id, kept_opened))) == 1
    finally:
        kept.shutdown()
        gone.shutdown()
