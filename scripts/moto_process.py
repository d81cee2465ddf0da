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


# Lambda trigger events built from what really went through the moto server (SQS, SNS, Kinesis, S3),
# or, for triggers moto cannot drive (CloudWatch Logs subscriptions, EventBridge), as AWS documents them.


def queue_arn(endpoint_url: str, queue_url: str) -> str:
    """Return the ARN of an SQS queue."""
    attributes = client("sqs", endpoint_url).get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


@dataclass(frozen=True)
class Queue:
    """An SQS queue on the moto server, read back as Lambda's SQS event source mapping would deliver it."""

    endpoint_url: str
    url: str
    arn: str

    @classmethod
    def create(cls, endpoint_url: str, name: str | None = None) -> Queue:
        name = name or f"sigil-{uuid.uuid4().hex[:12]}"
        url = client("sqs", endpoint_url).create_queue(QueueName=name)["QueueUrl"]
        return cls(endpoint_url, url, queue_arn(endpoint_url, url))

    def send(self, *bodies: str) -> None:
        sqs = client("sqs", self.endpoint_url)
        for body in bodies:
            sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def messages(self, wait_seconds: int = 1) -> list[dict[str, Any]]:
        """Drain the queue; return the raw SQS messages in arrival order."""
        sqs = client("sqs", self.endpoint_url)
        out: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]
            )
            batch = response.get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(message)
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def bodies(self, wait_seconds: int = 1) -> list[str]:
        return [message["Body"] for message in self.messages(wait_seconds)]

    def lambda_event(self, wait_seconds: int = 1) -> dict[str, Any]:
        """Drain the queue into one Lambda SQS event."""
        return {"Records": [sqs_lambda_record(message, self.arn) for message in self.messages(wait_seconds)]}


def sqs_lambda_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
    """Return the Lambda SQS event record of a received message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": REGION,
    }


def sns_lambda_event(envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the Lambda SNS event for SNS notification envelopes (as read from a non-raw SQS subscription)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{envelope['TopicArn']}:{uuid.uuid4()}",
                "Sns": {key: envelope.get(key) for key in (
                    "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                    "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes",
                )},
            }
            for envelope in envelopes
        ]
    }


@dataclass(frozen=True)
class Topic:
    """An SNS topic with an SQS queue subscribed without raw delivery, to capture the envelopes SNS sends."""

    endpoint_url: str
    arn: str
    capture: Queue

    @classmethod
    def create(cls, endpoint_url: str, name: str | None = None) -> Topic:
        name = name or f"sigil-{uuid.uuid4().hex[:12]}"
        arn = client("sns", endpoint_url).create_topic(Name=name)["TopicArn"]
        capture = Queue.create(endpoint_url, f"{name}-capture")
        client("sns", endpoint_url).subscribe(TopicArn=arn, Protocol="sqs", Endpoint=capture.arn)
        return cls(endpoint_url, arn, capture)

    def publish(self, *messages: str) -> None:
        sns = client("sns", self.endpoint_url)
        for message in messages:
            sns.publish(TopicArn=self.arn, Message=message)

    def envelopes(self) -> list[dict[str, Any]]:
        """Return the notification envelopes SNS delivered so far."""
        return [json.loads(body) for body in self.capture.bodies()]

    def lambda_event(self) -> dict[str, Any]:
        """Return the Lambda SNS event for what was published so far."""
        return sns_lambda_event(self.envelopes())


def create_bucket(endpoint_url: str, name: str | None = None) -> str:
    """Create an S3 bucket and return its name."""
    name = name or f"sigil-{uuid.uuid4().hex[:12]}"
    client("s3", endpoint_url).create_bucket(Bucket=name)
    return name


def notify_queue(endpoint_url: str, bucket: str, queue: Queue) -> None:
    """Send the bucket's object-created notifications to ``queue`` (S3 first sends an ``s3:TestEvent``)."""
    client("s3", endpoint_url).put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue.arn, "Events": ["s3:ObjectCreated:*"]}]},
    )


def notify_topic(endpoint_url: str, bucket: str, topic: Topic) -> None:
    """Send the bucket's object-created notifications to ``topic``."""
    client("s3", endpoint_url).put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"TopicConfigurations": [{"TopicArn": topic.arn, "Events": ["s3:ObjectCreated:*"]}]},
    )


def s3_notification_event(endpoint_url: str, bucket: str, key: str) -> dict[str, Any]:
    """Return the direct S3 → Lambda notification for an object on the server (key URL-encoded, as S3 sends it)."""
    import urllib.parse

    head = client("s3", endpoint_url).head_object(Bucket=bucket, Key=key)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": head["LastModified"].isoformat(),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": urllib.parse.quote_plus(key, safe=""),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                    },
                },
            }
        ]
    }


def eventbridge_s3_event(bucket: str, key: str, size: int = 0) -> dict[str, Any]:
    """Return an EventBridge ``Object Created`` event from S3 (its key is not URL-encoded)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size},
            "reason": "PutObject",
        },
    }


def cloudwatch_logs_envelope(
    log_group: str, messages: list[str], message_type: str = "DATA_MESSAGE", log_stream: str = "stream-1"
) -> bytes:
    """Return the gzip JSON envelope CloudWatch Logs sends to a subscription (not yet base64-encoded)."""
    import gzip

    document = {
        "messageType": message_type,
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["sigil"],
        "logEvents": [
            {"id": str(index), "timestamp": 1_767_225_600_000 + index, "message": message}
            for index, message in enumerate(messages)
        ],
    }
    return gzip.compress(json.dumps(document).encode(), mtime=0)


def cloudwatch_logs_event(log_group: str, messages: list[str], message_type: str = "DATA_MESSAGE") -> dict[str, Any]:
    """Return the Lambda event of a CloudWatch Logs subscription filter."""
    import base64

    data = base64.b64encode(cloudwatch_logs_envelope(log_group, messages, message_type)).decode("ascii")
    return {"awslogs": {"data": data}}


def kinesis_stream(endpoint_url: str, name: str | None = None) -> str:
    """Create a one-shard Kinesis stream and return its name once it is active."""
    name = name or f"sigil-{uuid.uuid4().hex[:12]}"
    kinesis = client("kinesis", endpoint_url)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    return name


def kinesis_lambda_event(endpoint_url: str, stream: str, payloads: list[bytes]) -> dict[str, Any]:
    """Put ``payloads`` into the stream and read them back as Lambda's Kinesis event source mapping would."""
    import base64

    kinesis = client("kinesis", endpoint_url)
    description = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
    for index, data in enumerate(payloads):
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey=f"pk-{index}")
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=description["Shards"][0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        response = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        if not response["Records"]:
            break
        records += [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(record["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{description['Shards'][0]['ShardId']}:{record['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "awsRegion": REGION,
                "eventSourceARN": description["StreamARN"],
            }
            for record in response["Records"]
        ]
        iterator = response.get("NextShardIterator")
    return {"Records": records}


def s3_jsonl(endpoint_url: str, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    """Return every JSON line of every object under ``prefix``, objects in key order."""
    s3 = client("s3", endpoint_url)
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]
    return [
        json.loads(line)
        for key in sorted(keys)
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        if line.strip()
    ]
