"""Provider-shaped JSON for groups, jobs and call attempts (PascalCase, epoch milliseconds)."""

from __future__ import annotations

import random

from calltasks.simulator.campaign import CallAttempt, CampaignStore, Job, JobGroup
from calltasks.simulator.dialogues import CATEGORY_LABELS, DialogueSpec, build_conversation
from calltasks.simulator.fates import SILENT_STATUSES, fate_seed
from dcc_project.phones import mask_phone

JOB_STATUS_NAMES = {
    "Scheduling": "调度中",
    "Executing": "执行中",
    "Succeeded": "执行成功",
    "Paused": "已暂停",
    "Failed": "执行失败",
    "Cancelled": "已取消",
    "Drafted": "草稿",
}
TASK_STATUS_NAMES = {
    "Executing": "执行中",
    "NoAnswer": "无人接听",
    "NotExist": "空号",
    "Busy": "占线",
    "Cancelled": "已取消",
    "Failed": "呼叫失败",
    "NotConnected": "无法接通",
    "PoweredOff": "关机",
    "OutOfService": "停机",
    "InArrears": "欠费",
    "EmptyNumber": "空号（未拨打）",
    "Terminated": "已终止",
    "OutOfServiceNoCall": "停机（未拨打）",
    "InArrearsNoCall": "欠费（未拨打）",
    "SucceededFinish": "正常结束",
    "SucceededChatbotHangUpAfterNoAnswer": "机器人挂断（未识别）",
    "SucceededChatbotHangUpAfterSilence": "机器人挂断（静默）",
    "SucceededClientHangUpAfterNoAnswer": "客户挂断（未识别）",
    "SucceededClientHangUp": "客户挂断",
    "SucceededTransferByIntent": "意图转人工",
    "SucceededTransferAfterNoAnswer": "未识别转人工",
    "SucceededInoInterAction": "客户无交互",
    "SucceededError": "接通后系统异常",
}
DEFAULT_DEALER = "星辰汽车4S店"


def ms(t: float | None) -> int | None:
    return int(t * 1000) if t is not None else None


def _extras(job: Job) -> list[dict]:
    items = [{"Key": str(e.get("key", "")), "Value": str(e.get("value", ""))} for e in job.extras]
    return items + [{"Key": "TenantId", "Value": "sim-tenant"}, {"Key": "ServiceId", "Value": "sim-service"}]


def contact(job: Job) -> dict:
    return {
        "ContactId": f"{job.job_id}-c",
        "ContactName": job.name,
        "Honorific": str(job.contact.get("honorific") or ""),
        "PhoneNumber": job.phone,
        "ReferenceId": job.reference_id,
        "JobId": job.job_id,
        "Role": str(job.contact.get("role") or ""),
        "State": str(job.contact.get("state") or ""),
    }


def conversation(store: CampaignStore, job: Job, attempt: CallAttempt, now: float) -> list[dict]:
    if attempt is not job.connected_attempt or not job.transcript_available(now):
        return []
    if attempt.conversation is None:
        rng = random.Random(fate_seed(store.seed, job.key, "dialogue"))
        spec = DialogueSpec(
            category=job.fate.interest,
            name=str(job.contact.get("honorific") or job.name),
            product=job.extra_value("product", "leads_product", "车型", "产品"),
            dealer=job.extra_value("dealer", "dealer_name", "store", "门店") or DEFAULT_DEALER,
            time_phrase=job.fate.time_phrase,
            silent=attempt.status in SILENT_STATUSES,
        )
        start = int((attempt.actual_time or 0) * 1000) + attempt.ring_s * 1000
        attempt.conversation = build_conversation(spec, rng, start_ms=start, duration_s=max(attempt.talk_s, 5))
    return attempt.conversation


def summary(job: Job, now: float) -> list[dict]:
    if job.connected_attempt is None or not job.fate.summary or not job.transcript_available(now):
        return []
    items = [{"SummaryName": "意向等级", "Content": CATEGORY_LABELS[job.fate.interest], "Category": ""}]
    if job.fate.time_phrase:
        items.append({"SummaryName": "预约时间", "Content": job.fate.time_phrase, "Category": ""})
    return items


def task(store: CampaignStore, job: Job, attempt: CallAttempt, now: float) -> dict:
    talk = attempt.talk_s if attempt.end_time is not None else 0
    dialled = attempt.actual_time is not None
    return {
        "TaskId": attempt.task_id,
        "JobId": job.job_id,
        "CallId": f"sip-{attempt.task_id[:8]}" if dialled else "",
        "ChatbotId": "sim-chatbot",
        "ScenarioId": store.groups[job.group_id].script_id,
        "Status": attempt.status,
        "EndReason": attempt.end_reason,
        "PlanedTime": ms(attempt.planed_time),
        "ActualTime": ms(attempt.actual_time),
        "EndTime": ms(attempt.end_time),
        "CallingNumber": attempt.calling_number,
        "CalledNumber": mask_phone(job.phone),
        "RingingDuration": store.groups[job.group_id].ringing_duration,
        "RealRingingDuration": attempt.ring_s if dialled else 0,
        "SipCode": "200" if attempt.connected else ("486" if attempt.status == "Busy" else "480" if dialled else ""),
        "Duration": talk if attempt.connected else 0,
        "TotalDuration": attempt.ring_s + talk if dialled else 0,
        "HangUpDirection": attempt.hang_up_direction if attempt.connected else "",
        "Brief": "",
        "Contact": contact(job),
        "Conversation": conversation(store, job, attempt, now),
    }


