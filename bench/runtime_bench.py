"""Runtime benchmark: records/s through the pipeline and the Lambda handler, and peak memory streaming S3.

Part of `make bench` (``measure`` returns the rows bench/RESULTS.md gets); ``python -m bench.runtime_bench``
prints them on its own. Everything runs on this machine: the AWS side is a moto server on 127.0.0.1.
Inputs are generated deterministically (seeded variations of the repository's samples).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))  # moto_process and make_samples, as tests/conftest.py does

import make_samples  # noqa: E402
from moto_process import AlertSink, MotoServer, client, local_aws_env, s3_notification_event  # noqa: E402

SEED = 20241114
MIB = 1024 * 1024
S3_BYTES_ENV = "SIGIL_BENCH_S3_BYTES"
DEFAULT_S3_BYTES = 1024 * MIB
PART_BYTES = 8 * MIB  # multipart upload part (S3's minimum is 5 MiB)
LOUD_FRACTION = 0.02  # share of CloudTrail records copied from samples that can alert; the rest are routine calls
TARGET_PEAK_MB = 256

CLOUDTRAIL_SAMPLES = (ROOT / "samples" / "records" / "cloudtrail.jsonl", ROOT / "tests" / "samples" / "cloudtrail" / "s3_object.json")
FLOW_SAMPLE = ROOT / "tests" / "samples" / "vpc_flow" / "cloudwatch_lines.log"
SYSLOG_SAMPLES = sorted((ROOT / "tests" / "samples" / "linux_syslog").glob("*.log"))

QUIET_CALLS = (
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetObject"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("iam.amazonaws.com", "ListUsers"),
    ("kms.amazonaws.com", "Decrypt"),
    ("config.amazonaws.com", "PutEvaluations"),
    ("lambda.amazonaws.com", "ListFunctions"),
)
QUIET_IDENTITY = {
    "type": "IAMUser",
    "principalId": "AIDA4EXAMPLEBENCH0001",
    "arn": "arn:aws:iam::123456789012:user/ci",
    "accountId": "123456789012",
    "userName": "ci",
}
EPOCH = 1715677951  # 2024-05-14T09:12:31Z, the samples' day


# --- deterministic inputs ---------------------------------------------------------------------------


def cloudtrail_bases() -> list[dict[str, Any]]:
    """Return the sample CloudTrail records (one JSON object per line, or a ``{"Records": [...]}`` file)."""
    records: list[dict[str, Any]] = []
    for path in CLOUDTRAIL_SAMPLES:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            records += [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records += json.loads(text)["Records"]
    return records


def _ip(rng: random.Random) -> str:
    return f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def cloudtrail_records(count: int, seed: int = SEED, loud: float = LOUD_FRACTION) -> Iterator[dict[str, Any]]:
    """Yield ``count`` CloudTrail records: sample copies (a ``loud`` share, which may alert) or routine API calls."""
    rng, bases = random.Random(seed), cloudtrail_bases()
    for _ in range(count):
        record = dict(rng.choice(bases))
        if rng.random() >= loud:
            record["eventSource"], record["eventName"] = rng.choice(QUIET_CALLS)
            record["userIdentity"] = QUIET_IDENTITY
            record.pop("errorCode", None)
        record["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH + rng.randrange(86_400)))
        record["eventID"], record["requestID"] = _uuid(rng), _uuid(rng)
        record["sourceIPAddress"] = _ip(rng)
        yield record


def cloudtrail_payloads(count: int, seed: int = SEED) -> Iterator[bytes]:
    """Yield Kinesis payloads as CloudTrail delivers them: ``{"Records": [record]}``."""
    return (make_samples.cloudtrail_payload(record) for record in cloudtrail_records(count, seed))


def cloudtrail_lines(count: int, seed: int = SEED) -> Iterator[bytes]:
    """Yield newline-delimited CloudTrail records (one record per line, as Firehose writes them to S3)."""
    return (json.dumps(record, separators=(",", ":")).encode() + b"\n" for record in cloudtrail_records(count, seed))


def flow_lines(count: int, seed: int = SEED) -> Iterator[bytes]:
    """Yield VPC flow log lines (version 2), shaped like tests/samples/vpc_flow: mostly OK, some NODATA/SKIPDATA."""
    rng = random.Random(seed)
    accounts = sorted({line.split()[1] for line in FLOW_SAMPLE.read_text().splitlines() if line.strip()})
    for _ in range(count):
        account, eni = rng.choice(accounts), f"eni-{rng.getrandbits(68):017x}"
        start = EPOCH + rng.randrange(86_400)
        end = start + rng.randrange(30, 600)
        if rng.random() < 0.05:
            status = rng.choice(("NODATA", "SKIPDATA"))
            yield f"2 {account} {eni} - - - - - - - {start} {end} - {status}".encode()
            continue
        protocol = rng.choice((6, 6, 6, 17, 1))
        ports = (0, 0) if protocol == 1 else (rng.randrange(1024, 65536), rng.choice((22, 80, 443, 3389, 53, 8080)))
        packets = rng.randrange(1, 500)
        action = "ACCEPT" if rng.random() < 0.8 else "REJECT"
        yield (
            f"2 {account} {eni} {_ip(rng)} {_ip(rng)} {ports[0]} {ports[1]} {protocol} {packets} "
            f"{packets * rng.randrange(40, 1500)} {start} {end} {action} OK"
        ).encode()


_SYSLOG_SUBS = (
    (re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"), lambda rng: time.strftime("%b %e %H:%M:%S", time.gmtime(EPOCH + rng.randrange(86_400)))),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00"), lambda rng: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(EPOCH + rng.randrange(86_400))) + f".{rng.randrange(10**6):06d}+00:00"),
    (re.compile(r"\bweb-\d\d\b"), lambda rng: f"web-{rng.randrange(1, 100):02d}"),
    (re.compile(r"\[\d+\]"), lambda rng: f"[{rng.randrange(300, 65000)}]"),
    (re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b"), _ip),
    (re.compile(r"port \d+"), lambda rng: f"port {rng.randrange(1024, 65536)}"),
)


def syslog_lines(count: int, seed: int = SEED) -> Iterator[bytes]:
    """Yield Linux syslog lines (RFC 3164 and 5424) from the samples, with times, hosts, pids, addresses varied."""
    rng = random.Random(seed)
    templates = [line for path in SYSLOG_SAMPLES for line in path.read_text().splitlines() if line.strip()]
    for _ in range(count):
        line = rng.choice(templates)
        for pattern, value in _SYSLOG_SUBS:
            line = pattern.sub(lambda _match, value=value: value(rng), line)
        yield line.encode()


def kinesis_events(payloads: Iterable[bytes], seed: int = SEED, sizes: tuple[int, int] = (100, 500)) -> list[dict[str, Any]]:
    """Group payloads into Lambda Kinesis events of ``sizes`` records (drawn per event)."""
    rng, events, batch = random.Random(seed), [], []
    size = rng.randint(*sizes)
    for payload in payloads:
        batch.append(payload)
        if len(batch) == size:
            events.append(make_samples.kinesis_event(batch))
            batch, size = [], rng.randint(*sizes)
    if batch:
        events.append(make_samples.kinesis_event(batch))
    return events


INPUTS = {  # name: (generator, log type)
    "CloudTrail JSON": (cloudtrail_payloads, "cloudtrail"),
    "VPC flow log lines (regex)": (flow_lines, "vpc_flow"),
    "Linux syslog lines": (syslog_lines, "linux_syslog"),
}
STREAM = make_samples.STREAM_ARN.rsplit("/", 1)[1]  # the Kinesis stream the events come from


# --- the compiled rule pack and the AWS environment -------------------------------------------------


def compile_pack(workdir: Path) -> Path:
    """Compile rules/ against schemas/ into ``workdir``; return the build dir holding ``sigil_rules``."""
    from compiler.build import compile_rules

    out = workdir / "rules-build"
    result = compile_rules([str(ROOT / "rules")], str(ROOT / "schemas"), out)
    if result.errors:
        raise RuntimeError(f"rules/ does not compile: {result.errors}")
    return out


def _forget_rules() -> None:
    from runtime.rules import rule_set

    for name in [name for name in sys.modules if name == "sigil_rules" or name.startswith("sigil_rules.")]:
        del sys.modules[name]
    rule_set.cache_clear()


@contextlib.contextmanager
def rules_loaded(build: Path) -> Iterator[Any]:
    """Make ``build/sigil_rules`` the package ``runtime.rules`` loads; yield its RuleSet."""
    from runtime.rules import rule_set

    _forget_rules()
    sys.path.insert(0, str(build))
    try:
        yield rule_set()
    finally:
        sys.path.remove(str(build))
        _forget_rules()


def _clear_clients() -> None:
    from runtime import quarantine
    from runtime.outputs import sns
    from runtime.sources import s3

    sns.client.cache_clear()
    s3.client.cache_clear()
    quarantine.clear_clients()
    quarantine.from_url.cache_clear()


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables (and recreate the runtime's cached boto3 clients) for the block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    _clear_clients()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _clear_clients()


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send the runtime's JSON log lines to /dev/null (still formatted: Lambda pays for them too)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


# --- records per second -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """One timed pass of events: how many records, alerts, quarantines and failed items, in how long."""

    records: int
    alerts: int
    quarantined: int
    failed_items: int
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds

    def row(self) -> str:
        return (
            f"{self.per_second:,.0f} records/s = {self.seconds / self.records * 1e6:.1f} µs/record "
            f"({self.records:,} records in {self.events} Kinesis events of 100-500; {self.alerts} alerts, "
            f"{self.quarantined} quarantined, {self.failed_items} failed items)"
        )


def _counting_deliver(alerts: list[dict[str, Any]]) -> Any:
    from runtime.pipeline import DeliveryReport

    return DeliveryReport(delivered=tuple(str(alert["alert_id"]) for alert in alerts))


def pipeline_throughput(events: list[dict[str, Any]], log_type: str | None = None, repeat: int = 3) -> Throughput:
    """Best of ``repeat`` passes of ``process_batch`` with a deliver function that only counts (CPU per record).

    With ``log_type``, a source map says the stream carries only that type (else every type is tried).
    """
    from runtime.pipeline import Runtime, process_batch
    from runtime.rules import rule_set
    from runtime.sources.source_map import SourceMap

    sources = SourceMap.from_config({"kinesis": {STREAM: [log_type]}}) if log_type else SourceMap()
    runtime = Runtime(rules=rule_set(), deliver=_counting_deliver, sources=sources)
    best: Throughput | None = None
    with quiet_stdout():
        process_batch(events[0], runtime)  # warm: memoized source map, first-use imports
        for _ in range(repeat):
            start = time.perf_counter()
            stats = [process_batch(event, runtime).stats for event in events]
            run = _throughput(stats, len(events), time.perf_counter() - start)
            best = run if best is None or run.seconds < best.seconds else best
    assert best is not None
    return best


def handler_throughput(events: list[dict[str, Any]], endpoint: str) -> tuple[Throughput, int]:
    """One pass of ``runtime.handler.handler`` publishing to an SNS topic on moto; return it and the alerts received.

    The counts come from the handler's own ``batch_summary`` log lines.
    """
    from runtime.handler import handler

    sink = AlertSink.create(endpoint)
    with environment({**local_aws_env(endpoint), "SIGIL_ALERTS_TOPIC_ARN": sink.topic_arn}):
        with quiet_stdout():
            handler(events[0], None)  # warm: boto3 client creation (a cold start) is not measured
        sink.receive(wait_seconds=0)
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            start = time.perf_counter()
            failures = sum(len(handler(event, None)["batchItemFailures"]) for event in events[1:])
            seconds = time.perf_counter() - start
    summaries = [SimpleNamespace(**doc) for doc in map(json.loads, log.getvalue().splitlines()) if doc.get("event") == "batch_summary"]
    run = _throughput(summaries, len(events) - 1, seconds)
    if failures != run.failed_items:
        raise RuntimeError(f"handler reported {failures} batch item failures, its summaries {run.failed_items}")
    return run, len(sink.receive(wait_seconds=0))


def _throughput(stats: list[Any], events: int, seconds: float) -> Throughput:
    return Throughput(
        records=sum(s.records for s in stats),
        alerts=sum(s.alerts for s in stats),
        quarantined=sum(s.quarantined for s in stats),
        failed_items=sum(s.failed_items for s in stats),
        events=events,
        seconds=seconds,
    )


# --- streaming an S3 object -------------------------------------------------------------------------


def object_chunks(size: int, seed: int = SEED, chunk: int = PART_BYTES, gzip: bool = False) -> Iterator[bytes]:
    """Yield about ``size`` bytes of CloudTrail JSON lines in ``chunk``-byte blocks (gzip-compressed when asked)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
    lines, written, pending, block = cloudtrail_lines(sys.maxsize, seed), 0, [], 0
    while written < size:
        line = next(lines)
        pending.append(line)
        block += len(line)
        written += len(line)
        if block >= chunk or written >= size:
            data = b"".join(pending)
            pending, block = [], 0
            data = compressor.compress(data) if compressor else data
            if data:
                yield data
    if compressor:
        yield compressor.flush()


