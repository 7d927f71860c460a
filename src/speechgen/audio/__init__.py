"""Pure signal processing (numpy references + batched torch). Imports nothing of speechgen but errors/atomic."""
