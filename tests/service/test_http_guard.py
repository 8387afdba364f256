"""No-token loopback mode is not reachable from a web page: foreign Host headers (DNS rebinding), browser
Origins and non-JSON writes are refused. Bodies over the limit get 413 before they are read, and idle
connections do not make the REST server start a thread each."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from edgetrain_service.process import ServiceProcess
from edgetrain_service.rest_server import MAX_BODY_BYTES, REST_THREADS

from .conftest import PARENT, rest_client

ALLOWED_ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    root = tmp_path_factory.mktemp("guarded")
    extra = ["--allow-origin", ALLOWED_ORIGIN, "--allow-host", "edgetrain.internal:8601"]
    with ServiceProcess(root / "data", extra_args=extra) as running:
        yield running


def _datasets(service) -> str:
    return f"{service.rest_url}/v1/{PARENT}/datasets"


def _new_dataset() -> dict:
    return {"displayName": "guarded", "imageObjectDetectionDatasetMetadata": {}}


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil:{port}"]
)
def test_foreign_host_header_is_refused(guarded, host):
    port = urlsplit(guarded.rest_url).port
    response = requests.get(_datasets(guarded), headers={"Host": host.format(port=port)}, timeout=30)
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"
    assert "--allow-host" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "[::1]:{port}", "127.0.0.1:{port}", "edgetrain.internal:8601"]
)
def test_loopback_and_configured_hosts_are_served(guarded, host):
    port = urlsplit(guarded.rest_url).port
    response = requests.get(_datasets(guarded), headers={"Host": host.format(port=port)}, timeout=30)
    assert response.status_code == 200


def test_browser_origin_is_refused_unless_allowed(guarded):
    refused = requests.post(
        _datasets(guarded), json=_new_dataset(), headers={"Origin": "https://evil.example"}, timeout=30
    )
    assert refused.status_code == 403 and "--allow-origin" in refused.json()["error"]["message"]
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert requests.get(_datasets(guarded), timeout=30).json().get("datasets") is None  # nothing created
    allowed = requests.post(
        _datasets(guarded), json=_new_dataset(), headers={"Origin": ALLOWED_ORIGIN}, timeout=30
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    preflight = requests.options(
        _datasets(guarded),
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert preflight.status_code == 204 and "POST" in preflight.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_writes_without_json_content_type_are_415(guarded, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    before = requests.get(_datasets(guarded), timeout=30).json().get("datasets", [])
    response = requests.post(
        _datasets(guarded),
        data=b'{"displayName": "form", "imageObjectDetectionDatasetMetadata": {}}',
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]
    assert requests.get(_datasets(guarded), timeout=30).json().get("datasets", []) == before


def test_an_empty_form_post_is_415_but_a_bodiless_curl_post_is_served(guarded):
    form = requests.post(
        f"{_datasets(guarded)}/IOD1:importData",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert form.status_code == 415
    bodiless = requests.post(f"{_datasets(guarded)}/IOD1:importData", timeout=30)  # curl -X POST URL
    assert bodiless.status_code == 404 and bodiless.json()["error"]["status"] == "NOT_FOUND"


def test_json_with_charset_and_the_official_rest_client_work(guarded):
    response = requests.post(
        _datasets(guarded),
        data=b'{"displayName": "charset", "imageObjectDetectionDatasetMetadata": {}}',
        headers={"Content-Type": "application/json; charset=utf-8"},  # what Google's curl examples send
        timeout=30,
    )
    assert response.status_code == 200
    client = rest_client(guarded.rest_url)
    created = client.create_dataset(
        parent=PARENT, dataset={"display_name": "official", "image_object_detection_dataset_metadata": {}}
    ).result(timeout=30)
    client.delete_dataset(name=created.name).result(timeout=30)


def _raw_request(service, head: bytes) -> bytes:
    address = urlsplit(service.rest_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            answer += chunk
        return answer


def test_body_over_the_limit_is_413_before_it_is_sent(guarded):
    port = urlsplit(guarded.rest_url).port
    head = (
        f"POST /v1/{PARENT}/datasets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _raw_request(guarded, head)  # no body follows: the answer cannot wait for it
    assert answer.startswith(b"HTTP/1.1 413") and f"max_body of {MAX_BODY_BYTES}".encode() in answer
    assert time.monotonic() - started < 10


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_idle_connections_do_not_get_a_thread_each(guarded):
    before = _threads(guarded.process.pid)
    address = urlsplit(guarded.rest_url)
    idle = [socket.create_connection((address.hostname, address.port), timeout=30) for _ in range(60)]
    try:
        time.sleep(1.0)
        assert _threads(guarded.process.pid) - before <= REST_THREADS
    finally:
        for sock in idle:
            sock.close()
    # once they are gone the server answers again
    assert requests.get(_datasets(guarded), timeout=60).status_code == 200


def test_clients_that_send_slowly_do_not_hold_the_request_threads(guarded):
    address = urlsplit(guarded.rest_url)
    head = f"GET /v1/{PARENT}/datasets HTTP/1.1\r\nHost: 127.0.0.1:{address.port}\r\n".encode()
    slow = [socket.create_connection((address.hostname, address.port), timeout=30) for _ in range(40)]
    try:
        for sock in slow:
            sock.sendall(head)  # and never the blank line that ends the headers
        time.sleep(1.0)
        started = time.monotonic()
        assert requests.get(_datasets(guarded), timeout=20).status_code == 200
        assert time.monotonic() - started < 10
    finally:
        for sock in slow:
            sock.close()
