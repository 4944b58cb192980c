"""The opaque tokens of links and clips, and the completion codes participants type or are sent with."""

import secrets
from urllib.parse import parse_qs, urlsplit

# Upper-case letters and digits a participant cannot misread or mistype: no 0/O and no 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_token() -> str:
    """An opaque, unguessable URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


def new_completion_code() -> str:
    """The app's own completion code: short and free of look-alike characters, to be typed by hand."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_in_url(url: str) -> str:
    """The completion code a platform put in its completion URL (Prolific's ?cc=...), or ""."""
    values = parse_qs(urlsplit(url).query).get("cc", [""])
    return values[0].strip()


def completion_conflict(platform_code: str, completion_url: str) -> str:
    """Why a platform code and a completion URL disagree, or "" when they do not."""
    in_url = code_in_url(completion_url)
    if platform_code and in_url and in_url != platform_code:
        return (
            f"The completion URL carries the code {in_url!r} but the platform code is {platform_code!r}; "
            "participants would be shown one and credited with the other."
        )
    return ""


def expects_participant_ids(platform_code: str, completion_url: str) -> bool:
    """Whether a test is set up for a crowd platform (its completion code or URL set), whose open-link
    visitors all carry the platform's participant id: a new such test refuses visitors without one."""
    return bool(platform_code or completion_url)
