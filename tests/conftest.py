"""Shared fixtures. Stan fits are expensive, so each is made once per test session."""

import warnings

import arviz as az
import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")  # tests draw figures without a screen

from mixedrain.calibrate import QUANTITIES  # noqa: E402
from mixedrain.data import load_sleepstudy  # noqa: E402
from mixedrain.fit import SamplingWarning, fit_model  # noqa: E402
from mixedrain.models import get_model  # noqa: E402
from mixedrain.pooling import least_squares_by_group  # noqa: E402
from mixedrain.prepare import prepare_data  # noqa: E402
from mixedrain.ranks import N_THINNED  # noqa: E402
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


@pytest.fixture(scope="session")
def sleepstudy_prepared():
    """lme4's sleepstudy, prepared with its own column names: data that are not the book's rainfall."""
    return prepare_data(load_sleepstudy(), group="Subject", predictor="Days", outcome="Reaction")


@pytest.fixture(scope="session")
def sleepstudy_fit(sleepstudy_prepared):
    """A small correlated fit of sleepstudy (2 x 300 draws): enough for shapes, names and coarse values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)  # a short run may have an R-hat above 1.01
        return fit_model(sleepstudy_prepared, "correlated_integrated", chains=2, draws=300, warmup=300, seed=6)


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


@pytest.fixture
def shrunk_fit(fake_posterior, prepared):
    """Factory: a fake posterior whose per-state means sit ``1 - shrink`` of the way from the population
    to each state's own line, with independent normal draws for the hyperparameters."""

    def build(shrink: float, seconds: float = 4.0):
        rng = np.random.default_rng(0)
        own = least_squares_by_group(prepared.frame, "x")
        mu_alpha, mu_beta = own["intercept"].mean(), own["slope"].mean()
        alpha = mu_alpha + (1 - shrink) * (own.loc[list(prepared.groups), "intercept"].to_numpy() - mu_alpha)
        beta = mu_beta + (1 - shrink) * (own.loc[list(prepared.groups), "slope"].to_numpy() - mu_beta)
        shape = (4, 200)
        hyper = {name: rng.normal(size=shape) for name in get_model("centered").hyperparameters}
        hyper["mu_alpha"] = hyper["mu_alpha"] * 1e-9 + mu_alpha
        hyper["mu_beta"] = hyper["mu_beta"] * 1e-9 + mu_beta
        return fake_posterior(
            states=prepared.groups,
            chains=shape[0],
            draws=shape[1],
            alpha=alpha,
            beta=beta,
            attrs={"sampling_seconds": seconds, "model": "centered"},
            **hyper,
        )

    return build


def _fake_sbc_study(n=50):
    """A hand-made calibration table shaped like run_calibration's: random ranks, clean fits."""
    rng = np.random.default_rng(5)
    table = pd.DataFrame({f"rank_{q}": rng.integers(0, N_THINNED + 1, n) for q in QUANTITIES})
    table = table.assign(
        replication=np.arange(n), divergences=0, sampling_warnings=0, min_ess_bulk=500.0, min_ess_tail=400.0, max_rhat=1.0,
        sampling_seconds=1.0, fit_seconds=1.5, error="",
    )
    table.attrs.update(seed=1, n_thinned=N_THINNED, chains=2, draws=500, warmup=500, priors={})
    return table


@pytest.fixture(scope="session")
def fake_sbc_study():
    """Factory for hand-made calibration tables (no Stan): ``fake_sbc_study(n=50)``."""
    return _fake_sbc_study


@pytest.fixture(scope="session")
def book_build():
    """Build the book exactly as the README's `make book` does (cached execution makes repeats fast)."""
    import subprocess

    from book_pages import ROOT

    result = subprocess.run(["make", "book"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result
