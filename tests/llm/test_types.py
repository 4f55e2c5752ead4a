"""Message content is normalised at the edge: text, parts, or a clear InputError."""

from __future__ import annotations

import pytest

from krystal._errors import InputError
from krystal.llm import Message


def test_none_content_is_empty_text() -> None:
    # OpenAI-style assistant turns that only call tools carry "content": null
    assert Message("assistant", None).content == ""


def test_parts_are_normalised() -> None:
    message = Message(
        "user",
        ["look", {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}],
    )
    assert message.content == [
        {"type": "text", "text": "look"},
        {"type": "image", "data": "AAAA", "mime_type": "image/jpeg"},
    ]
    assert message.text == "look"


@pytest.mark.parametrize("content", [42, {"type": "text", "text": "hi"}, b"bytes"])
def test_other_content_is_refused_naming_the_field(content: object) -> None:
    with pytest.raises(InputError, match="message content"):
        Message("user", content)


def test_a_part_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(InputError, match="content part 7"):
        Message("user", ["fine", 7])
