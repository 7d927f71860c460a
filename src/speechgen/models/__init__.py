"""Plain ``nn.Module`` models, one file per paper (no training logic here; see :mod:`speechgen.training`)."""

from speechgen.models.classifier import DigitClassifier
from speechgen.models.digit_detector import DigitDetector

__all__ = ["DigitClassifier", "DigitDetector"]
