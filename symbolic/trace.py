"""Where in the user's code a node was built: the first stack frame outside this package."""

from __future__ import annotations

import os
import sys
from typing import NamedTuple

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, os.path.join(os.path.dirname(__file__), "..", "runtime", "x"))
)


class Location(NamedTuple):
    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}"


def user_location() -> Location | None:
    """The innermost frame whose file is not part of `symbolic` or `runtime` (cheap: no I/O)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRS):
            return Location(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None
