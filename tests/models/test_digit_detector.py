"""DigitDetector: the judge's "not a digit" model: classes, the last-class probability, argument validation."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models import DigitClassifier, DigitDetector
from speechgen.models import roles as R
from speechgen.models.registry import MODELS


def test_not_digit_is_the_last_class():
    for n in (2, 11):
        m = DigitDetector(n_classes=n, widths=(8, 16), blocks=(1, 1)).eval()
        x = 0.1 * torch.randn(3, 16000)
        p, _ = m.probs_and_features(x)
        assert p.shape == (3, n) and m.classes[-1] == "not a digit" and len(m.classes) == n
        assert torch.equal(m.not_digit_probability(x), p[:, -1])


def test_registered_as_a_small_classifier():
    assert MODELS["digit_detector"] is DigitDetector and issubclass(DigitDetector, DigitClassifier)
    assert R.roles_of(DigitDetector, {}) == (R.CLASSIFIER,)
    assert isinstance(DigitDetector(), R.Classifier)
    n = sum(p.numel() for p in DigitDetector().parameters())
    assert n < 150_000  # a few hundred KB of float32


@pytest.mark.parametrize("kwargs", [dict(n_classes=10), dict(threshold=1.0), dict(threshold=0.0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        DigitDetector(**kwargs)


def test_the_speaker_counter_maps_its_classes_to_counts():
    import torch

    from speechgen.models.speaker_counter import SpeakerCounter

    torch.manual_seed(0)
    m = SpeakerCounter(counts=(1, 3), widths=(4, 8), blocks=(1, 1)).eval()
    assert m.n_classes == 2 and m.classes == ("1 voice", "3 voices")
    got = m.count(torch.randn(4, 8000) * 0.1)
    assert got.dtype == torch.long and set(got.tolist()) <= {1, 3}
    with pytest.raises(ConfigError, match="counts: a counter tells at least two"):
        SpeakerCounter(counts=(2,))
    with pytest.raises(ConfigError, match="counts"):
        SpeakerCounter(counts=(1, 9))
