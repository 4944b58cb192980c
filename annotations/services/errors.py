"""What the listening-test services refuse, as exceptions the views and commands catch."""


class TestCreationError(ValueError):
    """The chosen samples or options cannot make a test; the message says why."""


class SessionUnavailable(Exception):
    """An evaluator link that cannot be used now; code is one of CODES."""

    CODES = ("unknown", "bad_link", "not_started", "closed", "full", "revoked")

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class PlayLimitReached(Exception):
    """A request that would begin one play more of a clip than the test allows."""


class RatingRefused(Exception):
    """A rating the server will not store; code is one of CODES, detail is for logs."""

    CODES = ("not_assigned", "bad_score", "not_played", "not_fetched", "too_soon", "closed")

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
