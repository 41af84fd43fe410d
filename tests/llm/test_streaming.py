"""Token bytes to streamed text: split UTF-8 characters and stop strings across tokens."""

from __future__ import annotations

from analytics_chat.llm.streaming import TextAssembler


def feed_all(assembler: TextAssembler, chunks: list[bytes]) -> list[str]:
    pieces = [assembler.feed(chunk) for chunk in chunks]
    return [*pieces, assembler.finish()]


def test_a_character_split_over_tokens_is_streamed_whole():
    data = "café 🦙".encode()
    chunks = [data[:4], data[4:5], data[5:8], data[8:]]  # é and the emoji are cut mid-character
    assembler = TextAssembler()
    pieces = feed_all(assembler, chunks)
    assert "".join(pieces) == "café 🦙"
    assert all("\ufffd" not in piece for piece in pieces)
    assert assembler.text == "café 🦙"


def test_a_stop_string_across_tokens_is_cut_and_never_streamed():
    assembler = TextAssembler(stop=["END;"])
    pieces = feed_all(assembler, [b"SELECT 1", b" E", b"N", b"D", b";", b" more"])
    assert assembler.stopped
    assert assembler.text == "SELECT 1 "
    assert "".join(pieces) == "SELECT 1 "


def test_a_false_start_of_a_stop_string_is_released():
    assembler = TextAssembler(stop=["\n\n"])
    assert assembler.feed(b"a\n") == "a"
    assert assembler.feed(b"b") == "\nb"
    assert not assembler.stopped
    assert assembler.finish() == ""
