"""What does the lme4 way, REML with statsmodels MixedLM, estimate, and how sure is it?"""

from __future__ import annotations

import warnings
from typing import Literal

import arviz as az
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import interpolate, optimize, stats

from mixedrain.models import get_model
from mixedrain.prepare import PreparedData

__all__ = ["fit_mixedlm", "mixedlm_estimates", "mixedlm_intervals", "posterior_vs_mixedlm"]


def fit_mixedlm(prepared: PreparedData, *, correlated: bool = False):
    """Fit the same model by REML with statsmodels MixedLM, the lme4 way.

    By default the lme4 formula is ``y ~ x + (1 | g) + (0 + x | g)``
    (written ``(x || g)``): a random intercept and slope that are
    uncorrelated. statsmodels expresses "uncorrelated" by fixing the
    off-diagonal of the random-effects covariance at zero. With
    ``correlated=True`` it is lme4's default ``y ~ x + (x | g)``: the
    covariance is left free, so its correlation is estimated too.

    Parameters
    ----------
    prepared : PreparedData
        Output of :func:`mixedrain.prepare.prepare_data`.
    correlated : bool
        Estimate the correlation of a group's intercept and slope (the
        catalogue's ``"correlated"`` model) instead of fixing it at zero
        (``"centered"``).

    Returns
    -------
    statsmodels.regression.mixed_linear_model.MixedLMResults

    Examples
    --------
    >>> from mixedrain.data import load_sleepstudy
    >>> from mixedrain.prepare import prepare_data
    >>> sleep = prepare_data(load_sleepstudy(), group="Subject", predictor="Days", outcome="Reaction")
    >>> result = fit_mixedlm(sleep, correlated=True)
    >>> mixedlm_estimates(result)["estimate"].round(2).to_dict()["mu_beta"]
    10.47
    """
    frame = prepared.frame.rename(columns={prepared.outcome_column: "y"})
    model = smf.mixedlm("y ~ x", frame, groups=frame["group_code"], re_formula="~x")
    if correlated:
        result = model.fit(reml=True, method=["lbfgs", "powell"])
    else:
        free = sm.regression.mixed_linear_model.MixedLMParams.from_components(np.ones(2), np.eye(2))
        with warnings.catch_warnings():
            # Zero-covariance constraints make statsmodels warn about its gradient optimiser; the fit is checked below.
            warnings.simplefilter("ignore", sm.tools.sm_exceptions.ConvergenceWarning)
            result = model.fit(reml=True, free=free, method=["lbfgs", "powell"])
    if not result.converged:
        raise RuntimeError("statsmodels MixedLM did not converge")
    return result


def _is_correlated(result) -> bool:
    # fit_mixedlm fixes the covariance's off-diagonal through a pattern of free parameters; None means all free.
    pattern = result.freepat
    return pattern is None or bool(np.asarray(pattern.cov_re)[0, 1])


