"""Our offline spoken-digit corpus, synthesised with the installed Debian speech engines."""

from speechgen.data.corpus.digits import DIGIT_WORDS, Clip, assign_splits, build_digits, plan, prosody
from speechgen.data.corpus.engines import ENGINES, EngineFailure, Synthesizer, Voice, discover

__all__ = [
    "DIGIT_WORDS", "ENGINES", "Clip", "EngineFailure", "Synthesizer", "Voice", "assign_splits", "build_digits",
    "discover", "plan", "prosody",
]
