"""speechgen: build, train, sample and judge generative models of speech."""

from speechgen.errors import (
    AudioError,
    CheckpointError,
    ConfigError,
    DataError,
    MissingDependencyError,
    SpeechgenError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "MissingDependencyError",
    "SpeechgenError",
    "__version__",
]
