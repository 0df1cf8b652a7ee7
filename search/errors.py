"""The user-facing error: one line, no traceback (the CLI prints it and exits with status 2)."""

__all__ = ["UserError"]


class UserError(Exception):
    """Bad input or environment, described in one line for the person at the terminal."""
