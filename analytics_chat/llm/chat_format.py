"""Chat templates rendered straight to tokens, one message at a time.

Tokenizing each message on its own (instead of the whole rendered string) keeps the tokens of the first
message identical whatever follows it, which is what makes its KV state reusable. Template markers are
tokenized as special tokens; message contents never are, so a user cannot inject ``<|im_start|>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Tokenize = Callable[[str, bool], list[int]]  # (text, special) -> tokens


@dataclass(frozen=True)
class ChatFormat:
    message_open: str  # with {role}
    message_close: str
    generation_prompt: str
    begin: str = ""  # text before the first message (a BOS marker)

    def render(self, messages: Sequence[dict[str, str]], tokenize: Tokenize) -> list[list[int]]:
        """Token segments: one per message (the first also carries ``begin``), then the generation prompt."""
        if not messages:
            raise ValueError("messages: at least one message is required")
        segments: list[list[int]] = []
        for index, message in enumerate(messages):
            role, content = message.get("role"), message.get("content")
            if role not in {"system", "user", "assistant"}:
                raise ValueError(f"messages[{index}].role must be system, user or assistant, not {role!r}")
            if not isinstance(content, str):
                raise ValueError(f"messages[{index}].content must be a string")
            opening = (self.begin if index == 0 else "") + self.message_open.format(role=role)
            segments.append(
                tokenize(opening, True) + tokenize(content, False) + tokenize(self.message_close, True)
            )
        segments.append(tokenize(self.generation_prompt, True))
        return segments


CHAT_FORMATS: dict[str, ChatFormat] = {
    "chatml": ChatFormat(
        message_open="<|im_start|>{role}\n",
        message_close="<|im_end|>\n",
        generation_prompt="<|im_start|>assistant\n",
    ),
    "llama-3": ChatFormat(
        begin="<|begin_of_text|>",
        message_open="<|start_header_id|>{role}<|end_header_id|>\n\n",
        message_close="<|eot_id|>",
        generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
}
