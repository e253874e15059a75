"""Set posterior summaries beside the simulation's truth, statsmodels MixedLM and simpler fits."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import interpolate, optimize, stats

from mixedrain.models import get_model
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


def posterior_medians_vs_mixedlm(idata: az.InferenceData, result) -> pd.DataFrame:
    """Posterior medians and sds beside MixedLM's REML estimates and standard errors.

    REML estimates are modes of a (restricted) likelihood; a posterior median
    is the natural Bayesian point to set beside them for the skewed posterior
    of a standard deviation or a correlation, and unlike the mean it does not
    depend on the scale (sd or variance) a parameter is reported on.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit whose posterior holds every parameter the REML fit reports
        (``rho`` too if ``result`` is correlated).
    result : MixedLMResults
        From :func:`fit_mixedlm`.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``posterior_median``, ``posterior_sd``,
        ``reml_estimate`` and ``reml_std_error``.
    """
    reml = mixedlm_estimates(result).rename(columns={"estimate": "reml_estimate", "std_error": "reml_std_error"})
    missing = [name for name in reml.index if name not in idata.posterior]
    if missing:
        raise ValueError(f"the posterior has no {missing}; fit the model that matches the REML fit")
    posterior = idata.posterior
    bayes = pd.DataFrame(
        {
            "posterior_median": {n: float(posterior[n].median()) for n in reml.index},
            "posterior_sd": {n: float(posterior[n].std()) for n in reml.index},
        }
    )
    return bayes.join(reml).rename_axis("parameter")


def bayes_vs_mixedlm(idata: az.InferenceData, result) -> pd.DataFrame:
    """Posterior means and sds beside MixedLM's REML estimates and standard errors."""
    posterior = idata.posterior
    names = get_model("centered").hyperparameters
    bayes = pd.DataFrame(
        {
            "posterior_mean": {n: float(posterior[n].mean()) for n in names},
            "posterior_sd": {n: float(posterior[n].std()) for n in names},
        }
    )
    reml = mixedlm_estimates(result).rename(columns={"estimate": "reml_estimate", "std_error": "reml_std_error"})
    return bayes.join(reml).rename_axis("parameter")


