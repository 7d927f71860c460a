"""One exception family for everything a user can get wrong.

The CLI prints ``str(error)`` as one line on stderr and exits with code 2; tracebacks appear only with ``--debug``.
Messages therefore name the thing at fault (a path, a config field, a column) and say what is wrong with it.
"""


class SpeechgenError(Exception):
    """Base class of every error speechgen reports to a user."""


class AudioError(SpeechgenError):
    """An audio file or array is missing, unreadable, empty, non-finite or of an unsupported shape/rate."""


class DataError(SpeechgenError):
    """A corpus, manifest or output location is missing, malformed or not writable."""


class ConfigError(SpeechgenError):
    """A recipe, option or parameter value is invalid; the message names the field."""


class CheckpointError(SpeechgenError):
    """A checkpoint is missing, corrupt or of another model type."""


class MissingDependencyError(SpeechgenError):
    """An external program or optional package that the requested work needs is not installed."""
