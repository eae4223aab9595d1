"""User-facing errors: one line that names the problem and the fix."""


class CxrBenchError(Exception):
    """Base class for errors caused by bad input or configuration.

    Entry points catch these and print ``error: <message>`` with a non-zero exit
    instead of a traceback, so the message itself must say what to do.
    """


class ConfigError(CxrBenchError):
    """A configuration value is unknown, misspelt or inconsistent."""


class DataError(CxrBenchError):
    """Input data is missing, corrupt or laid out unexpectedly."""


class CheckpointError(CxrBenchError):
    """A checkpoint does not belong to the requested model variant."""


class OutputError(CxrBenchError):
    """An output cannot be written (no permission, not a folder, full disk)."""


class TrainingError(CxrBenchError):
    """Training finished without producing a usable checkpoint."""


def exit_code(action) -> int:
    """Run ``action()`` for a command-line entry point: 0, or 2 after one ``error:`` line on stderr."""
    import sys

    try:
        action()
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
