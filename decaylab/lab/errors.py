"""The one error a user can fix: the command line turns it into one line and exit status 2."""


class UsageError(Exception):
    """Bad input (a flag, a value, a file); its message says what to fix."""
