"""The base of every config model (frozen, no unknown keys) and the duration types."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
)

from clock.durations import format_duration, parse_duration, parse_pause

Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


Pause = Annotated[
    timedelta, BeforeValidator(parse_pause), PlainSerializer(format_duration, return_type=str)
]


class Model(BaseModel):
    """Frozen, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")