def upload(endpoint: str, bucket: str, key: str, chunks: Iterable[bytes]) -> int:
    """Upload ``chunks`` as one object by multipart upload (parts of ≥ PART_BYTES), holding one part at a time."""
    s3 = client("s3", endpoint)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts, total, buffer = [], 0, bytearray()

    def send() -> None:
        number = len(parts) + 1
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer))["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
        buffer.clear()

    for data in chunks:
        buffer += data
        total += len(data)
        if len(buffer) >= PART_BYTES:
            send()
    if buffer or not parts:
        send()
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    return total


@dataclass(frozen=True)
class StreamRun:
    """The Lambda side of one S3 object: lines, seconds, and its memory (kB) before, during and at the peak."""

    object_bytes: int
    records: int
    alerts: int
    quarantined: int
    failed_items: int
    seconds: float
    baseline_kb: int
    peak_kb: int  # VmHWM, read by the child itself at the end
    rss_kb: tuple[int, ...]  # resident set size at 10%, 25%, 50%, 75% and 100% of the run

    @property
    def growth_kb(self) -> int:
        """How far memory rose after the first tenth of the run (≈0 when flat)."""
        return max(self.rss_kb) - self.rss_kb[0]


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def consume(event_file: Path, build: Path, out_file: Path) -> None:
    """Child process: load the rules, run the pipeline on the S3 notification in ``event_file``, write a JSON summary."""
    from runtime.pipeline import Runtime, process_batch

    event = json.loads(event_file.read_text())
    with rules_loaded(build) as rules:
        runtime = Runtime(rules=rules, deliver=_counting_deliver)
        baseline = _status_kb("VmRSS")
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                samples.append((time.perf_counter(), _status_kb("VmRSS")))

        sampler = threading.Thread(target=sample, daemon=True)
        start = time.perf_counter()
        sampler.start()
        with quiet_stdout():
            stats = process_batch(event, runtime).stats
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    samples.append((start + seconds, _status_kb("VmRSS")))
    rss = [next(kb for at, kb in samples if at - start >= share * seconds) for share in (0.1, 0.25, 0.5, 0.75, 1.0)]
    out_file.write_text(json.dumps({
        "records": stats.records, "alerts": stats.alerts, "quarantined": stats.quarantined,
        "failed_items": stats.failed_items, "seconds": seconds, "baseline_kb": baseline,
        "hwm_kb": _status_kb("VmHWM"), "rss_kb": rss,
    }))


def stream_memory(endpoint: str, bucket: str, key: str, build: Path, workdir: Path, object_bytes: int) -> StreamRun:
    """Run ``consume`` in a child process on the object's notification; return what it measured.

    The peak is the child's own VmHWM: ``ru_maxrss`` from wait4 would also count the parent's pages the
    child held between fork and exec (measured: it reports the bench's size, not the consumer's).
    """
    event_file, out_file = workdir / "s3-event.json", workdir / "s3-run.json"
    event_file.write_text(json.dumps(s3_notification_event(endpoint, bucket, key), default=str))
    command = [sys.executable, "-m", "bench.runtime_bench", "--consume", str(event_file), str(build), str(out_file)]
    env = {**os.environ, **local_aws_env(endpoint), "PYTHONPATH": str(ROOT)}
    subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=True)
    run = json.loads(out_file.read_text())
    return StreamRun(
        object_bytes=object_bytes,
        records=run["records"],
        alerts=run["alerts"],
        quarantined=run["quarantined"],
        failed_items=run["failed_items"],
        seconds=run["seconds"],
        baseline_kb=run["baseline_kb"],
        peak_kb=run["hwm_kb"],
        rss_kb=tuple(run["rss_kb"]),
    )


