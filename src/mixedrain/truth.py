"""How close does a fit come to the truth a simulation used?"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.simulate import SimulationParameters, resolve_parameters

__all__ = ["posterior_vs_truth", "state_effects_vs_truth"]


def posterior_vs_truth(idata: az.InferenceData, truth: dict[str, float], level: float = 0.9) -> pd.DataFrame:
    """Posterior mean, sd and central interval of each parameter beside its true value.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model.
    truth : dict
        True values by parameter name, e.g. from
        :func:`mixedrain.simulate.true_hyperparameters`; an entry of a
        vector-valued variable as ``"variable[label]"``, as
        :func:`mixedrain.glmm_fit.fit_formula` names them (``"fixed[x]"``,
        ``"sd_state[Intercept]"``).
    level : float
        Width of the central interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``truth``, ``mean``, ``sd``, ``lower``,
        ``upper``, ``z`` (posterior mean minus truth, in posterior sds) and
        ``covered`` (truth inside the interval).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict(posterior={"fixed": rng.normal([1.0, 2.0], 0.1, (2, 500, 2))},
    ...                      coords={"fixed_term": ["Intercept", "x"]}, dims={"fixed": ["fixed_term"]})
    >>> posterior_vs_truth(idata, {"fixed[x]": 2.0}).loc["fixed[x]", "covered"]
    np.True_
    """
    rows = {}
    for name, true_value in truth.items():
        draws = _selected(idata.posterior, name).to_numpy().reshape(-1)
        mean, sd = float(draws.mean()), float(draws.std(ddof=1))
        lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        rows[name] = {
            "truth": true_value,
            "mean": mean,
            "sd": sd,
            "lower": float(lower),
            "upper": float(upper),
            "z": (mean - true_value) / sd,
            "covered": bool(lower <= true_value <= upper),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("parameter")


def _selected(posterior, name: str):
    """``"sd_g[x]"`` -> the draws of entry ``x`` of ``sd_g``; a plain name -> that variable."""
    if not name.endswith("]") or "[" not in name:
        return posterior[name]
    variable, label = name[:-1].split("[", 1)
    if variable not in posterior:
        raise KeyError(f"the posterior has no variable {variable!r}")
    dims = [dim for dim in posterior[variable].dims if dim not in ("chain", "draw")]
    if len(dims) != 1 or label not in posterior[variable][dims[0]].to_numpy().astype(str):
        raise KeyError(f"{variable!r} has no entry {label!r}")
    return posterior[variable].sel({dims[0]: label})


def state_effects_vs_truth(
    idata: az.InferenceData, simulated: pd.DataFrame, params: SimulationParameters | str = "text"
) -> pd.DataFrame:
    """Each state's posterior mean intercept and slope beside its true values.

    The true intercept here includes the error mean ``params.error_mu`` (see
    :func:`mixedrain.simulate.true_hyperparameters`); the fit must use the
    uncentred year index.

    Returns
    -------
    pandas.DataFrame
        One row per state: ``true_intercept``, ``alpha_mean``, ``true_slope``,
        ``beta_mean``.
    """
    if idata.attrs.get("centre", 0.0) != 0.0:
        raise ValueError("state_effects_vs_truth needs a fit on the uncentred year index")
    error_mu = resolve_parameters(params).error_mu
    truth = simulated.groupby("state", sort=False)[["true_intercept", "true_slope"]].first()
    posterior = idata.posterior
    table = pd.DataFrame(
        {
            "alpha_mean": posterior["alpha"].mean(("chain", "draw")).to_series(),
            "beta_mean": posterior["beta"].mean(("chain", "draw")).to_series(),
        }
    )
    table = truth.join(table, how="inner")
    table["true_intercept"] = table["true_intercept"] + error_mu
    return table[["true_intercept", "alpha_mean", "true_slope", "beta_mean"]]
