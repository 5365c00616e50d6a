"""What the renderer is told of the service's pictures: plain records, no Pillow and no store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Role = Literal["lead", "thumb"]  # the lead's picture, or a story's thumbnail


@dataclass(frozen=True, slots=True)
class ServedPicture:
    """A picture as the mail shows it: the service's address and its size in pixels."""

    url: str
    width: int
    height: int


# What the renderer is given: (role, the publisher's address) -> the service's copy.
Pictures = Mapping[tuple[Role, str], ServedPicture]