def s3_rows(run: StreamRun, upload_seconds: float, gzip: bool) -> list[tuple[str, str]]:
    """Rows for one streamed object, with the extrapolation to 1 GiB when a smaller object was used."""
    mb = run.object_bytes / MIB
    kind = "gzip" if gzip else "plain"
    peak_mb = run.peak_kb / 1024
    rows = [
        (f"S3 stream {mb:,.0f} MiB {kind} CloudTrail JSON lines: throughput",
         f"{run.records / run.seconds:,.0f} lines/s, {mb / run.seconds:.1f} MiB/s "
         f"({run.records:,} lines in {run.seconds:.1f} s; {run.alerts} alerts, {run.quarantined} quarantined, "
         f"{run.failed_items} failed items; upload to moto took {upload_seconds:.1f} s)"),
        (f"S3 stream {mb:,.0f} MiB {kind}: Lambda-side peak memory",
         f"{peak_mb:.0f} MB peak RSS (VmHWM of the consumer process) ({'meets' if peak_mb < TARGET_PEAK_MB else 'misses'} the {TARGET_PEAK_MB} MB target); "
         f"{run.baseline_kb / 1024:.0f} MB after imports and loading the rules; RSS at 10/25/50/75/100% of the run: "
         f"{'/'.join(f'{kb / 1024:.0f}' for kb in run.rss_kb)} MB (growth after 10%: {run.growth_kb / 1024:+.1f} MB)"),
    ]
    if run.object_bytes < DEFAULT_S3_BYTES:
        factor = DEFAULT_S3_BYTES / run.object_bytes
        rows.append((f"S3 stream {mb:,.0f} MiB {kind}: extrapolated to 1 GiB",
                     f"≈{run.seconds * factor:,.0f} s to process, ≈{upload_seconds * factor:,.0f} s to upload (linear)"))
    return rows


