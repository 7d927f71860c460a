"""Shared parts of the generative schemes: the EMA decay warms up so that the random initial weights fade out."""

from __future__ import annotations

import pytest

from speechgen.training.schemes.generative import ema_decay


def test_ema_decay_warms_up_to_the_configured_value():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 90) == pytest.approx(0.91)
    assert ema_decay(0.999, 100_000) == 0.999 and ema_decay(0.9, 1000) == 0.9
    # the share of the initial weights left in the average after 1 500 updates
    share = 1.0
    for step in range(1500):
        share *= ema_decay(0.999, step)
    assert share < 1e-9 and 0.999 ** 1500 > 0.2  # a plain 0.999 would keep 22 % of them


def test_check_label_count():
    from types import SimpleNamespace

    import pytest

    from speechgen.errors import ConfigError
    from speechgen.training.schemes.generative import check_label_count

    dm = SimpleNamespace(num_labels=12)
    check_label_count(SimpleNamespace(n_classes=0), dm)  # unconditional: any labels
    check_label_count(SimpleNamespace(n_classes=12), dm)
    with pytest.raises(ConfigError, match=r"^recipe\.model\.kwargs\.n_aux_classes: 10, but the manifest has 12"):
        check_label_count(SimpleNamespace(n_classes=12, n_aux_classes=10), dm, ("n_classes", "n_aux_classes"))
