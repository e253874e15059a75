"""Shared fixtures. Stan fits are expensive, so each is made once per test session."""

import warnings

import arviz as az
import matplotlib
import numpy as np
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
def integrated_fit(prepared):
    """The default fit: group effects integrated out, then drawn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        return fit_model(prepared)


@pytest.fixture(scope="session")
def noncentered_fit(prepared):
    return fit_model(prepared, "noncentered")


def _fake_posterior(*, states, chains, draws, attrs=None, **values) -> az.InferenceData:
    """A hand-made posterior shaped like fit_model's, from the values given.

    Each value is broadcast to its draws: a scalar or a (chains, draws) array for a hyperparameter;
    one number per state, or a (chains, draws, states) array, for ``alpha`` and ``beta``.
    ``attrs`` become the InferenceData's attrs (e.g. first_year, centre, sampling_seconds).
    """
    shape = (chains, draws)
    posterior = {
        name: np.broadcast_to(np.asarray(value, dtype=float), (*shape, len(states)) if name in ("alpha", "beta") else shape).copy()
        for name, value in values.items()
    }
    idata = az.from_dict(posterior=posterior, coords={"state": list(states)}, dims={"alpha": ["state"], "beta": ["state"]})
    idata.attrs.update(attrs or {})
    return idata


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """httpstan's cache moved to an empty folder (httpstan finds it through XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    import httpstan.cache

    return httpstan.cache.cache_directory()


@pytest.fixture(scope="session")
def fake_posterior():
    """Factory for hand-made posteriors (no Stan): ``fake_posterior(states=..., chains=..., draws=..., **values)``."""
    return _fake_posterior


@pytest.fixture(scope="session")
def book_build():
    """Build the book exactly as the README's `make book` does (cached execution makes repeats fast)."""
    import subprocess

    from book_pages import ROOT

    result = subprocess.run(["make", "book"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result