# --- the whole measurement --------------------------------------------------------------------------


def measure(
    workdir: Path,
    records: int = 20_000,
    handler_records: int = 5_000,
    s3_bytes: int | None = None,
    s3_gzip: bool = False,
) -> list[tuple[str, str]]:
    """Run every measure with files under ``workdir``; return (label, value) rows for bench/RESULTS.md."""
    s3_bytes = s3_bytes or int(os.environ.get(S3_BYTES_ENV, DEFAULT_S3_BYTES))
    build = compile_pack(workdir)
    rows: list[tuple[str, str]] = []
    with rules_loaded(build):
        for name, (generate, log_type) in INPUTS.items():
            events = kinesis_events(generate(records))
            rows.append((f"pipeline, no-op deliver: {name}", pipeline_throughput(events).row()))
            rows.append((f"pipeline, no-op deliver, source map → {log_type}: {name}", pipeline_throughput(events, log_type).row()))
        with MotoServer() as server:
            events = kinesis_events(cloudtrail_payloads(handler_records))
            run, received = handler_throughput(events, server.url)
            rows.append(("handler end to end, SNS on moto: CloudTrail JSON", f"{run.row()}; {received} alerts read back from SNS→SQS"))
            bucket = f"sigil-bench-{os.getpid()}"
            client("s3", server.url).create_bucket(Bucket=bucket)
            key = "cloudtrail/bench.jsonl" + (".gz" if s3_gzip else "")
            start = time.perf_counter()
            upload(server.url, bucket, key, object_chunks(s3_bytes, gzip=s3_gzip))
            upload_seconds = time.perf_counter() - start
            stream = stream_memory(server.url, bucket, key, build, workdir, s3_bytes)
            rows += s3_rows(stream, upload_seconds, s3_gzip)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="records per input for the pipeline rates")
    parser.add_argument("--handler-records", type=int, default=5_000, help="CloudTrail records through the handler on moto")
    parser.add_argument("--s3-bytes", type=int, default=None, help=f"size of the S3 object (default ${S3_BYTES_ENV} or 1 GiB)")
    parser.add_argument("--s3-gzip", action="store_true", help="gzip the S3 object")
    parser.add_argument("--consume", nargs=3, type=Path, metavar=("EVENT", "BUILD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.consume:
        consume(*args.consume)
        return 0
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sigil-runtime-bench-") as tmp:
        for label, value in measure(Path(tmp), args.records, args.handler_records, args.s3_bytes, args.s3_gzip):
            print(f"{label}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
