"""Plain ``nn.Module`` models, one file per paper (no training logic here; see :mod:`speechgen.training`)."""

from speechgen.models.classifier import DigitClassifier

__all__ = ["DigitClassifier"]
