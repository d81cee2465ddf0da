"""Run a local moto server on 127.0.0.1 and wire an SNS→SQS alert sink (shared by the tests and the demo)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"
REGION = "us-east-1"


def free_port(host: str = HOST) -> int:
    """Return a TCP port that was free a moment ago (bind to port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def local_aws_env(endpoint_url: str) -> dict[str, str]:
    """Return environment variables that point boto3 at ``endpoint_url`` with dummy credentials only."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "NO_PROXY": f"{HOST},localhost",
        "no_proxy": f"{HOST},localhost",
    }


class MotoServer:
    """A ``python -m moto.server`` subprocess bound to 127.0.0.1 on a free port; use as a context manager."""

    def __init__(self, host: str = HOST, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - outlives start(), closed by __exit__

    def start(self, timeout: float = 30.0) -> str:
        """Start the server and return its URL once it answers HTTP; raise RuntimeError otherwise."""
        command = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}: {self.log()}")
            if self._answers():
                return self.url
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.url} within {timeout}s: {self.log()}")

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 10 s)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def log(self) -> str:
        """Return the tail of the server's output."""
        self._log.seek(0)
        return self._log.read()[-4000:].decode("utf-8", errors="replace")

    def _answers(self) -> bool:
        """Return True if the server answers an HTTP request (any status)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=1)
        try:
            connection.request("GET", "/moto-api/")
            connection.getresponse().read()
        except OSError:
            return False
        finally:
            connection.close()
        return True

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()


def client(service: str, endpoint_url: str) -> Any:
    """Return a boto3 client for ``service`` that can only reach ``endpoint_url``."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass(frozen=True)
class AlertSink:
    """An SNS topic whose messages land, raw, in an SQS queue."""

    endpoint_url: str
    topic_arn: str
    queue_url: str

    @classmethod
    def create(cls, endpoint_url: str, name: str | None = None) -> AlertSink:
        """Create the topic, the queue and a raw-delivery subscription, named ``name`` or uniquely."""
        name = name or f"sigil-alerts-{uuid.uuid4().hex[:12]}"
        sns, sqs = client("sns", endpoint_url), client("sqs", endpoint_url)
        topic_arn = sns.create_topic(Name=name)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=attributes["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        return cls(endpoint_url, topic_arn, queue_url)

    def receive(self, wait_seconds: int = 1) -> list[dict[str, Any]]:
        """Drain the queue and return the alert documents, in arrival order."""
        sqs = client("sqs", self.endpoint_url)
        alerts: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            )
            messages = response.get("Messages", [])
            if not messages:
                return alerts
            for message in messages:
                alerts.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
