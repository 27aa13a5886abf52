"""The errors the command line turns into one line on stderr: no traceback."""


class UsageError(ValueError):
    """Bad input (a flag, a value, a file); its message says what to fix. Exit status 2. A ``ValueError``, so
    ``except ValueError`` catches it in a user's code."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that everything Ctrl-C stops cleanly stops the same way; exit 143."""


class RunFailure(Exception):
    """Training could not go on (a worker died, a cluster went away); rerunning resumes. Exit status 1."""


def one_line(error: BaseException) -> str:
    """``Type: first line of the message``, for a one-line error report."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


class StoreFrozen(RunFailure):
    """``results.sqlite`` can no longer be written (a read-only remount, ``chattr +i``). SQLite's last
    connection writes to its memory-mapped shared memory when it closes, which such a file answers with
    SIGBUS: the store is left open, and the command line exits at once after its one line."""
