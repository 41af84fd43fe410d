"""Python client for the Analytics Chat service.

from analytics_chat_client import Client

with Client("http://localhost:8000", token="…") as client:
    session = client.chat(scope="demo")
    answer = session.send("Total revenue by month")
    print(answer.to_text())          # text table, SQL, chart saved as an image
    follow_up = session.send("Only for 2024")   # same thread
"""

from ._client import AsyncChatSession, AsyncClient, ChatAPIError, ChatSession, Client
from ._response import ChatResponse, ResultData
from ._sse import ChatEvent

__all__ = [
    "AsyncChatSession",
    "AsyncClient",
    "ChatAPIError",
    "ChatEvent",
    "ChatResponse",
    "ChatSession",
    "Client",
    "ResultData",
]
