"""Tests of mixedrain.diagnostics: effective sample sizes per second of sampling."""

import numpy as np
import pytest

from mixedrain.diagnostics import sampling_efficiency
from mixedrain.models import get_model


def test_sampling_efficiency_columns_and_rate(shrunk_fit):
    idata = shrunk_fit(0.0, seconds=4.0)
    table = sampling_efficiency(idata)
    assert list(table.index) == list(get_model("centered").hyperparameters)
    assert list(table.columns) == ["ess_bulk", "ess_tail", "r_hat", "ess_bulk_per_second"]
    np.testing.assert_allclose(table["ess_bulk_per_second"], table["ess_bulk"] / 4.0)
    # independent normal draws: ESS near the number of draws, R-hat near 1
    assert table.loc["sigma_y", "ess_bulk"] > 400
    assert abs(table.loc["sigma_y", "r_hat"] - 1) < 0.02


@pytest.mark.parametrize("seconds", [None, 0.0, -1.0])
def test_sampling_efficiency_needs_a_positive_time(shrunk_fit, seconds):
    idata = shrunk_fit(0.0)
    if seconds is None:
        del idata.attrs["sampling_seconds"]
    else:
        idata.attrs["sampling_seconds"] = seconds
    with pytest.raises(ValueError, match="sampling_seconds"):
        sampling_efficiency(idata)