def job_detail(store: CampaignStore, job: Job, now: float) -> dict:
    group = store.groups[job.group_id]
    latest = job.latest
    return {
        "JobId": job.job_id,
        "JobGroupId": job.group_id,
        "InstanceId": store.instance_id,
        "ReferenceId": job.reference_id,
        "Status": job.status,
        "FailureReason": job.failure_reason,
        "Priority": group.priority,
        "SystemPriority": 0,
        "StrategyId": group.strategy.strategy_id,
        "ScenarioId": group.script_id,
        "CalledNumber": mask_phone(job.phone),
        "CallingNumbers": list(group.calling_numbers),
        "NextExecutionTime": ms(job.next_event_at) if job.phase == "waiting" else 0,
        "ActualTime": ms(latest.actual_time) if latest and latest.actual_time else 0,
        "EndReason": 0,
        "Contacts": [contact(job)],
        "Extras": _extras(job),
        "Summary": summary(job, now),
        "Tasks": [task(store, job, a, now) for a in job.attempts],
    }


def job_brief(store: CampaignStore, job: Job, now: float) -> dict:
    """ListJobsByGroup element (no call results; Summary deprecated here)."""
    group = store.groups[job.group_id]
    return {
        "JobId": job.job_id,
        "JobGroupId": job.group_id,
        "Status": job.status,
        "FailureReason": job.failure_reason,
        "ReferenceId": job.reference_id,
        "Priority": group.priority,
        "SystemPriority": 0,
        "StrategyId": group.strategy.strategy_id,
        "ScenarioId": group.script_id,
        "CallingNumbers": list(group.calling_numbers),
        "Contacts": [contact(job)],
        "Extras": _extras(job),
        "Summary": [],
    }


def job_with_result(store: CampaignStore, job: Job, now: float) -> dict:
    """QueryJobsWithResult element; jobs never dialled have no LatestTask."""
    item: dict = {
        "Id": job.job_id,
        "Status": job.status,
        "StatusName": JOB_STATUS_NAMES.get(job.status, job.status),
        "JobFailureReason": job.failure_reason,
    }
    latest = job.latest
    if latest is None:
        return item
    connected = latest.connected
    duration_s = latest.talk_s if connected and latest.end_time is not None else 0
    item["LatestTask"] = {
        "Status": latest.status,
        "StatusName": TASK_STATUS_NAMES.get(latest.status, latest.status),
        "TaskEndReason": latest.end_reason,
        "CallTime": ms(latest.actual_time) or 0,
        "CallDuration": duration_s * 1000,
        "CallDurationDisplay": str(duration_s),
        "HangUpDirection": ("客户" if latest.hang_up_direction == "client" else "机器人") if connected else "",
        "HasAnswered": connected,
        "HasHangUpByRejection": connected and job.fate.interest == "not_interested" and "ClientHangUp" in latest.status,
        "HasLastPlaybackCompleted": connected,
        "HasReachedEndOfFlow": latest.status == "SucceededFinish",
        "VoiceName": "xiaoyun",
        "DialExceptionCodes": [],
        "Extras": [],
        "TagHits": [],
        "Contact": {
            "Id": f"{job.job_id}-c",
            "JobUuid": job.job_id,
            "PhoneNumber": job.phone,
            "ReferenceId": job.reference_id,
            "Name": job.name,
            "Honorific": str(job.contact.get("honorific") or ""),
            "Role": str(job.contact.get("role") or ""),
            "State": str(job.contact.get("state") or ""),
            "PreferredPhoneNumber": str(job.contact.get("preferredPhoneNumber") or ""),
            "Round": len(job.attempts),
        },
    }
    return item


def progress(group: JobGroup) -> dict:
    counts = group.counts()
    final = counts["Succeeded"] + counts["Failed"] + counts["Cancelled"]
    return {
        "TotalJobs": len(group.jobs),
        "TotalCompleted": final,
        "Scheduling": counts["Scheduling"],
        "Executing": counts["Executing"],
        "Paused": counts["Paused"],
        "Failed": counts["Failed"],
        "Cancelled": counts["Cancelled"],
        "Succeeded": counts["Succeeded"],
        "TotalNotAnswered": counts["Failed"],
        "Status": group.status(),
        "StartTime": ms(group.created_at),
        "Duration": 0,
    }


def group_detail(group: JobGroup, *, with_progress: bool = True) -> dict:
    data = {
        "JobGroupId": group.group_id,
        "JobGroupName": group.name,
        "JobGroupDescription": group.description,
        "ScenarioId": group.script_id,
        "ScriptId": group.script_id,
        "ScriptName": f"话术-{group.script_id}" if group.script_id else "",
        "ScriptVersion": "1",
        "ScriptNluEngine": "Prompts",
        "CallingNumbers": list(group.calling_numbers),
        "RecallCallingNumbers": list(group.recall_calling_numbers),
        "RecallStrategy": group.recall.as_response(),
        "RingingDuration": group.ringing_duration,
        "Priority": group.priority,
        "MinConcurrency": group.min_concurrency,
        "Status": group.status(),
        "CreationTime": ms(group.created_at),
        "ModifyTime": str(ms(group.modified_at)),
        "JobFilePath": "",
        "JobDataParsingTaskId": "",
        "Strategy": group.strategy.as_response(),
        "FlashSmsExtras": {"ConfigId": "", "TemplateId": ""},
    }
    if with_progress:
        data["Progress"] = progress(group)
    return data