def least_squares_by_state(
    df: pd.DataFrame, predictor: str = "year_index", outcome: str = "rainfall", group: str = "state"
) -> pd.DataFrame:
    """Fit a straight line to each state's data by ordinary least squares.

    The intercept is the line's value where ``predictor`` is zero, so it
    depends on the predictor's origin: year index 0 is 2009, calendar year 0
    is two millennia before the data.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``state``, ``predictor`` and ``outcome``; at least two distinct
        predictor values per state.
    predictor : str
        The column on the x-axis, e.g. ``"year_index"`` or ``"year"``.
    outcome : str
        The column on the y-axis.
    group : str
        The column of group labels.

    Returns
    -------
    pandas.DataFrame
        Indexed by group label (in the data's order), with columns
        ``intercept`` and ``slope``.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> lines = least_squares_by_state(simulate_rainfall(), "year_index")
    >>> lines.columns.tolist(), len(lines)
    (['intercept', 'slope'], 51)
    >>> by_year = least_squares_by_state(simulate_rainfall(), "year")
    >>> bool(np.allclose(by_year["slope"], lines["slope"]))
    True
    """
    missing = [c for c in (group, predictor, outcome) if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the data has columns {list(df.columns)}")
    rows = {}
    for state, rows_of_state in df.groupby(group, sort=False):
        x = rows_of_state[predictor].to_numpy(dtype=float)
        if np.unique(x).size < 2:
            raise ValueError(f"state {state!r} needs at least two distinct {predictor!r} values for a line")
        # Fit about the mean of x, then move the intercept to x = 0: stable even for x near 2010.
        slope, level = np.polyfit(x - x.mean(), rows_of_state[outcome].to_numpy(dtype=float), 1)
        rows[state] = {"intercept": level - slope * x.mean(), "slope": slope}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(group)


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
    own_lines = least_squares_by_state(frame, "x", prepared.outcome_column, prepared.group_column)
    rows = [
        {"state": label, "method": "no pooling", "intercept": line["intercept"], "slope": line["slope"]}
        for label, line in own_lines.iterrows()
    ]
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


def sampling_efficiency(idata: az.InferenceData, var_names: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """Effective sample sizes of a fit, and bulk ESS per second of sampling.

    The bulk ESS measures how well the draws pin down the centre of a
    posterior, the tail ESS its 5% and 95% quantiles; both use the
    rank-normalised estimators of Vehtari et al. (2021). Dividing by the
    sampling time (``idata.attrs["sampling_seconds"]``, recorded by
    :func:`mixedrain.fit.fit_model`) makes fits of different programs
    comparable: how many independent-draw equivalents each second buys.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model whose ``attrs`` hold ``sampling_seconds``.
    var_names : sequence of str, optional
        Scalar parameters to report (default: the fitted model's
        hyperparameters, from the catalogue).

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``ess_bulk``, ``ess_tail``, ``r_hat`` and
        ``ess_bulk_per_second``.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> idata = az.from_dict(posterior={"mu": np.random.default_rng(0).normal(size=(4, 500))})
    >>> idata.attrs["sampling_seconds"] = 2.0
    >>> table = sampling_efficiency(idata, ["mu"])
    >>> list(table.columns)
    ['ess_bulk', 'ess_tail', 'r_hat', 'ess_bulk_per_second']
    >>> bool(table.loc["mu", "ess_bulk_per_second"] == table.loc["mu", "ess_bulk"] / 2.0)
    True
    """
    seconds = idata.attrs.get("sampling_seconds")
    if seconds is None or not float(seconds) > 0:
        raise ValueError("idata.attrs['sampling_seconds'] must be a positive number; fit with mixedrain.fit.fit_model")
    names = list(get_model(idata.attrs["model"]).hyperparameters if var_names is None else var_names)
    posterior = idata.posterior[names]
    bulk = az.ess(posterior, method="bulk")
    tail = az.ess(posterior, method="tail")
    rhat = az.rhat(posterior)
    table = pd.DataFrame(
        {
            "ess_bulk": [float(bulk[n]) for n in names],
            "ess_tail": [float(tail[n]) for n in names],
            "r_hat": [float(rhat[n]) for n in names],
        },
        index=pd.Index(names, name="parameter"),
    )
    table["ess_bulk_per_second"] = table["ess_bulk"] / float(seconds)
    return table


def shrinkage_fraction(estimates: pd.DataFrame, idata: az.InferenceData) -> pd.Series:
    """The share of the way from its own line to the population that partial pooling moves a state.

    For the intercept and the slope, each state's no-pooling estimate sits
    some distance from the population mean (``mu_alpha`` or ``mu_beta``, the
    posterior mean); its partial-pooling estimate keeps a share of that
    distance. The kept share is the least-squares slope through the origin of
    (partial pooling - population mean) on (no pooling - population mean)
    across states; the shrinkage is one minus it. 0 means the states keep
    their own lines (no pooling), 1 means they all collapse onto the
    population line (complete pooling).

    Parameters
    ----------
    estimates : pandas.DataFrame
        Output of :func:`pooling_estimates`.
    idata : arviz.InferenceData
        The mixed model's fit, for ``mu_alpha`` and ``mu_beta``.

    Returns
    -------
    pandas.Series
        Indexed by ``intercept`` and ``slope``.

    Examples
    --------
    >>> import numpy as np, pandas as pd, arviz as az
    >>> idata = az.from_dict(posterior={"mu_alpha": np.zeros((1, 10)), "mu_beta": np.ones((1, 10))})
    >>> estimates = pd.DataFrame({
    ...     "state": ["A", "B", "A", "B"],
    ...     "method": ["no pooling", "no pooling", "partial pooling", "partial pooling"],
    ...     "intercept": [2.0, -2.0, 1.5, -1.5],
    ...     "slope": [3.0, -1.0, 2.0, 0.0],
    ... })
    >>> shrinkage_fraction(estimates, idata).round(2).to_dict()
    {'intercept': 0.25, 'slope': 0.5}
    """
    wide = estimates.pivot(index="state", columns="method", values=["intercept", "slope"])
    population = {"intercept": float(idata.posterior["mu_alpha"].mean()), "slope": float(idata.posterior["mu_beta"].mean())}
    shares = {}
    for effect, centre in population.items():
        own = wide[(effect, "no pooling")].to_numpy(float) - centre
        pooled = wide[(effect, "partial pooling")].to_numpy(float) - centre
        shares[effect] = 1.0 - float(own @ pooled / (own @ own))
    return pd.Series(shares, name="shrinkage")


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


def group_predictive_check(
    idata: az.InferenceData, statistics: Sequence[str] = ("sd", "min", "max"), level: float = 0.9
) -> pd.DataFrame:
    """Each group's observed statistic beside its posterior predictive distribution.

    A pooled check (all rows in one density) can hide a misfit in some
    groups: a state whose years scatter far more than the model's shared
    ``sigma_y`` allows, or one with an outlying year. Here each statistic is
    computed within each group, once for the observed data and once for
    every replicated data set ``y_rep``.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`mixedrain.fit.fit_model` with ``posterior_predictive``
        (``pointwise=True``).
    statistics : sequence of {"sd", "min", "max", "mean"}
        Within-group statistics to check.
    level : float
        Probability of the central interval of the replicated statistic.

    Returns
    -------
    pandas.DataFrame
        One row per group and statistic: the group column (e.g. ``state``),
        ``statistic``, ``observed``, ``lower`` and ``upper`` (the replicated
        statistic's central interval), ``p_value`` (the share of replicated
        data sets whose statistic is at least the observed one: near 0 or 1
        flags a misfit) and ``outside`` (observed outside the interval).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict(
    ...     posterior_predictive={"y_rep": rng.normal(size=(2, 500, 4))},
    ...     observed_data={"y": np.array([0.0, 1.0, 5.0, 6.0])},
    ...     dims={"y_rep": ["obs"], "y": ["obs"]},
    ... ).assign_coords(obs_state=("obs", ["A", "A", "B", "B"]), groups="observed_vars")
    >>> idata.attrs["group"] = "state"
    >>> check = group_predictive_check(idata, ["mean"])
    >>> check.set_index("state")["outside"].to_dict()
    {'A': False, 'B': True}
    """
    functions = {
        "sd": lambda a: a.std(axis=-1, ddof=1),
        "min": lambda a: a.min(axis=-1),
        "max": lambda a: a.max(axis=-1),
        "mean": lambda a: a.mean(axis=-1),
    }
    unknown = [s for s in statistics if s not in functions]
    if unknown:
        raise ValueError(f"unknown statistic(s) {unknown}; choose from {list(functions)}")
    if "posterior_predictive" not in idata.groups():
        raise ValueError("idata has no posterior_predictive group: fit with pointwise=True")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    group = idata.attrs.get("group", "state")
    if f"obs_{group}" not in idata.observed_data.coords:
        raise ValueError(f"observed_data has no coordinate obs_{group} saying which group each row is in")
    labels = idata.observed_data[f"obs_{group}"].to_numpy()
    observed_y = idata.observed_data["y"].to_numpy()
    replicated = idata.posterior_predictive["y_rep"].transpose("chain", "draw", "obs").to_numpy()
    replicated = replicated.reshape(-1, replicated.shape[-1])
    rows = []
    for label in pd.unique(labels).tolist():
        rows_of_group = labels == label
        for statistic in statistics:
            observed_value = float(functions[statistic](observed_y[rows_of_group]))
            draws = functions[statistic](replicated[:, rows_of_group])
            lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
            rows.append(
                {
                    group: label,
                    "statistic": statistic,
                    "observed": observed_value,
                    "lower": float(lower),
                    "upper": float(upper),
                    "p_value": float((draws >= observed_value).mean()),
                    "outside": bool(observed_value < lower or observed_value > upper),
                }
            )
    return pd.DataFrame(rows)


#: Below this difference in elpd the two models predict so alike that PSIS-LOO cannot rank them,
#: whatever the standard error says (Sivula, Magnusson, Matamoros & Vehtari 2020).
SMALL_ELPD_DIFFERENCE = 4.0


def loo_verdict(comparison: pd.DataFrame, z: float = 2.0) -> str:
    """What ``az.compare`` of two models says, in plain words.

    The difference in expected log predictive density (elpd) is weighed twice:
    below :data:`SMALL_ELPD_DIFFERENCE` the two models predict alike; above
    it, the better model is preferred only if the difference exceeds ``z``
    standard errors of the difference (``dse``).

    Parameters
    ----------
    comparison : pandas.DataFrame
        Output of ``az.compare`` for two models (best first).
    z : float
        How many standard errors the difference must exceed.

    Returns
    -------
    str
        A phrase that can follow "PSIS-LOO finds ...".

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"elpd_diff": [0.0, 10.3], "dse": [0.0, 3.8]}, index=["(x | g)", "(x || g)"])
    >>> loo_verdict(table)
    'clear evidence for (x | g): it predicts better by more than 2 standard errors of the difference'
    >>> loo_verdict(table.assign(elpd_diff=[0.0, 0.9]))
    'no evidence to prefer either model: they predict about equally well'
    """
    if len(comparison) != 2:
        raise ValueError(f"loo_verdict weighs two models, got {len(comparison)}")
    best = comparison.index[0]
    difference = float(comparison["elpd_diff"].iloc[1])
    standard_error = float(comparison["dse"].iloc[1])
    if difference < SMALL_ELPD_DIFFERENCE:
        return "no evidence to prefer either model: they predict about equally well"
    if difference <= z * standard_error:
        return f"weak evidence for {best}: it predicts better, but by less than {z:g} standard errors of the difference"
    return f"clear evidence for {best}: it predicts better by more than {z:g} standard errors of the difference"


def pareto_k_by_observation(idata: az.InferenceData, loo) -> pd.DataFrame:
    """Each observation's Pareto k from PSIS-LOO, beside where it came from, largest first.

    A large k means the posterior would move so much without that observation
    that importance sampling cannot stand in for refitting: its elpd
    contribution is unreliable, and it is an influential observation.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`mixedrain.fit.fit_model` (its ``log_likelihood``
        carries the ``obs_<group>`` and predictor coordinates).
    loo : arviz.ELPDData
        ``az.loo(idata, pointwise=True)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``obs``: the group label, the predictor value, the
        observed outcome ``y``, ``pareto_k`` and ``high`` (``k`` above the
        threshold ``loo.good_k``, 0.7 for a few thousand draws).
    """
    if "pareto_k" not in loo:
        raise ValueError("loo has no pointwise Pareto k; compute it with az.loo(idata, pointwise=True)")
    group, predictor = idata.attrs["group"], idata.attrs["predictor"]
    log_likelihood = idata.log_likelihood
    table = pd.DataFrame(
        {
            group: log_likelihood[f"obs_{group}"].to_numpy(),
            predictor: log_likelihood[predictor].to_numpy(),
            "y": idata.observed_data["y"].to_numpy(),
            "pareto_k": np.asarray(loo.pareto_k),
        },
        index=pd.Index(log_likelihood["obs"].to_numpy(), name="obs"),
    )
    table["high"] = table["pareto_k"] > float(loo.get("good_k", 0.7))
    return table.sort_values("pareto_k", ascending=False)
