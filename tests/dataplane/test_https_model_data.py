"""ModelDataUrl may be an https:// URL: the archive is downloaded over TLS."""

from __future__ import annotations

import functools
import json
import ssl
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shadowserve.cli.server_process import ServerProcess
from tests.conftest import FAST, client
from tests.dataplane_support import SCALING_MODEL, model_archive


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_args: Any) -> None:
        pass


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_model_data_over_https(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "model.tar.gz").write_bytes(model_archive(SCALING_MODEL))
    cert, key = _certificate(tmp_path)
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the server trusts our test CA
    url = f"https://127.0.0.1:{httpd.server_address[1]}/model.tar.gz"
    try:
        with ServerProcess(tmp_path / "data", extra_args=FAST) as server:
            sagemaker, runtime = client(server.url), client(server.url, "sagemaker-runtime")
            sagemaker.create_model(
                ModelName="over-https", PrimaryContainer={"Image": "x", "ModelDataUrl": url}
            )
            sagemaker.create_endpoint_config(
                EndpointConfigName="c",
                ProductionVariants=[{"VariantName": "v", "ModelName": "over-https",
                                     "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
            )  # fmt: skip
            sagemaker.create_endpoint(EndpointName="https-ep", EndpointConfigName="c")
            sagemaker.get_waiter("endpoint_in_service").wait(
                EndpointName="https-ep", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
            )
            response = runtime.invoke_endpoint(
                EndpointName="https-ep", Body=b"[4]", ContentType="application/json"
            )
            assert json.loads(response["Body"].read()) == [8.0]
    finally:
        httpd.shutdown()