def mixedlm_estimates(result) -> pd.DataFrame:
    """The REML estimates in the Stan model's parameter names.

    A fit from ``fit_mixedlm(prepared, correlated=True)`` also reports
    ``rho``, the correlation of a group's intercept and slope, in the order of
    the catalogue's ``"correlated"`` model.

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
        "rho": cov_re[0, 1] / np.sqrt(cov_re[0, 0] * cov_re[1, 1]),
    }
    std_error = {"mu_alpha": result.bse_fe.iloc[0], "mu_beta": result.bse_fe.iloc[1]}
    table = pd.DataFrame({"estimate": pd.Series(estimate), "std_error": pd.Series(std_error)})
    names = get_model("correlated" if _is_correlated(result) else "centered").hyperparameters
    return table.loc[list(names)].rename_axis("parameter")


def posterior_vs_mixedlm(idata: az.InferenceData, result, point: Literal["median", "mean"] = "median") -> pd.DataFrame:
    """A posterior point estimate and sd of each parameter beside MixedLM's REML estimate and standard error.

    REML estimates are modes of a (restricted) likelihood; a posterior median
    is the natural Bayesian point to set beside them for the skewed posterior
    of a standard deviation or a correlation, and unlike the mean it does not
    depend on the scale (sd or variance) a parameter is reported on. Where the
    posterior is close to normal the mean serves as well.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit whose posterior holds every parameter the REML fit reports
        (``rho`` too if ``result`` is correlated).
    result : MixedLMResults
        From :func:`fit_mixedlm`.
    point : {"median", "mean"}
        The posterior point estimate.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``posterior_median`` (or ``posterior_mean``),
        ``posterior_sd``, ``reml_estimate`` and ``reml_std_error``.

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> result = fit_mixedlm(prepare_data(simulate_rainfall()))
    >>> draws = {name: np.full((1, 4), 1.0) for name in mixedlm_estimates(result).index}
    >>> posterior_vs_mixedlm(az.from_dict(posterior=draws), result, "mean").columns.tolist()
    ['posterior_mean', 'posterior_sd', 'reml_estimate', 'reml_std_error']
    """
    if point not in ("median", "mean"):
        raise ValueError(f"point must be 'median' or 'mean', got {point!r}")
    reml = mixedlm_estimates(result).rename(columns={"estimate": "reml_estimate", "std_error": "reml_std_error"})
    missing = [name for name in reml.index if name not in idata.posterior]
    if missing:
        raise ValueError(f"the posterior has no {missing}; fit the model that matches the REML fit")
    posterior = idata.posterior
    bayes = pd.DataFrame(
        {
            f"posterior_{point}": {n: float(getattr(posterior[n], point)()) for n in reml.index},
            "posterior_sd": {n: float(posterior[n].std()) for n in reml.index},
        }
    )
    return bayes.join(reml).rename_axis("parameter")


def mixedlm_intervals(result, level: float = 0.9) -> pd.DataFrame:
    """REML estimates with standard errors and intervals, in the Stan model's parameter names.

    What a REML fit says about its own uncertainty, as lme4's ``confint``
    would report it. The fixed effects ``mu_alpha`` and ``mu_beta`` get Wald
    intervals (estimate plus or minus a normal quantile times the standard
    error). The random-effect standard deviations ``sigma_alpha`` and
    ``sigma_beta`` get profile-likelihood intervals from statsmodels'
    ``profile_re``: every value whose restricted log-likelihood, maximised
    over the other parameters, lies within ``chi2(1).ppf(level) / 2`` of the
    best. Their standard errors come from the delta method: statsmodels
    estimates each variance as ``scale`` times an unscaled parameter, whose
    standard error is in ``result.bse``. (``result.bse_re``, printed beside
    "Group Var" in the summary, multiplies by the square root of ``scale``
    instead, which makes it too small by that factor.) MixedLM profiles out
    the residual scale, so ``sigma_y`` gets neither.

    statsmodels profiles the ratio of a variance to the residual variance,
    re-estimating the residual variance at each point, where lme4's
    ``confint(fit, method = "profile")`` profiles the standard deviation
    itself; the two intervals are close but not identical (on lme4's
    sleepstudy example they differ by about 5%).

    Parameters
    ----------
    result : statsmodels MixedLMResults
        Output of :func:`fit_mixedlm`.
    level : float
        Probability of each interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``estimate``, ``std_error``, ``lower``,
        ``upper`` and ``interval`` (``"Wald"``, ``"profile likelihood"`` or
        ``"none"``). A profile interval that reaches zero has ``lower`` 0.

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> table = mixedlm_intervals(fit_mixedlm(prepare_data(simulate_rainfall())))
    >>> table["interval"].tolist()
    ['Wald', 'Wald', 'profile likelihood', 'profile likelihood', 'none']
    >>> bool((table["lower"] < table["estimate"]).iloc[:4].all())
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    table = mixedlm_estimates(result)
    table["lower"] = np.nan
    table["upper"] = np.nan
    table["interval"] = "none"
    z = stats.norm.ppf((1 + level) / 2)
    for name in ("mu_alpha", "mu_beta"):
        estimate, error = table.loc[name, ["estimate", "std_error"]]
        table.loc[name, ["lower", "upper", "interval"]] = [estimate - z * error, estimate + z * error, "Wald"]
    unscaled_errors = np.asarray(result.bse)[len(result.fe_params) :]
    for index, name in enumerate(("sigma_alpha", "sigma_beta")):
        sd = float(table.loc[name, "estimate"])
        # cov_re's diagonal comes first in the packed parameters: (0, 0), then (1, 0), then (1, 1).
        variance_error = float(unscaled_errors[(0, 2)[index]]) * float(result.scale)
        lower, upper = _profile_interval(result, index, level, variance_error)
        table.loc[name, ["std_error", "lower", "upper", "interval"]] = [
            variance_error / (2 * sd),
            np.sqrt(lower),
            np.sqrt(upper),
            "profile likelihood",
        ]
    return table


def _profile_interval(result, index: int, level: float, variance_error: float) -> tuple[float, float]:
    """Profile-likelihood interval of the ``index``-th random-effect variance."""
    variance = float(np.asarray(result.cov_re)[index, index])
    threshold = float(result.llf) - stats.chi2.ppf(level, 1) / 2
    dist_low = min(0.99 * variance, 4 * variance_error)
    dist_high = 5 * variance_error
    for _ in range(4):
        with warnings.catch_warnings():
            # Each profile point is a constrained refit; the optimiser's notes are about those refits.
            warnings.simplefilter("ignore")
            profile = result.profile_re(
                index, "re", num_low=5, dist_low=dist_low, num_high=6, dist_high=dist_high,
                method=["lbfgs", "powell"],
            )  # fmt: skip
        values, loglik = profile[:, 0], profile[:, 1] - threshold
        if loglik[-1] < 0 and (loglik[0] < 0 or dist_low >= 0.99 * variance):
            break
        dist_low, dist_high = min(0.99 * variance, 2 * dist_low), 2 * dist_high
    else:
        raise RuntimeError(f"the profile likelihood of random effect {index} does not fall off within reach")
    # A cubic spline through the profile, solved where it crosses the threshold, on each side of the peak.
    curve = interpolate.CubicSpline(values, loglik)
    best = int(np.argmax(loglik))
    ends = []
    for side in (np.arange(best, -1, -1), np.arange(best, len(values))):
        crossed = np.flatnonzero(loglik[side] < 0)
        if crossed.size == 0:
            ends.append(0.0)  # the interval reaches a variance of zero
            continue
        inside, outside = values[side[crossed[0] - 1]], values[side[crossed[0]]]
        ends.append(float(optimize.brentq(curve, min(inside, outside), max(inside, outside))))
    return ends[0], ends[1]
