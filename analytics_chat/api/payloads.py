"""The ChatResponse shape, built in one place for the API, the stream's last event and thread export."""

from __future__ import annotations

from typing import Any

from analytics_chat.models import ChatMessage

EMPTY_RESPONSE_DATA = {
    "data": None,
    "sql": None,
    "chart_spec": None,
    "semantic_context": None,
    "catalog": None,
    "explanation": None,
}


def chat_response(message: ChatMessage) -> dict[str, Any]:
    stamp = message.finished_at or message.created_at
    return {
        "response": message.response,
        "response_data": {
            **EMPTY_RESPONSE_DATA,
            **{k: v for k, v in (message.response_data or {}).items() if k in EMPTY_RESPONSE_DATA},
        },
        "is_new": message.is_new,
        "timestamp": stamp.timestamp() if stamp else None,
        "response_uuid": str(message.uuid),
        "parent_uuid": str(message.parent_id) if message.parent_id else None,
        "status": message.status,
        "current_stage": message.current_stage,
        "finish_reason": message.finish_reason or None,
        "usage": message.usage or {"prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 0},
        "elapsed_ms": message.elapsed_ms,
        "stage_timings": message.stage_timings or {},
        "error_info": message.error_info,
        "ask": message.ask,
        "scope": message.scope,
        "tags": message.tags,
        "model": message.model,
        "liked": message.liked,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
