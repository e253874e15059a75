"""Shared fixtures. Stan fits are expensive, so each is made once per test session."""

import warnings

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw figures without a screen

from mixedrain.fit import SamplingWarning, fit_model  # noqa: E402
from mixedrain.prepare import prepare_data  # noqa: E402
from mixedrain.simulate import simulate_rainfall  # noqa: E402


@pytest.fixture(scope="session")
def simulated():
    return simulate_rainfall()


@pytest.fixture(scope="session")
def prepared(simulated):
    return prepare_data(simulated)


@pytest.fixture(scope="session")
def centered_fit(prepared):
    """The book's main fit: the seed's data, centered program, 4 x 1000 draws."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)  # the main fit must be clean: no divergences, R-hat <= 1.01
        return fit_model(prepared, "centered")


@pytest.fixture(scope="session")
def noncentered_fit(prepared):
    return fit_model(prepared, "noncentered")


@pytest.fixture(scope="session")
def book_build():
    """Build the book exactly as the README's `make book` does (cached execution makes repeats fast)."""
    import subprocess

    from book_pages import ROOT

    result = subprocess.run(["make", "book"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result
