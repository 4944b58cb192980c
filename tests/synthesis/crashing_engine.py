"""Engine checks for the self-test tests: run in a child process by synthesis.engines.selftest."""

import os
import signal


def crash_with_sigill() -> str:
    """What a library built for another CPU does: die of an illegal instruction."""
    os.kill(os.getpid(), signal.SIGILL)
    return "unreachable"


def fail_with_error() -> str:
    raise RuntimeError("model file is truncated")


def succeed() -> str:
    return "fine: 3 tokens"
