"""Lambda events of every trigger Sigil reads, carrying the CloudTrail records of samples/records/cloudtrail.jsonl.

Each builder follows the event format AWS documents for that trigger (field names, nesting, encodings), with
deterministic values, so ``scripts/make_samples.py`` writes the same samples/events/*.json every time and
``sigil invoke --event samples/events/<name>.json`` runs the bundled handler on it. The S3 events name one
CloudTrail log object (``BUCKET``/``KEY``, content ``cloudtrail_object``), which must exist for the handler
to read it: the tests put it on the moto server.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from make_samples import REGION, cloudtrail_payload, kinesis_event

ACCOUNT = "123456789012"
BUCKET = "sigil-cloudtrail-logs"
KEY = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/05/14/{ACCOUNT}_CloudTrail_{REGION}_20240514T0925Z_Ab12Cd34Ef56Gh78.json.gz"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:sigil-cloudtrail"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:sigil-cloudtrail"
DELIVERY_STREAM_ARN = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/sigil-cloudtrail"
LOG_GROUP = f"aws-cloudtrail-logs-{ACCOUNT}"
TIME = "2024-05-14T09:25:00.000Z"
EPOCH_MS = 1715678700000  # TIME


def _uuid(*parts: object) -> str:
    """A fixed UUID per name, so regenerated samples do not change."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sigil-samples/" + "/".join(map(str, parts))))


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def cloudtrail_object(records: list[dict[str, Any]]) -> bytes:
    """A CloudTrail log file as CloudTrail writes it to S3: gzip JSON ``{"Records": [...]}``."""
    return gzip.compress(_compact({"Records": records}).encode(), mtime=0)


def s3_notification(records: list[dict[str, Any]]) -> dict[str, Any]:
    """An S3 event notification (``ObjectCreated:Put``) for the CloudTrail object; keys are URL-encoded."""
    body = cloudtrail_object(records)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": TIME,
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROA4EXAMPLECLOUDTRAIL:regionalDeliverySession"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "sigil-cloudtrail-objects",
                    "bucket": {
                        "name": BUCKET,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{BUCKET}",
                    },
                    "object": {
                        "key": KEY,  # only [A-Za-z0-9/._-]: URL-encoding leaves it as it is
                        "size": len(body),
                        "eTag": hashlib.md5(body).hexdigest(),  # S3's ETag of a single-part upload
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def sns_record(message: str, subject: str | None, index: int = 0) -> dict[str, Any]:
    """One record of an SNS-triggered invocation carrying ``message``."""
    message_id = _uuid("sns", index, message[:64])
    return {
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{TOPIC_ARN}:{_uuid('subscription')}",
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": TIME,
            "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "MessageId": message_id,
            "Message": message,
            "MessageAttributes": {},
            "Type": "Notification",
            "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:{_uuid('subscription')}",
            "TopicArn": TOPIC_ARN,
            "Subject": subject,
        },
    }


def sqs_record(body: str, index: int = 0) -> dict[str, Any]:
    """One message of an SQS-triggered invocation with ``body``."""
    sent = str(EPOCH_MS + index)
    return {
        "messageId": _uuid("sqs", index, body[:64]),
        "receiptHandle": "AQEB" + base64.b64encode(hashlib.sha256(f"{index}{body}".encode()).digest()).decode(),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": sent,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": sent,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # SQS's own digest of the body
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def eventbridge_event(detail_type: str, source: str, detail: dict[str, Any], resources: list[str]) -> dict[str, Any]:
    """An EventBridge event as a rule delivers it to a Lambda target."""
    return {
        "version": "0",
        "id": _uuid("eventbridge", detail_type),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": TIME[:19] + "Z",
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def s3_eventbridge(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``Object Created`` event S3 sends to EventBridge for the CloudTrail object (its key is not encoded)."""
    body = cloudtrail_object(records)
    detail = {
        "version": "0",
        "bucket": {"name": BUCKET},
        "object": {"key": KEY, "size": len(body), "etag": hashlib.md5(body).hexdigest(), "sequencer": "0055AED6DCD90281E5"},
        "request-id": "C3D13FE58DE4C810",
        "requester": ACCOUNT,
        "source-ip-address": "203.0.113.10",
        "reason": "PutObject",
    }
    return eventbridge_event("Object Created", "aws.s3", detail, [f"arn:aws:s3:::{BUCKET}"])


def cloudwatch_logs(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A CloudWatch Logs subscription invocation: CloudTrail sends each record to its log group as one event."""
    envelope = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": LOG_GROUP,
        "logStream": f"{ACCOUNT}_CloudTrail_{REGION}",
        "subscriptionFilters": ["sigil"],
        "logEvents": [
            {"id": str(36542150000000000000000000000000000000000000000000000000 + i), "timestamp": EPOCH_MS + i, "message": _compact(r)}
            for i, r in enumerate(records)
        ],
    }
    data = gzip.compress(_compact(envelope).encode(), mtime=0)
    return {"awslogs": {"data": base64.b64encode(data).decode("ascii")}}


def firehose(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A Firehose data-transformation invocation: one record per CloudTrail record (``{"Records": [r]}``)."""
    return {
        "invocationId": _uuid("firehose"),
        "deliveryStreamArn": DELIVERY_STREAM_ARN,
        "region": REGION,
        "records": [
            {
                "recordId": f"4965033827149025660855969253836157109592157598913658880{i}000000000000",
                "approximateArrivalTimestamp": EPOCH_MS + i,
                "data": base64.b64encode(cloudtrail_payload(r)).decode("ascii"),
            }
            for i, r in enumerate(records)
        ],
    }


def _s3_message(records: list[dict[str, Any]]) -> str:
    return _compact(s3_notification(records))


EVENTS: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "kinesis": lambda records: kinesis_event(cloudtrail_payload(r) for r in records),
    "sqs": lambda records: {"Records": [sqs_record(_compact(r), i) for i, r in enumerate(records)]},
    "sns": lambda records: {"Records": [sns_record(_compact(records[0]), None)]},
    "s3": s3_notification,
    "s3-via-sns": lambda records: {"Records": [sns_record(_s3_message(records), "Amazon S3 Notification")]},
    "s3-via-sqs": lambda records: {"Records": [sqs_record(_s3_message(records))]},
    "s3-via-eventbridge": s3_eventbridge,
    "cloudwatch-logs": cloudwatch_logs,
    "eventbridge": lambda records: eventbridge_event(
        "AWS API Call via CloudTrail", "aws.iam", records[2], []
    ),
    "firehose": firehose,
}
