"""The codes a chat message's ``error_info`` may carry, and the one builder of that dict.

StrEnum members are str, so the stored JSON and the API show the bare code strings.
"""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    # The user aborted the answer (abort endpoint or a dropped stream).
    ABORTED = "aborted"
    # The answer ran past its time budget (details: max_seconds, elapsed_seconds, partial_output, watchdog).
    TIME_BUDGET = "time_budget"
    # A stage raised something unexpected; the traceback is in the log under the message's uuid.
    INTERNAL_ERROR = "internal_error"
    # The requested model is unknown or disabled, or its file cannot be loaded.
    MODEL_UNAVAILABLE = "model_unavailable"
    # The task queue could not take the message.
    BROKER_UNAVAILABLE = "broker_unavailable"
    # The worker answering the message stopped (no heartbeat); the sweep failed it.
    WORKER_LOST = "worker_lost"
    # No worker took the queued message in time.
    NOT_PICKED_UP = "not_picked_up"
    # The scope's data source does not exist or is disabled.
    UNKNOWN_SCOPE = "unknown_scope"
    # The SQL path could not use the scope: tables not found or disabled, none enabled, or an empty question.
    BAD_SCOPE = "bad_scope"
    # The data in scope cannot answer the question (the pipeline turns it into a refusal).
    CANNOT_ANSWER = "cannot_answer"
    # The model's SQL still failed its checks after the correction round (details: attempts).
    INVALID_SQL = "invalid_sql"
    # The guard refused the SQL just before it ran (details: invalid_sql).
    REFUSED_SQL = "refused_sql"
    # The database rejected the checked SQL, or it hit a query limit (details: invalid_sql).
    QUERY_FAILED = "query_failed"


def error_info(code: ErrorCode, message: str, *, stage: str = "", **details: Any) -> dict[str, Any]:
    """A message's error_info: the code, a message for the user, the stage it failed in, and details."""
    return {"code": code, "message": message, "stage": stage, **details}
