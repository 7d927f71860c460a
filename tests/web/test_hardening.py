"""``speechgen serve`` under hostile or careless clients (issue 18, items 7 and 8): a per-request deadline (slow
clients are cut, 408), a fixed worker pool with a bounded queue (503 beyond it, never a thread per connection), the
Host / Origin checks against DNS rebinding and cross-site requests (403), unparsable JSON (400) and readable size
limits in 413 messages."""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from speechgen.web import app as web_app
from speechgen.web.app import App

from .test_app import assert_one_line_error, request


def _addr(base_url: str) -> tuple[str, int]:
    url = urlsplit(base_url)
    return url.hostname, url.port


def _read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout`` passes)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _status_and_error(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


# ------------------------------------------------------------------------------------------------ deadline
def test_slow_client_is_cut_at_the_deadline_and_others_are_served(app, serve):
    with serve(app, workers=2, request_timeout=2.0) as url:
        host, port = _addr(url)
        result: dict = {}

        def slowloris() -> None:  # a byte a second: every single read is quick, the request never ends
            sock = socket.create_connection((host, port), timeout=10)
            start = time.monotonic()
            payload = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nX-Slow: {'a' * 60}".encode()
            got = b""
            try:
                for i in range(len(payload)):
                    if time.monotonic() - start > 10:
                        break
                    try:
                        sock.sendall(payload[i:i + 1])
                    except OSError:  # the server closed: read what it said
                        got = _read_until_closed(sock, 2)
                        break
                    if select.select([sock], [], [], 1.0)[0]:
                        got = _read_until_closed(sock, 3)
                        break
            finally:
                result["seconds"] = time.monotonic() - start
                result["got"] = got
                sock.close()

        thread = threading.Thread(target=slowloris)
        thread.start()
        time.sleep(0.5)
        start = time.monotonic()
        status, _, _ = request(url, "GET", "/api/models")  # meanwhile a normal client is served at once
        assert status == 200 and time.monotonic() - start < 1.5
        assert thread.is_alive()  # ... while the slow one still holds its connection
        thread.join(20)
        assert result["got"], f"still connected after {result['seconds']:.1f} s"
        assert 1.5 < result["seconds"] < 5.0, result
        status, answer = _status_and_error(result["got"])
        assert_one_line_error(status, answer, 408, "within 2 s")


def test_silent_connection_gets_408_and_a_slow_body_too(app, serve):
    with serve(app, workers=2, request_timeout=1.0) as url:
        host, port = _addr(url)
        with socket.create_connection((host, port), timeout=10) as sock:  # says nothing at all
            start = time.monotonic()
            status, answer = _status_and_error(_read_until_closed(sock, 5))
            assert_one_line_error(status, answer, 408, "within 1 s")
            assert time.monotonic() - start < 3.5
        with socket.create_connection((host, port), timeout=10) as sock:  # headers fast, the body never comes
            body = b'{"model": "digits-default", "digit": 1}'
            sock.sendall(f"POST /api/generate HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n"
                         "Content-Type: application/json\r\n\r\n".encode() + body[:5])
            status, answer = _status_and_error(_read_until_closed(sock, 5))
            assert_one_line_error(status, answer, 408, "within 1 s")


# ------------------------------------------------------------------------------------------------ worker pool
def test_pool_bounds_threads_and_refuses_extra_connections(app, serve):
    workers, queue_size, extra = 2, 2, 6
    before = threading.active_count()
    with serve(app, workers=workers, queue_size=queue_size, request_timeout=3.0) as url:
        host, port = _addr(url)
        held = []
        try:
            for _ in range(workers + queue_size):  # idle connections: they fill the workers and the queue
                held.append(socket.create_connection((host, port), timeout=10))
                time.sleep(0.05)
            refused = []
            for _ in range(extra):
                sock = socket.create_connection((host, port), timeout=10)
                start = time.monotonic()
                raw = _read_until_closed(sock, 2)
                refused.append((raw, time.monotonic() - start))
                sock.close()
            for raw, seconds in refused:
                assert raw, "an extra connection got no answer"
                status, answer = _status_and_error(raw)
                assert_one_line_error(status, answer, 503, "server busy")
                assert seconds < 1.5
            # the server thread, the workers and nothing per connection
            assert threading.active_count() <= before + 1 + workers, threading.enumerate()
            for sock in held:  # the held ones were not answered: they wait in a worker or in the queue
                assert not select.select([sock], [], [], 0)[0]
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 10  # their places free up: a normal request is served again
        while True:
            status, _, body = request(url, "GET", "/api/models")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 200, body
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before  # server_close stops the workers (and the server thread is joined)


# ------------------------------------------------------------------------------------------------ Host / Origin
@pytest.mark.parametrize("host_header", ["evil.example:{port}", "evil.example", "127.0.0.1:1", "localhost:1",
                                         "127.0.0.1.evil.example:{port}", "[::1]:1", "", "127.0.0.1:{port}x",
                                         "user@127.0.0.1:{port}"])
def test_foreign_host_is_refused(base_url, host_header):
    _, port = _addr(base_url)
    for method, path, body in (("GET", "/", None), ("GET", "/api/models", None),
                               ("POST", "/api/generate", b'{"model": "digits-default", "digit": 1}')):
        status, _, answer = request(base_url, method, path, body, {"Host": host_header.format(port=port),
                                                                    "Content-Type": "application/json"})
        assert_one_line_error(status, json.loads(answer), 403 if host_header else 400, "Host")


@pytest.mark.parametrize("host_header", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}",
                                         "localhost.:{port}", "[::1]:{port}"])
