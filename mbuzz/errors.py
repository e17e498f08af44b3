"""Errors a user can act on. The CLI prints their message as one line, no traceback."""


class MbuzzError(Exception):
    """An error with a message that says what went wrong and what to do next."""


class DatabaseUnavailable(MbuzzError):
    pass


class NotFound(MbuzzError):
    pass
