"""Output secrets encrypted with a customer KMS key (SSM SecureString and Secrets Manager) on the moto server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto_process import AlertSink, client
from support.delivery import Counting, clients_with, dispatcher, sample_alert, unique
from support.http_servers import ScriptedServer

from runtime.outputs import dispatch
from runtime.outputs.webhook import SIGNATURE_HEADER, verify
from runtime.secrets import SecretStore

HMAC_KEY = "kms-protected-hmac-key"
READ_METHOD = {"secretsmanager": "get_secret_value", "ssm": "get_parameter"}


def customer_key(endpoint: str) -> dict[str, str]:
    """Create a customer managed KMS key; return its KeyId and Arn."""
    metadata = client("kms", endpoint).create_key(Description=unique("sigil-secrets"))["KeyMetadata"]
    return {"id": metadata["KeyId"], "arn": metadata["Arn"]}


def put_encrypted(endpoint: str, backend: str, name: str, value: str, key_id: str) -> str:
    """Store ``value`` under ``name`` encrypted with ``key_id``; return the key id the store reports."""
    if backend == "secretsmanager":
        secrets = client("secretsmanager", endpoint)
        secrets.create_secret(Name=name, SecretString=value, KmsKeyId=key_id)
        return str(secrets.describe_secret(SecretId=name)["KmsKeyId"])
    ssm = client("ssm", endpoint)
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", KeyId=key_id)
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    return str(described[0]["KeyId"])


@pytest.fixture(params=["secretsmanager", "ssm"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each secret store the runtime supports."""
    return str(request.param)


@pytest.fixture
def encrypted_webhook_secret(aws_env: str, backend: str) -> dict[str, Any]:
    """A webhook secret (url filled in later by the test's server) under a fresh prefix, as a factory."""
    key = customer_key(aws_env)
    prefix = f"/{unique('sigil-kms')}"

    def store(url: str) -> str:
        value = json.dumps({"url": url, "hmac_key": HMAC_KEY})
        reported = put_encrypted(aws_env, backend, f"{prefix}/webhook/soar", value, key["id"])
        assert reported in (key["id"], key["arn"])
        return reported

    return {"prefix": prefix, "key": key, "store": store}


def assert_signed_alerts(server: ScriptedServer, alerts: list[dict[str, Any]]) -> None:
    """The server received each alert once, signed with the HMAC key decrypted from the store."""
    received = server.requests
    assert [request.json()["alert_id"] for request in received] == [alert["alert_id"] for alert in alerts]
    assert all(verify(HMAC_KEY, request.body, request.header(SIGNATURE_HEADER) or "") for request in received)


class TestKmsEncryptedSecrets:
    def test_store_reads_once_per_cold_start(
        self, aws_env: str, backend: str, encrypted_webhook_secret: dict[str, Any]
    ) -> None:
        """SecretStore decrypts the KMS-encrypted value on first use only; a new cold start reads it again."""
        encrypted_webhook_secret["store"]("https://hooks.example.invalid/in")
        counted = Counting(client(backend, aws_env))
        factory = clients_with(aws_env, {backend: counted})
        for _cold_start in range(2):
            store = SecretStore(encrypted_webhook_secret["prefix"], backend, factory)
            assert [store.fields("webhook/soar")["hmac_key"] for _ in range(3)] == [HMAC_KEY] * 3
        assert counted.calls == {READ_METHOD[backend]: 2}

    def test_ssm_keeps_value_encrypted_at_rest(self, aws_env: str) -> None:
        """Without decryption SSM hands back something other than the plaintext: the store must decrypt."""
        key = customer_key(aws_env)
        name = f"/{unique('sigil-kms')}/webhook/soar"
        put_encrypted(aws_env, "ssm", name, HMAC_KEY, key["id"])
        ssm = client("ssm", aws_env)
        assert ssm.get_parameter(Name=name, WithDecryption=False)["Parameter"]["Value"] != HMAC_KEY
        assert SecretStore("", "ssm", lambda service: client(service, aws_env)).get(name) == HMAC_KEY

    def test_webhook_signs_with_decrypted_key(
        self, aws_env: str, backend: str, encrypted_webhook_secret: dict[str, Any]
    ) -> None:
        """The webhook output gets its URL and HMAC key from the encrypted secret, read once for two alerts."""
        counted = Counting(client(backend, aws_env))
        with ScriptedServer() as server:
            encrypted_webhook_secret["store"](f"{server.url}/in")
            sender, _ = dispatcher(
                aws_env,
                {"webhook:soar": {}},
                clients=clients_with(aws_env, {backend: counted}),
                secrets_prefix=encrypted_webhook_secret["prefix"],
                secrets_backend=backend,
            )
            alerts = [sample_alert(), sample_alert({"eventName": "ConsoleLogin", "n": 2})]
            report = sender.deliver([{**alert, "outputs": ["webhook:soar"]} for alert in alerts])
            assert report.delivered == tuple(alert["alert_id"] for alert in alerts)
            assert_signed_alerts(server, alerts)
        assert counted.calls == {READ_METHOD[backend]: 1}

    def test_default_dispatcher_from_environment(
        self,
        alert_sink: AlertSink,
        backend: str,
        encrypted_webhook_secret: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Configured only by SIGIL_SECRETS_PREFIX/BACKEND, the cold-start dispatcher delivers with the KMS secret."""
        monkeypatch.setenv("SIGIL_SECRETS_PREFIX", encrypted_webhook_secret["prefix"])
        monkeypatch.setenv("SIGIL_SECRETS_BACKEND", backend)
        dispatch.reset_default()
        with ScriptedServer() as server:
            encrypted_webhook_secret["store"](f"{server.url}/in")
            alert = sample_alert(outputs=["webhook:soar"])
            assert dispatch.deliver([alert]).delivered == (alert["alert_id"],)
            assert_signed_alerts(server, [alert])
        assert [received["alert_id"] for received in alert_sink.receive()] == [alert["alert_id"]]