def test_own_names_are_served(base_url, host_header):
    _, port = _addr(base_url)
    status, _, _ = request(base_url, "GET", "/api/models", headers={"Host": host_header.format(port=port)})
    assert status == 200


def test_request_without_host_is_refused(base_url):
    with socket.create_connection(_addr(base_url), timeout=10) as sock:  # HTTP/1.0 lets a client leave Host out
        sock.sendall(b"GET /api/models HTTP/1.0\r\n\r\n")
        status, answer = _status_and_error(_read_until_closed(sock, 5))
    assert_one_line_error(status, answer, 400, "Host header")


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://127.0.0.1:1"}, {"Origin": "https://127.0.0.1:{port}"},
                                     {"Origin": "http://localhost:{port}"},
                                     {"Referer": "http://evil.example/page.html"},
                                     {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "cross-site"}])
def test_cross_origin_post_is_refused(base_url, headers):
    _, port = _addr(base_url)
    headers = {k: v.format(port=port) for k, v in headers.items()}
    for path, body in (("/api/generate", b'{"model": "digits-default", "digit": 1}'),
                       ("/api/vocode?name=a.wav", b"RIFF...."),  # a form can post text/plain cross-site
                       ("/api/speak", b'{"model": "tts-default", "text": "1"}')):
        status, _, answer = request(base_url, "POST", path, body, {"Content-Type": "text/plain", **headers})
        assert_one_line_error(status, json.loads(answer), 403, "cross-origin")


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://127.0.0.1:{port}"},
                                     {"Referer": "http://127.0.0.1:{port}/"},
                                     {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},
                                     {"Host": "localhost:{port}", "Origin": "http://localhost:{port}"}])
def test_same_origin_and_plain_posts_are_served(base_url, headers):
    _, port = _addr(base_url)
    headers = {k: v.format(port=port) for k, v in headers.items()}
    status, _, answer = request(base_url, "POST", "/api/generate", b'{"model": "digits-default", "digit": 2}',
                                {"Content-Type": "application/json", **headers})
    assert status == 200 and json.loads(answer)["digit"] == 2


def test_host_policy_by_bound_address(monkeypatch):
    monkeypatch.setattr(web_app.socket, "gethostname", lambda: "Studio.lan")
    loop = web_app.HostPolicy("127.0.0.1", 8000)
    assert loop.allows("127.0.0.1:8000") and loop.allows("localhost:8000") and loop.allows("[::1]:8000")
    assert not loop.allows("192.168.1.5:8000") and not loop.allows("studio:8000")
    assert not loop.allows("localhost") and web_app.HostPolicy("127.0.0.1", 80).allows("localhost")  # no port: 80
    lan = web_app.HostPolicy("192.168.1.5", 8000)
    assert lan.allows("192.168.1.5:8000") and not lan.allows("192.168.1.6:8000") and not lan.allows("evil:8000")
    named = web_app.HostPolicy("studio.lan", 8000, bound="192.168.1.5")  # --host NAME: that name and its address
    assert named.allows("studio.lan:8000") and named.allows("192.168.1.5:8000")
    for wildcard in ("0.0.0.0", "::"):
        every = web_app.HostPolicy(wildcard, 8000)  # any of the machine's addresses and its own name
        assert every.allows("192.168.1.5:8000") and every.allows("[fe80::1]:8000") and every.allows("localhost:8000")
        assert every.allows("studio.lan:8000") and every.allows("studio:8000")
        assert not every.allows("evil.example:8000") and not every.allows("192.168.1.5:8001")
    extra = web_app.HostPolicy("0.0.0.0", 8000, allow=["speech.example.org"])
    assert extra.allows("speech.example.org:8000") and extra.allows("Speech.Example.Org.:8000")
    assert not extra.allows("example.org:8000")
    with pytest.raises(web_app.ConfigError, match="--allow-host"):
        web_app.HostPolicy("127.0.0.1", 8000, allow=["evil.example/x"])


