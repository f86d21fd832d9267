"""Exceptions the command line turns into one-line messages (never tracebacks).

Library code raises these (or plain ValueError / FileNotFoundError) with a message that
names the file and says how to fix it; only `aasist.cli` prints them and sets exit codes.
"""


class AasistError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(AasistError, ValueError):
    """A config file or a --set override is invalid."""


class DataError(AasistError, ValueError):
    """A dataset, protocol, score or audio file is missing or malformed."""


class DownloadError(AasistError):
    """A download or an archive extraction failed."""


class BusyError(AasistError):
    """Another process holds what this one needs (a training run directory)."""


class Cancelled(AasistError):
    """Work stopped because its caller asked (a web client went away, a timeout, shutdown)."""
