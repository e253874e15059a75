"""Set posterior summaries beside the simulation's truth, statsmodels MixedLM and simpler fits."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

from mixedrain.fit import HYPERPARAMETERS
from mixedrain.prepare import PreparedData
from mixedrain.simulate import SimulationParameters, resolve_parameters


def posterior_vs_truth(idata: az.InferenceData, truth: dict[str, float], level: float = 0.9) -> pd.DataFrame:
    """Posterior mean, sd and central interval of each parameter beside its true value.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model.
    truth : dict
        True values by parameter name, e.g. from
        :func:`mixedrain.simulate.true_hyperparameters`.
    level : float
        Width of the central interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``truth``, ``mean``, ``sd``, ``lower``,
        ``upper``, ``z`` (posterior mean minus truth, in posterior sds) and
        ``covered`` (truth inside the interval).
    """
    rows = {}
    for name, true_value in truth.items():
        draws = idata.posterior[name].to_numpy().reshape(-1)
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


def fit_mixedlm(prepared: PreparedData):
    """Fit the same model by REML with statsmodels MixedLM, the lme4 way.

    The lme4 formula is ``rainfall ~ x + (1 | state) + (0 + x | state)``
    (written ``(x || state)``): a random intercept and slope that are
    uncorrelated. statsmodels expresses "uncorrelated" by fixing the
    off-diagonal of the random-effects covariance at zero.

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLMResults
    """
    frame = prepared.frame.rename(columns={prepared.outcome_column: "y"})
    model = smf.mixedlm("y ~ x", frame, groups=frame["group_code"], re_formula="~x")
    free = sm.regression.mixed_linear_model.MixedLMParams.from_components(np.ones(2), np.eye(2))
    with warnings.catch_warnings():
        # Zero-covariance constraints make statsmodels warn about its gradient optimiser; the fit is checked below.
        warnings.simplefilter("ignore", sm.tools.sm_exceptions.ConvergenceWarning)
        result = model.fit(reml=True, free=free, method=["lbfgs", "powell"])
    if not result.converged:
        raise RuntimeError("statsmodels MixedLM did not converge")
    return result


def mixedlm_estimates(result) -> pd.DataFrame:
    """The REML estimates in the Stan model's parameter names.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``estimate`` and ``std_error`` (standard errors
        for the fixed effects; MixedLM gives none for standard deviations).
    """
    cov_re = np.asarray(result.cov_re)
    estimate = {
        "mu_alpha": result.fe_params.iloc[0],
        "mu_beta": result.fe_params.iloc[1],
        "sigma_alpha": np.sqrt(cov_re[0, 0]),
        "sigma_beta": np.sqrt(cov_re[1, 1]),
        "sigma_y": np.sqrt(result.scale),
    }
    std_error = {"mu_alpha": result.bse_fe.iloc[0], "mu_beta": result.bse_fe.iloc[1]}
    table = pd.DataFrame({"estimate": pd.Series(estimate), "std_error": pd.Series(std_error)})
    return table.loc[list(HYPERPARAMETERS)].rename_axis("parameter")


def bayes_vs_mixedlm(idata: az.InferenceData, result) -> pd.DataFrame:
    """Posterior means and sds beside MixedLM's REML estimates and standard errors."""
    posterior = idata.posterior
    bayes = pd.DataFrame(
        {
            "posterior_mean": {n: float(posterior[n].mean()) for n in HYPERPARAMETERS},
            "posterior_sd": {n: float(posterior[n].std()) for n in HYPERPARAMETERS},
        }
    )
    reml = mixedlm_estimates(result).rename(columns={"estimate": "reml_estimate", "std_error": "reml_std_error"})
    return bayes.join(reml).rename_axis("parameter")


def pooling_estimates(prepared: PreparedData, idata: az.InferenceData) -> pd.DataFrame:
    """Intercepts and slopes under no pooling, complete pooling and partial pooling.

    No pooling fits a separate least-squares line per state; complete pooling
    fits one line to all states; partial pooling is the mixed model's
    posterior mean per state.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``state``, ``method`` ("no pooling", "partial pooling",
        "complete pooling"), ``intercept``, ``slope``.
    """
    frame = prepared.frame
    y = frame[prepared.outcome_column].to_numpy(float)
    rows = []
    for label, own in frame.groupby(prepared.group_column, sort=False):
        intercept, slope = np.polyfit(own["x"].to_numpy(float), own[prepared.outcome_column].to_numpy(float), 1)[::-1]
        rows.append({"state": label, "method": "no pooling", "intercept": intercept, "slope": slope})
    pooled_intercept, pooled_slope = np.polyfit(frame["x"].to_numpy(float), y, 1)[::-1]
    posterior = idata.posterior
    for label in prepared.groups:
        rows.append(
            {
                "state": label,
                "method": "partial pooling",
                "intercept": float(posterior["alpha"].sel(state=label).mean()),
                "slope": float(posterior["beta"].sel(state=label).mean()),
            }
        )
        rows.append({"state": label, "method": "complete pooling", "intercept": pooled_intercept, "slope": pooled_slope})
    return pd.DataFrame(rows)