# ------------------------------------------------------------------------------------------------ bodies
@pytest.mark.parametrize("body, needle", [
    (b"[" * 10000, "not JSON"),  # 10 000 deep: json.loads raises RecursionError
    (b"[" * 5000 + b"]" * 5000, "not JSON"),
    (b'{"model": ' + b"[" * 3000 + b"]" * 3000 + b"}", "not JSON"),
    (b'{"model": "digits-default", "digit": 1, "seed": ' + b"1" * 5000 + b"}", "not JSON"),  # int digit limit
    (b'{"model": "digits-default", "digit": "\xff\xfe"}', "not JSON"),  # bad UTF-8
    (b"\x00\x01\x02", "not JSON"),
    (b'{"model": {"a": 1}, "digit": 1}', "unknown model"),
    (b'{"model": "digits-default", "digit": [1]}', "digit: expected an integer"),
    (b'{"model": "digits-default", "digit": 1, "seed": {"a": 1}}', "seed: expected an integer"),
    (b'{"model": "digits-default", "digit": 1, "seed": 1e400}', "seed: expected an integer"),
])
def test_unparsable_or_mistyped_json_is_400(base_url, body, needle):
    status, _, answer = request(base_url, "POST", "/api/generate", body, {"Content-Type": "application/json"})
    assert_one_line_error(status, json.loads(answer), 400, needle)


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (1, "1 byte"), (1023, "1023 bytes"), (1024, "1 KB"),
                                     (16384, "16 KB"), (20000, "19.5 KB"), (2**20, "1 MB"), (3 * 2**20, "3 MB"),
                                     (int(2.5 * 2**20), "2.5 MB"), (10 * 2**30, "10 GB")])
def test_format_size(n, text):
    assert web_app.format_size(n) == text


def test_413_messages_are_readable_for_tiny_limits(vocoder_ckpt, serve):
    tiny = App(vocoders=[str(vocoder_ckpt)], max_upload_bytes=100, classifier=None)
    with serve(tiny) as url:
        status, _, answer = request(url, "POST", "/api/vocode?name=a.wav", b"x" * 200)
        assert_one_line_error(status, json.loads(answer), 413, "a.wav: 200 bytes is too large (limit 100 bytes)")
        status, _, answer = request(url, "POST", "/api/generate", b" " * 20000)
        assert_one_line_error(status, json.loads(answer), 413, "request: 19.5 KB is too large (limit 16 KB)")
        assert "0.0" not in json.loads(answer)["error"]
    small = App(vocoders=[str(vocoder_ckpt)], max_upload_bytes=16384, classifier=None)  # --max-upload-mb 0.015625
    with serve(small) as url:
        status, _, answer = request(url, "POST", "/api/vocode?name=a.wav", b"x" * 16385)
        assert_one_line_error(status, json.loads(answer), 413,
                              "a.wav: 16385 bytes is too large (limit 16384 bytes)")  # "16 KB" twice says nothing


@pytest.mark.parametrize("headers, status, needle", [({}, 413, "big.wav: 8 MB is too large (limit 2 MB)"),
                                                     ({"Origin": "http://evil.example"}, 403, "cross-origin")])
def test_a_refused_upload_still_gets_its_answer(base_url, headers, status, needle):
    """A client that sends a whole refused upload (the server never reads it) still reads the answer: the server
    drains the input after answering instead of closing on unread data (which resets the connection)."""
    host, port = _addr(base_url)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("POST", "/api/vocode?name=big.wav", b"x" * (8 * 2**20), headers)
        resp = conn.getresponse()
        assert_one_line_error(resp.status, json.loads(resp.read()), status, needle)
    finally:
        conn.close()


def test_json_depth_ignores_brackets_in_strings():
    assert web_app.json_depth(b'{"a": [1, {"b": 2}]}') == 3
    assert web_app.json_depth(b'{"a": "[[[[[[[[[[{{{{{\\\\"}') == 1
    assert web_app.json_depth(b'{"a": "\\"[[[[["}') == 1
    assert web_app.json_depth(b"[" * 50) == 50
