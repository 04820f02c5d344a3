"""Errors and exit codes shared by every command (CONTRACTS.md, "Exit codes")."""

EXIT_OK = 0
EXIT_FINDINGS = 1  # error-level findings, failed check, unreachable host, failed launch
EXIT_USAGE = 2  # usage or bad input
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


class SparkpilotError(Exception):
    """An error with a one-line message for the user and an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(SparkpilotError):
    """Bad input: unparseable file, malformed host spec, bad inventory, unknown model offline."""

    exit_code = EXIT_USAGE


class TransportError(SparkpilotError):
    """A host that does not answer (ssh 255, timeout, refused, auth failure)."""

    exit_code = EXIT_FINDINGS
