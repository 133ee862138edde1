"""The OutboundBot 2019-12-26 RPC API on ``/``: authentication, envelopes, actions, RPC faults."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from calltasks.simulator import render
from calltasks.simulator.campaign import Job, JobGroup
from calltasks.simulator.faults import FaultRule
from calltasks.simulator.params import Params, RpcError, invalid, merged_params, missing
from calltasks.simulator.strategy import StrategyError, parse_recall_strategy, parse_strategy
from calltasks.simulator.wire import Request, Response, drop_response, json_response

if TYPE_CHECKING:
    from calltasks.simulator.core import SimulatorCore

logger = logging.getLogger("calltasks.simulator")

API_VERSION = "2019-12-26"
HOST_ID = "outboundbot.cn-shanghai.aliyuncs.com"
MAX_JOBS_PER_ASSIGN = 99
MAX_JOB_IDS = 99
MAX_PAGE_SIZE = 100
JOB_STATUSES = ("Scheduling", "Executing", "Succeeded", "Paused", "Failed", "Cancelled", "Drafted")


def request_id() -> str:
    return str(uuid.uuid4()).upper()


def error_response(error: RpcError, rid: str | None = None) -> Response:
    rid = rid or request_id()
    payload: dict[str, object] = {
        "RequestId": rid,
        "HostId": HOST_ID,
        "Code": error.code,
        "Message": error.message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=OutboundBot&requestId={rid}",
    }
    if error.product:
        payload["Success"] = False
        payload["HttpStatusCode"] = error.status
    return json_response(error.status, payload, error.headers)


def success(data: dict | None = None) -> Response:
    payload: dict[str, object] = {
        "RequestId": request_id(),
        "Success": True,
        "Code": "OK",
        "Message": "Success",
        "HttpStatusCode": 200,
    }
    payload.update(data or {})
    return json_response(200, payload)


def _pre_fault_response(rule: FaultRule) -> Response | None:
    """Faults answered instead of running the action (slow only delays it: returns None)."""
    if rule.kind == "throttle":
        error = RpcError(400, "Throttling.User", "Request was denied due to user flow control.", headers={"x-acs-retry-after": str(rule.retry_after_ms)})
        return error_response(error)
    if rule.kind == "unavailable":
        return error_response(RpcError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."))
    if rule.kind == "internal":
        return error_response(
            RpcError(500, "InternalError", "The request processing has failed due to some unknown error, exception or failure.")
        )
    if rule.kind == "success_false":
        return json_response(
            200,
            {
                "RequestId": request_id(),
                "Success": False,
                "Code": rule.code,
                "Message": f"Simulated business failure ({rule.code}).",
                "HttpStatusCode": 200,
            },
        )
    if rule.kind == "malformed":
        return Response(status=200, body=f'{{"RequestId":"{request_id()}","Success":true,"Code":"OK","Jobs":{{"List":[{{"Id":"'.encode())
    if rule.kind == "drop":
        return drop_response()
    return None


def _truncated(response: Response) -> Response:
    """The real answer, cut off mid-body by a closed connection (fault kind ``truncate``)."""
    response.truncate = True
    return response


class RpcHandler:
    def __init__(self, core: SimulatorCore) -> None:
        self.core = core
        self.actions: dict[str, Callable[[Params, Request], Response]] = {
            "CreateJobGroup": self.create_job_group,
            "AssignJobs": self.assign_jobs,
            "QueryJobsWithResult": self.query_jobs_with_result,
            "ListJobsByGroup": self.list_jobs_by_group,
            "ListJobs": self.list_jobs,
            "DescribeJob": self.describe_job,
            "DescribeJobGroup": self.describe_job_group,
            "ListJobGroups": self.list_job_groups,
            "SuspendJobs": self.suspend_jobs,
            "ResumeJobs": self.resume_jobs,
            "CancelJobs": self.cancel_jobs,
            "DownloadRecording": self.download_recording,
            "DescribeInstance": self.describe_instance,
        }

    # --- request pipeline ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except RpcError as error:
            return error_response(error)

    def _handle(self, request: Request) -> Response:
        if request.method not in {"GET", "POST"}:
            raise RpcError(405, "UnsupportedHTTPMethod", "Use POST (or GET).")
        raw = merged_params(request)
        action = request.headers.get("x-acs-action") or raw.get("Action") or ""
        if self.core.config.require_signature:
            self.core.authenticator.verify(request, raw)
        if not action:
            raise missing("Action")
        version = request.headers.get("x-acs-version") or raw.get("Version")
        if version and version != API_VERSION:
            raise RpcError(400, "InvalidVersion", f"Specified parameter Version {version!r} is not valid.")
        handler = self.actions.get(action)
        if handler is None:
            raise RpcError(404, "InvalidApi.NotFound", f"Specified api {action!r} is not found, please check your url and method.")
        self.core.count_request(action)
        rule = self.core.faults.match(action, after_commit=False)
        if rule is not None:
            logger.info("simulator fault %s on %s", rule.kind, action)
            if rule.kind == "slow":
                self.core.sleep(rule.seconds)
            elif rule.kind == "truncate":
                pass  # the action runs; its answer is cut off below
            else:
                answer = _pre_fault_response(rule)
                if answer is not None:
                    return answer
        params = Params(raw)
        instance_id = params.require("InstanceId")
        if instance_id != self.core.config.instance_id:
            raise RpcError(404, "NotExist.Instance", f"The instance {instance_id} does not exist.", product=True)
        with self.core.lock:
            response = handler(params, request)
        if rule is not None and rule.kind == "truncate":
            return _truncated(response)
        if response.status == 200:
            after = self.core.faults.match(action, after_commit=True)
            if after is not None:
                logger.info("simulator fault %s on %s (after commit)", after.kind, action)
                if after.kind == "commit_drop":
                    return drop_response()
                response.delay_before_send = after.seconds
        return response

    # --- lookups --------------------------------------------------------------------------------------
    def _group(self, params: Params, *, advance: bool = True) -> JobGroup:
        group_id = params.require("JobGroupId")
        group = self.core.store.groups.get(group_id)
        if group is None:
            raise RpcError(404, "NotExist.JobGroup", f"The job group {group_id} does not exist.", product=True)
        if advance:
            self.core.store.advance_group(group)
        return group

    def _job(self, job_id: str) -> Job:
        job = self.core.store.jobs.get(job_id)
        if job is None:
            raise RpcError(404, "NotExist.Job", f"The job {job_id} does not exist.", product=True)
        self.core.store.advance_group(self.core.store.groups[job.group_id])
        return job

    @staticmethod
    def _paging(params: Params) -> tuple[int, int]:
        page = params.integer("PageNumber", required=True, minimum=1)
        size = params.integer("PageSize", required=True, minimum=1, maximum=MAX_PAGE_SIZE)
        assert page is not None and size is not None
        return page, size

    # --- actions ----------------------------------------------------------------------------------------
    def create_job_group(self, params: Params, request: Request) -> Response:
        name = params.require("JobGroupName")
        try:
            strategy = parse_strategy(params.json("StrategyJson"))
            recall = parse_recall_strategy(params.json("RecallStrategyJson"))
        except StrategyError as error:
            raise invalid("StrategyJson", str(error))
        priority = params.get("Priority", "Daily")
        if priority not in {"Urgent", "Daily"}:
            raise invalid("Priority", "must be Urgent or Daily")
        group = self.core.store.create_group(
            name=name,
            description=params.get("JobGroupDescription", "") or "",
            script_id=params.get("ScriptId") or params.get("ScenarioId") or "",
            calling_numbers=params.repeated("CallingNumber"),
            recall_calling_numbers=params.repeated("RecallCallingNumber"),
            strategy=strategy,
            recall=recall,
            ringing_duration=params.integer("RingingDuration", 25, minimum=5, maximum=120) or 25,
            priority=priority,
            min_concurrency=params.integer("MinConcurrency", 0, minimum=0) or 0,
        )
        logger.info("simulator: job group %s created", group.group_id)
        return success({"JobGroup": render.group_detail(group, with_progress=False)})

    def assign_jobs(self, params: Params, request: Request) -> Response:
        group = self._group(params)
        raw_jobs = params.repeated("JobsJson")
        if not raw_jobs:
            raise missing("JobsJson")
        if len(raw_jobs) > MAX_JOBS_PER_ASSIGN:
            raise invalid("JobsJson", f"at most {MAX_JOBS_PER_ASSIGN} jobs per call, got {len(raw_jobs)}")
        strategy = None
        if params.get("StrategyJson"):
            try:
                strategy = parse_strategy(params.json("StrategyJson"))
            except StrategyError as error:
                raise invalid("StrategyJson", str(error))
        parsed: list[tuple[dict, list[dict]]] = []
        for index, text in enumerate(raw_jobs, start=1):
            name = f"JobsJson.{index}"
            try:
                data = json.loads(text)
            except ValueError:
                raise invalid(name, "not a valid JSON string")
            if not isinstance(data, dict):
                raise invalid(name, "must be a JSON object")
            contacts = data.get("contacts")
            if not isinstance(contacts, list) or not contacts or not isinstance(contacts[0], dict):
                raise invalid(name, "contacts must be a non-empty list of objects")
            contact = contacts[0]
            phone = contact.get("phoneNumber")
            if not isinstance(phone, str | int) or not str(phone).strip():
                raise invalid(name, "contacts[0].phoneNumber is required")
            digits = str(phone).strip().lstrip("+")
            if not digits.replace("-", "").isdigit() or not 5 <= len(digits) <= 20:
                raise invalid(name, "contacts[0].phoneNumber is not a phone number")
            extras = data.get("extras") or []
            if not isinstance(extras, list) or not all(isinstance(e, dict) and "key" in e for e in extras):
                raise invalid(name, "extras must be a list of {key, value}")
            parsed.append(({**contact, "phoneNumber": str(phone).strip()}, extras))
        jobs = [self.core.store.add_job(group, contact, extras, strategy) for contact, extras in parsed]
        logger.debug("simulator: %d jobs assigned to group %s", len(jobs), group.group_id)
        return success({"JobGroupId": group.group_id, "JobsId": [job.job_id for job in jobs]})

    def query_jobs_with_result(self, params: Params, request: Request) -> Response:
        group = self._group(params)
        page, size = self._paging(params)
        status = params.get("JobStatusFilter")
        if status is not None and status not in JOB_STATUSES:
            raise invalid("JobStatusFilter", f"unknown job status {status!r}")
        task_statuses = params.json_string_list("TaskStatusFilter")
        reasons = params.json_string_list("JobFailureReasonsFilter")
        answered = params.boolean("HasAnsweredFilter")
        text = (params.get("QueryText") or "").strip().lower()
        start = params.integer("StartActualTimeFilter")
        end = params.integer("EndActualTimeFilter")
        now = self.core.clock.now()

        def keep(job: Job) -> bool:
            latest = job.latest
            if status is not None and job.status != status:
                return False
            if text and text not in job.phone.lower() and text not in job.reference_id.lower() and text not in job.name.lower():
                return False
            if answered is not None and (job.connected_attempt is not None) != answered:
                return False
            if task_statuses is not None and (latest is None or latest.status not in task_statuses):
                return False
            if reasons is not None and job.failure_reason not in reasons:
                return False
            if start is not None and (latest is None or latest.actual_time is None or latest.actual_time * 1000 < start):
                return False
            return not (end is not None and (latest is None or latest.end_time is None or latest.end_time * 1000 > end))

        selected = [job for job in group.jobs if keep(job)]
        chunk = selected[(page - 1) * size : page * size]
        return success(
            {
                "Jobs": {
                    "PageNumber": page,
                    "PageSize": size,
                    "RowCount": len(selected),
                    "PageCount": math.ceil(len(selected) / size),
                    "List": [render.job_with_result(self.core.store, job, now) for job in chunk],
                },
                "Labels": [],
                "VariableNames": [],
            }
        )

    def list_jobs_by_group(self, params: Params, request: Request) -> Response:
        group = self._group(params)
        page, size = self._paging(params)
        status = params.get("JobStatus")
        if status is not None and status not in JOB_STATUSES:
            raise invalid("JobStatus", f"unknown job status {status!r}")
        reason = params.get("JobFailureReason")
        now = self.core.clock.now()
        selected = [
            job for job in group.jobs if (status is None or job.status == status) and (reason is None or job.failure_reason == reason)
        ]
        chunk = selected[(page - 1) * size : page * size]
        return success(
            {
                "Jobs": {
                    "PageNumber": page,
                    "PageSize": size,
                    "TotalCount": len(selected),
                    "List": [render.job_brief(self.core.store, job, now) for job in chunk],
                }
            }
        )

    def list_jobs(self, params: Params, request: Request) -> Response:
        job_ids = params.repeated("JobId")
        if not job_ids:
            raise missing("JobId")
        if len(job_ids) > MAX_JOB_IDS:
            raise invalid("JobId", f"at most {MAX_JOB_IDS} job ids per call, got {len(job_ids)}")
        store = self.core.store
        jobs = [store.jobs[job_id] for job_id in job_ids if job_id in store.jobs]
        for group_id in {job.group_id for job in jobs}:
            store.advance_group(store.groups[group_id])
        now = self.core.clock.now()
        return success({"Jobs": [render.job_detail(store, job, now) for job in jobs]})

    def describe_job(self, params: Params, request: Request) -> Response:
        job = self._job(params.require("JobId"))
        return success({"Job": render.job_detail(self.core.store, job, self.core.clock.now())})

    def describe_job_group(self, params: Params, request: Request) -> Response:
        group = self._group(params)
        return success({"JobGroup": render.group_detail(group)})

    def list_job_groups(self, params: Params, request: Request) -> Response:
        page, size = self._paging(params)
        search = (params.get("SearchText") or "").lower()
        statuses = {s.strip() for s in (params.get("JobGroupStatusFilter") or "").split(",") if s.strip()}
        start = params.integer("StartTime")
        end = params.integer("EndTime")
        store = self.core.store
        store.advance_all()
        groups = sorted(store.groups.values(), key=lambda g: g.created_at, reverse=True)
        selected = [
            g
            for g in groups
            if (not search or search in g.name.lower() or search in g.group_id.lower())
            and (not statuses or g.status() in statuses)
            and (start is None or g.created_at * 1000 >= start)
            and (end is None or g.created_at * 1000 <= end)
        ]
        chunk = selected[(page - 1) * size : page * size]
        return success(
            {"JobGroups": {"PageNumber": page, "PageSize": size, "TotalCount": len(selected), "List": [render.group_detail(g) for g in chunk]}}
        )

    def _control_targets(self, params: Params) -> list[Job]:
        store = self.core.store
        apply_all = params.boolean("All", required=True)
        group = self._group(params) if params.get("JobGroupId") else None
        if apply_all:
            if group is None:
                raise missing("JobGroupId")
            return list(group.jobs)
        job_ids = params.repeated("JobId")
        references = params.repeated("JobReferenceId")
        if not job_ids and not references:
            raise missing("JobId")
        targets: dict[str, Job] = {}
        for job_id in job_ids:
            job = self._job(job_id)
            if group is not None and job.group_id != group.group_id:
                raise RpcError(404, "NotExist.Job", f"The job {job_id} does not exist in this group.", product=True)
            targets[job.job_id] = job
        if references:
            wanted = set(references)
            pool = group.jobs if group is not None else list(store.jobs.values())
            for job in pool:
                if job.reference_id in wanted:
                    store.advance_group(store.groups[job.group_id])
                    targets[job.job_id] = job
        return list(targets.values())

    def suspend_jobs(self, params: Params, request: Request) -> Response:
        self.core.store.suspend(self._control_targets(params))
        return success()

    def resume_jobs(self, params: Params, request: Request) -> Response:
        self.core.store.resume(self._control_targets(params))
        return success()

    def cancel_jobs(self, params: Params, request: Request) -> Response:
        self.core.store.cancel(self._control_targets(params))
        return success()

    def download_recording(self, params: Params, request: Request) -> Response:
        task_id = params.require("TaskId")
        store = self.core.store
        found = store.attempts.get(task_id)
        if found is None:
            raise RpcError(404, "NotExist.Task", f"The task {task_id} does not exist.", product=True)
        job, attempt = found
        store.advance_group(store.groups[job.group_id])
        if not attempt.connected or attempt.recording_name is None:
            raise RpcError(404, "NotExist.Recording", f"The task {task_id} has no recording (not connected).", product=True)
        base_url = self.core.base_url(request)
        name = attempt.recording_name
        slices = []
        if params.boolean("NeedVoiceSliceRecording", False):
            slices = [{"fileName": f"slice-1-{name}", "filePath": f"recordings/slices/slice-1-{name}"}]
        return success(
            {
                "DownloadParams": {
                    "SignatureUrl": self.core.signer.sign_url(base_url, name),
                    "FileName": name,
                    "EarlyMediaSignatureUrl": self.core.signer.sign_url(base_url, f"early-{name}"),
                    "VoiceSliceRecordingListJson": json.dumps(slices),
                }
            }
        )

    def describe_instance(self, params: Params, request: Request) -> Response:
        return success(
            {
                "Instance": {
                    "InstanceId": self.core.config.instance_id,
                    "InstanceName": "DCC 模拟实例",
                    "InstanceDescription": "local simulator",
                    "MaxConcurrentConversation": 100,
                    "CallingNumbers": list(self.core.config.calling_numbers),
                    "CreationTime": int(self.core.started_at * 1000),
                    "NluServiceType": "Prompts",
                }
            }
        )
