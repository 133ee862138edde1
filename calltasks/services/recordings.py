"""Copy call recordings into private storage (SPEC §4: a separate step that can run later).

For connected rows without a stored file: ask the provider for a fresh pre-signed URL
(``DownloadRecording``; they expire, so never reuse an old one), download it only from an allowed host
(SSRF guard: ``RECORDING_ALLOWED_HOSTS``, a leading dot meaning "this domain and its subdomains";
http/https only; redirects followed only to allowed hosts), with timeouts and a size cap, and save it as
``recordings/<org>/<task>/<row>.wav`` in the default (private) storage.

HTTP runs outside transactions, downloads in a small thread pool (``RECORDING_DOWNLOAD_CONCURRENCY``)
that never touches the database; each row is then linked by one short UPDATE. Failures are counted and
retried on a later pass (the row still has no file).
"""

from __future__ import annotations

import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.files import File
from django.db.models import Q

from calltasks.models import CallTask, LeadTask
from calltasks.provider.errors import ProviderError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_REDIRECTS = 3
CHUNK_SIZE = 64 * 1024


@dataclass
class RecordingsResult:
    fetched: int = 0
    failed: int = 0


class RecordingRefused(Exception):
    """The URL is not one we download from (scheme, host, credentials) or the file is too large."""


def recording_storage():
    return LeadTask._meta.get_field("recording_file").storage


def recording_path(*, organization_id: int, task_id: int, row_id: int) -> str:
    return f"recordings/{organization_id}/{task_id}/{row_id}.wav"


def host_allowed(url: str, allowed_hosts: list[str] | None = None) -> bool:
    """SSRF guard: http(s), no credentials in the URL, host equal to an allowed host or under ``.suffix``."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        _port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    for allowed in settings.RECORDING_ALLOWED_HOSTS if allowed_hosts is None else allowed_hosts:
        allowed = (allowed or "").strip().lower().rstrip(".")
        if not allowed:
            continue
        if allowed.startswith("."):
            if host == allowed[1:] or host.endswith(allowed):
                return True
        elif host == allowed:
            return True
    return False


def _download(url: str, destination) -> int:
    """Stream ``url`` into ``destination``; returns the byte count. Raises on refusal or failure."""
    max_bytes = settings.RECORDING_MAX_BYTES
    for _hop in range(MAX_REDIRECTS + 1):
        if not host_allowed(url):
            raise RecordingRefused("host not allowed")
        with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), allow_redirects=False) as resp:
            if resp.is_redirect:
                url = urljoin(url, resp.headers.get("Location", ""))
                continue
            resp.raise_for_status()
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise RecordingRefused("too large")
            size = 0
            for chunk in resp.iter_content(CHUNK_SIZE):
                size += len(chunk)
                if size > max_bytes:
                    raise RecordingRefused("too large")
                destination.write(chunk)
            if not size:
                raise RecordingRefused("empty")
            return size
    raise RecordingRefused("too many redirects")


def _fetch_and_store(job: dict) -> str:
    """Worker thread: download and save the file; no database access here. Returns the stored name."""
    storage = recording_storage()
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as tmp:
        _download(job["url"], tmp)
        tmp.seek(0)
        if storage.exists(job["name"]):  # an orphan of an interrupted earlier attempt
            storage.delete(job["name"])
        return storage.save(job["name"], File(tmp, name=job["name"]))


def _pending_rows(task_id: int):
    return (
        LeadTask.objects.filter(task_id=task_id, is_connected=True)
        .exclude(call_task_id="")
        .filter(Q(recording_file="") | Q(recording_file__isnull=True))
        .order_by("pk")
    )


def recordings_fetch_for_task(*, task_id: int, limit: int | None = None, client=None) -> RecordingsResult:
    """Fetch up to ``limit`` missing recordings of one task; never raises for a single recording."""
    result = RecordingsResult()
    organization_id = CallTask.objects.filter(pk=task_id).values_list("organization_id", flat=True).first()
    if organization_id is None:
        return result
    rows = _pending_rows(task_id).values("pk", "call_task_id")
    if limit:
        rows = rows[:limit]
    rows = list(rows)
    if not rows:
        return result
    if client is None:
        from calltasks.services.provider import get_provider_client

        client = get_provider_client()

    jobs = []
    for index, row in enumerate(rows):  # provider calls one by one on the shared client session
        try:
            recording = client.download_recording(task_id=row["call_task_id"])
        except (ProviderError, requests.RequestException) as exc:
            logger.warning(
                "DownloadRecording failed for lead row %s: %s", row["pk"], getattr(exc, "code", type(exc).__name__)
            )
            if getattr(exc, "retryable", True):  # the provider is struggling: leave the rest for a later pass
                result.failed += len(rows) - index
                break
            result.failed += 1
            continue
        if not recording.url:
            result.failed += 1
            continue
        LeadTask.objects.filter(pk=row["pk"]).update(recording_url=recording.url)
        jobs.append(
            {
                "pk": row["pk"],
                "url": recording.url,
                "name": recording_path(organization_id=organization_id, task_id=task_id, row_id=row["pk"]),
            }
        )

    if jobs:
        workers = max(1, min(settings.RECORDING_DOWNLOAD_CONCURRENCY, len(jobs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="recording") as pool:
            futures = [(job, pool.submit(_fetch_and_store, job)) for job in jobs]
            outcomes = []
            for job, future in futures:
                try:
                    outcomes.append((job, future.result(), None))
                except (RecordingRefused, requests.RequestException, OSError) as exc:
                    outcomes.append((job, None, exc))
        storage = recording_storage()
        for job, name, exc in outcomes:
            if exc is not None:
                result.failed += 1
                logger.warning("Recording of lead row %s not copied: %s", job["pk"], _reason(exc))
                continue
            linked = LeadTask.objects.filter(pk=job["pk"], recording_file="").update(recording_file=name)
            if linked:
                result.fetched += 1
            else:  # another worker linked a file meanwhile; drop ours
                storage.delete(name)
    return result


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecordingRefused):
        return f"refused ({exc})"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def recordings_fetch_pending(*, limit: int = 100, client=None) -> RecordingsResult:
    """The "later" step: copy missing recordings across tasks, oldest tasks first, up to ``limit``."""
    total = RecordingsResult()
    task_ids = (
        LeadTask.objects.filter(is_connected=True, recording_file="", task__deleted_at__isnull=True)
        .exclude(call_task_id="")
        .order_by("task_id")
        .values_list("task_id", flat=True)
        .distinct()
    )
    for task_id in list(task_ids):
        if limit <= 0:
            break
        part = recordings_fetch_for_task(task_id=task_id, limit=limit, client=client)
        total.fetched += part.fetched
        total.failed += part.failed
        limit -= part.fetched + part.failed
    return total
