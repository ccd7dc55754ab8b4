"""A console script piped into `head` or `less` stops quietly when the reader leaves."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

SIGPIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for a Unix tool stopped the same way


def quiet_on_closed_pipe(main: Callable[..., int]) -> Callable[..., int]:
    """Wrap a console script's main: a BrokenPipeError (stdout's reader closed it) ends the script
    with exit status 141 and no traceback. stdout is pointed at /dev/null first, so the interpreter's
    final flush cannot raise again."""

    @functools.wraps(main)
    def guarded(*args, **kwargs) -> int:
        try:
            status = main(*args, **kwargs)
            sys.stdout.flush()  # here, not at exit, where a closed pipe only gets "Exception ignored"
            return status
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return SIGPIPE_EXIT

    return guarded
