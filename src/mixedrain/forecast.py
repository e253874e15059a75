"""Forecast from a fitted model: posterior predictive draws, summaries, checks.

Every table here names its columns after the data's: the group column (e.g.
``state``), the predictor column (e.g. ``year``) and the outcome (e.g.
``rainfall``). Forecasts read them from the fit's ``attrs`` and carry them in
their own ``attrs``, so the summaries and checks downstream find them too;
:func:`mixedrain.prepare.resolve_column_roles` falls back to the book's
rainfall names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from mixedrain.families import get_family
from mixedrain.prepare import PreparedData, resolve_column_roles
from mixedrain.simulate import SimulationParameters, resolve_parameters

__all__ = [
    "LEVELS",
    "draw_new_group_effects",
    "forecast_rainfall",
    "forecast_scorecard",
    "interval_coverage",
    "interval_widths",
    "no_pooling_forecast",
    "oracle_forecast",
    "pit_values",
    "predictive_variance_parts",
    "reml_plugin_forecast",
    "summarise_forecast",
]

#: Central interval widths the book reports.
LEVELS: tuple[float, ...] = (0.5, 0.9)


def forecast_rainfall(
    idata: az.InferenceData,
    groups: Sequence[str],
    predictor_values: Iterable[float],
    *,
    seed: int = 0,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Posterior predictive draws of the outcome for groups at (future) predictor values.

    For a group in the data each posterior draw uses that group's intercept
    and slope. For a group the model never saw, each draw first draws a new
    intercept and slope from the population (:func:`draw_new_group_effects`):
    that is how a mixed model predicts a new group. Then the outcome is drawn
    around the line from the model's family: ``N(line, sigma_y)`` for the
    Gaussian models, a Gamma with mean ``exp(line)`` and shape ``phi`` for
    ``gamma``.

    Parameters
    ----------
    idata : arviz.InferenceData
        Output of :func:`mixedrain.fit.fit_model`; its ``attrs`` name the
        group and predictor columns and map predictor values to ``x``.
    groups : sequence of str
        Group labels (e.g. states); any not in the data are treated as new groups.
    predictor_values : iterable of float
        Values of the predictor column to forecast at, e.g. calendar years
        (which must then be whole numbers).
    seed : int
        Seed for the predictive draws.
    outcome : str, optional
        Name of the outcome column; default the fit's ``attrs["outcome"]`` if
        it records one, else ``rainfall``.

    Returns
    -------
    pandas.DataFrame
        One row per group, predictor value and posterior draw: the group
        column (e.g. ``state``), the predictor column (e.g. ``year``),
        ``draw``, ``seen`` (was the group in the data),
        ``expected_<outcome>`` (the mean: the line, or its exponential under a
        log link) and the outcome (a predictive draw, e.g. ``rainfall``).
        ``attrs`` record the column roles.

    Examples
    --------
    >>> draws = forecast_rainfall(idata, ["AL", "PR"], [2025])  # doctest: +SKIP
    >>> draws.groupby("state")["rainfall"].mean()  # doctest: +SKIP
    """
    roles = resolve_column_roles(idata.attrs, outcome=outcome)
    group_column, predictor_column, outcome_column = roles["group"], roles["predictor"], roles["outcome"]
    if isinstance(groups, str):
        groups = [groups]
    values = np.asarray(list(predictor_values))
    if len(groups) == 0 or values.size == 0:
        raise ValueError(f"give at least one {group_column} and one {predictor_column} value to forecast")
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values.astype(float))):
        raise ValueError(f"{predictor_column} values must be finite numbers, got {values.tolist()}")
    if "first_year" in idata.attrs:  # a year index made from calendar years
        if not np.all(values == np.round(values)):
            raise ValueError(f"years must be whole numbers, got {values.tolist()}")
        values = values.astype(int)
    posterior = az.extract(idata, group="posterior")
    family = get_family(idata.attrs.get("family", "gaussian"))
    rng = np.random.default_rng(seed)
    known = set(posterior[group_column].values.tolist())
    n_draws = posterior.sizes["sample"]
    x = values.astype(float) - idata.attrs["x_origin"]
    dispersion = posterior[family.dispersion].to_numpy()
    frames = []
    for label in groups:
        if label in known:
            alpha = posterior["alpha"].sel({group_column: label}).to_numpy()
            beta = posterior["beta"].sel({group_column: label}).to_numpy()
        else:
            alpha, beta = draw_new_group_effects(posterior, rng)
        eta = alpha[:, None] + beta[:, None] * x[None, :]
        expected = family.mean(eta)
        drawn = family.draw(rng, eta, dispersion[:, None])
        frames.append(
            pd.DataFrame(
                {
                    group_column: label,
                    predictor_column: np.tile(values, n_draws),
                    "draw": np.repeat(np.arange(n_draws), values.size),
                    "seen": label in known,
                    f"expected_{outcome_column}": expected.reshape(-1),
                    outcome_column: drawn.reshape(-1),
                }
            )
        )
    draws = pd.concat(frames, ignore_index=True)
    draws.attrs.update(roles)
    return draws


def draw_new_group_effects(posterior, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one intercept and slope per posterior draw for a new group, one the model never saw.

    Drawn from the population distribution of each draw: independent normals
    ``N(mu_alpha, sigma_alpha)`` and ``N(mu_beta, sigma_beta)``, or, where the
    posterior has a correlation ``rho`` (the correlated model), a bivariate
    normal with that correlation.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior draws stacked on one ``sample`` dimension (``az.extract``).
    rng : numpy.random.Generator

    Returns
    -------
    tuple of numpy.ndarray
        Intercepts and slopes, one per draw.

    Examples
    --------
    >>> import xarray as xr
    >>> posterior = xr.Dataset({name: ("sample", np.full(20_000, value)) for name, value in
    ...     {"mu_alpha": 0.0, "mu_beta": 0.0, "sigma_alpha": 1.0, "sigma_beta": 1.0, "rho": 0.9}.items()})
    >>> alpha, beta = draw_new_group_effects(posterior, np.random.default_rng(0))
    >>> round(float(np.corrcoef(alpha, beta)[0, 1]), 1)
    0.9
    """
    mu_alpha, mu_beta = posterior["mu_alpha"].to_numpy(), posterior["mu_beta"].to_numpy()
    sigma_alpha, sigma_beta = posterior["sigma_alpha"].to_numpy(), posterior["sigma_beta"].to_numpy()
    rho = posterior["rho"].to_numpy() if "rho" in posterior else np.zeros_like(mu_alpha)
    first, second = rng.standard_normal((2, mu_alpha.size))
    alpha = mu_alpha + sigma_alpha * first
    beta = mu_beta + sigma_beta * (rho * first + np.sqrt(1 - rho**2) * second)
    return alpha, beta


def summarise_forecast(draws: pd.DataFrame, levels: Sequence[float] = LEVELS, value: str | None = None) -> pd.DataFrame:
    """Mean, median and central intervals of forecast draws per group and predictor value.

    Parameters
    ----------
    draws : pandas.DataFrame
        Output of :func:`forecast_rainfall`.
    levels : sequence of float
        Interval widths, e.g. ``(0.5, 0.9)`` gives ``lower_50``, ``upper_50``,
        ``lower_90`` and ``upper_90``.
    value : str, optional
        The column to summarise (default: the outcome, e.g. ``rainfall``).

    Returns
    -------
    pandas.DataFrame
        One row per group and predictor value (e.g. state and year), with
        ``draws``' column roles in its ``attrs``.

    Examples
    --------
    >>> draws = pd.DataFrame({"state": "AL", "year": 2025, "rainfall": np.arange(101.0)})
    >>> summarise_forecast(draws)[["median", "lower_90", "upper_90"]].iloc[0].round(6).tolist()
    [50.0, 5.0, 95.0]
    """
    _check_levels(levels)
    roles = _roles(draws)
    grouped = draws.groupby([roles["group"], roles["predictor"]], sort=False)[value or roles["outcome"]]
    summary = grouped.agg(mean="mean", median="median", sd="std")
    for level in levels:
        tail = (1 - level) / 2
        summary[f"lower_{_percent(level)}"] = grouped.quantile(tail)
        summary[f"upper_{_percent(level)}"] = grouped.quantile(1 - tail)
    summary = summary.reset_index()
    summary.attrs.update(roles)
    return summary


def interval_coverage(
    summary: pd.DataFrame, observed: pd.DataFrame, levels: Sequence[float] = LEVELS, outcome: str | None = None
) -> pd.DataFrame:
    """Share of observed values inside each central interval.

    A calibrated forecast puts about 50% of held-out values inside its 50%
    intervals and about 90% inside its 90% intervals.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarise_forecast` (or :func:`no_pooling_forecast`).
    observed : pandas.DataFrame
        Held-out rows with the group and predictor columns (e.g. ``state``,
        ``year``) and the outcome.
    levels : sequence of float
        Interval widths present in ``summary``.
    outcome : str, optional
        The observed column (default: the outcome in ``summary``'s ``attrs``).

    Returns
    -------
    pandas.DataFrame
        ``level``, ``coverage`` and ``n`` (number of held-out values).

    Examples
    --------
    >>> summary = pd.DataFrame({"state": ["AL"], "year": [2018], "lower_90": [0.0], "upper_90": [10.0]})
    >>> observed = pd.DataFrame({"state": ["AL"], "year": [2018], "rainfall": [5.0]})
    >>> interval_coverage(summary, observed, levels=[0.9])["coverage"].tolist()
    [1.0]
    """
    roles = _roles(summary, outcome=outcome)
    keys, outcome = [roles["group"], roles["predictor"]], roles["outcome"]
    merged = observed[[*keys, outcome]].merge(summary, on=keys, how="inner", validate="1:1")
    if len(merged) == 0:
        raise ValueError(f"no observed ({', '.join(keys)}) pair appears in the forecast summary")
    rows = []
    for level in levels:
        p = _percent(level)
        inside = (merged[outcome] >= merged[f"lower_{p}"]) & (merged[outcome] <= merged[f"upper_{p}"])
        rows.append({"level": level, "coverage": float(inside.mean()), "n": len(merged)})
    return pd.DataFrame(rows)


def no_pooling_forecast(
    train: pd.DataFrame,
    groups: Sequence[str],
    predictor_values: Iterable[float],
    levels: Sequence[float] = LEVELS,
    *,
    group: str | None = None,
    predictor: str | None = None,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Forecast each group from its own least-squares line: the no-pooling baseline.

    Each group's intervals are ordinary-least-squares prediction intervals
    (Student t) from that group's data alone: no information is shared.

    Parameters
    ----------
    train : pandas.DataFrame
        The group, predictor and outcome columns; at least 3 rows per group.
    groups : sequence of str
        Groups to forecast (each must be in ``train``).
    predictor_values : iterable of float
        Values of the predictor column to forecast at, e.g. years.
    levels : sequence of float
        Interval widths.
    group, predictor, outcome : str, optional
        The columns playing each role (default: those named in ``train``'s
        ``attrs``, else ``state``, ``year`` and ``rainfall``).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`summarise_forecast` (``median`` equals ``mean``).
    """
    roles = _roles(train, group=group, predictor=predictor, outcome=outcome)
    group_column, predictor_column = roles["group"], roles["predictor"]
    given = np.asarray(list(predictor_values))
    values = given.astype(float)
    rows = []
    for label in groups:
        own = train[train[group_column] == label]
        if len(own) < 3:
            raise ValueError(f"{group_column} {label!r} needs at least 3 rows in the training data, has {len(own)}")
        result = sm.OLS(own[roles["outcome"]].to_numpy(float), sm.add_constant(own[predictor_column].to_numpy(float))).fit()
        frame = pd.DataFrame({group_column: label, predictor_column: given})
        exog = sm.add_constant(values, has_constant="add")
        prediction = result.get_prediction(exog)
        frame["mean"] = frame["median"] = prediction.predicted_mean
        frame["sd"] = np.sqrt(prediction.var_pred_mean + result.scale)
        for level in levels:
            bounds = prediction.conf_int(obs=True, alpha=1 - level)
            frame[f"lower_{_percent(level)}"] = bounds[:, 0]
            frame[f"upper_{_percent(level)}"] = bounds[:, 1]
        rows.append(frame)
    summary = pd.concat(rows, ignore_index=True)
    summary.attrs.update(roles)
    return summary


def oracle_forecast(
    simulated: pd.DataFrame, state: str, year: int, params: SimulationParameters | str = "text"
) -> dict[str, float]:
    """The forecast of someone who knows the simulation's truth.

    The seed writes it as ``N(intercept + slope * year_index, 5)`` for
    Alabama in 2025. Strictly the error has mean ``error_mu`` (0.1), so the
    oracle's mean includes it; ``seed_mean`` leaves it out as the seed does.

    Parameters
    ----------
    simulated : pandas.DataFrame
        Output of :func:`mixedrain.simulate.simulate_rainfall` (with the truth).
    state : str
        A simulated state.
    year : int
        Calendar year.
    params : SimulationParameters or str
        The parameters the data were simulated with.

    Returns
    -------
    dict
        ``intercept``, ``slope``, ``x`` (the predictor's value in ``year``),
        ``seed_mean``, ``mean``, ``sd``.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> round(oracle_forecast(simulate_rainfall(), "AL", 2025)["seed_mean"], 2)
    98.05
    """
    params = resolve_parameters(params)
    rows = simulated[simulated["state"] == state]
    if rows.empty:
        raise ValueError(f"state {state!r} is not in the simulated data")
    intercept, slope = float(rows["true_intercept"].iloc[0]), float(rows["true_slope"].iloc[0])
    x = year - params.years[0] + 1 if params.predictor == "year_index" else year
    seed_mean = intercept + slope * x
    return {
        "intercept": intercept,
        "slope": slope,
        "x": float(x),
        "seed_mean": seed_mean,
        "mean": seed_mean + params.error_mu,
        "sd": params.error_sigma,
    }


def predictive_variance_parts(draws: pd.DataFrame, idata: az.InferenceData) -> pd.DataFrame:
    """Split each forecast's variance into the line's uncertainty and the year-to-year noise.

    By the law of total variance a posterior predictive draw has variance

    ``var(rainfall) = var(expected_rainfall) + E[sigma_y ** 2]``:

    the spread of the state's line across posterior draws (we do not know
    the intercept and slope exactly) plus the average variance of the noise
    around the line (rainfall scatters from year to year even when the line
    is known). The same holds for any group and outcome of a Gaussian model.

    Parameters
    ----------
    draws : pandas.DataFrame
        Output of :func:`forecast_rainfall` for ``idata``.
    idata : arviz.InferenceData
        The fit the draws came from; its posterior must hold ``sigma_y``.

    Returns
    -------
    pandas.DataFrame
        One row per group and predictor value (e.g. state and year):
        ``line_variance``, ``noise_variance``, ``total_variance`` (their sum)
        and ``sampled_variance`` (the variance of the outcome's draws, which
        should be close to the total).

    Examples
    --------
    >>> posterior = {"sigma_y": np.full((1, 4), 2.0)}
    >>> idata = az.from_dict(posterior=posterior)
    >>> draws = pd.DataFrame({"state": "AL", "year": 2025, "expected_rainfall": [9.0, 11.0, 9.0, 11.0],
    ...                       "rainfall": [7.0, 13.0, 8.0, 12.0]})
    >>> predictive_variance_parts(draws, idata)[["line_variance", "noise_variance", "total_variance"]].iloc[0].tolist()
    [1.3333333333333333, 4.0, 5.333333333333333]
    """
    roles = _roles(draws)
    keys, outcome = [roles["group"], roles["predictor"]], roles["outcome"]
    missing = [c for c in (*keys, f"expected_{outcome}", outcome) if c not in draws.columns]
    if missing:
        raise ValueError(f"draws lack column(s) {missing}; pass the output of forecast_rainfall()")
    noise_variance = float((idata.posterior["sigma_y"] ** 2).mean())
    grouped = draws.groupby(keys, sort=False)
    parts = pd.DataFrame({"line_variance": grouped[f"expected_{outcome}"].var()})
    parts["noise_variance"] = noise_variance
    parts["total_variance"] = parts["line_variance"] + noise_variance
    parts["sampled_variance"] = grouped[outcome].var()
    return parts.reset_index()


def interval_widths(summary: pd.DataFrame, levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Width (upper minus lower bound) of each central interval, in long form.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`summarise_forecast` or :func:`no_pooling_forecast`.
    levels : sequence of float
        Interval widths present in ``summary``.

    Returns
    -------
    pandas.DataFrame
        The group and predictor columns (e.g. ``state``, ``year``), ``level``
        and ``width``: one row per group, predictor value and level.

    Examples
    --------
    >>> summary = pd.DataFrame({"state": ["AL"], "year": [2018], "lower_50": [4.0], "upper_50": [6.0],
    ...                         "lower_90": [1.0], "upper_90": [9.0]})
    >>> interval_widths(summary)["width"].tolist()
    [2.0, 8.0]
    """
    roles = _roles(summary)
    frames = []
    for level in levels:
        p = _percent(level)
        missing = [c for c in (f"lower_{p}", f"upper_{p}") if c not in summary.columns]
        if missing:
            raise ValueError(f"summary lacks column(s) {missing} for the {p}% interval")
        frame = summary[[roles["group"], roles["predictor"]]].copy()
        frame["level"] = level
        frame["width"] = summary[f"upper_{p}"] - summary[f"lower_{p}"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def forecast_scorecard(
    summaries: Mapping[str, pd.DataFrame],
    observed: pd.DataFrame,
    levels: Sequence[float] = LEVELS,
    outcome: str | None = None,
) -> pd.DataFrame:
    """Coverage and mean interval width of several forecasts of the same held-out data.

    A good forecast has coverage near each nominal level *and* narrow
    intervals: wide intervals cover easily. ``coverage_sd`` is the binomial
    standard deviation ``sqrt(level * (1 - level) / n)`` that coverage would
    show from chance alone if the intervals were exactly calibrated and the
    ``n`` held-out values independent; differences smaller than about two of
    them are noise.

    Parameters
    ----------
    summaries : mapping of str to pandas.DataFrame
        Method name to its summary (from :func:`summarise_forecast` or
        :func:`no_pooling_forecast`).
    observed : pandas.DataFrame
        Held-out rows with the group and predictor columns (e.g. ``state``,
        ``year``) and the outcome.
    levels : sequence of float
        Interval widths present in every summary.
    outcome : str, optional
        The observed column (default: the outcome in each summary's ``attrs``).

    Returns
    -------
    pandas.DataFrame
        ``method``, ``level``, ``coverage``, ``n``, ``coverage_sd`` and
        ``mean_width`` (over the held-out rows, e.g. state-years).

    Examples
    --------
    >>> observed = pd.DataFrame({"state": ["AL", "AK"], "year": [2018, 2018], "rainfall": [5.0, 20.0]})
    >>> summary = pd.DataFrame({"state": ["AL", "AK"], "year": [2018, 2018],
    ...                         "lower_90": [0.0, 0.0], "upper_90": [10.0, 10.0]})
    >>> forecast_scorecard({"wide": summary}, observed, levels=[0.9])[["coverage", "mean_width"]].iloc[0].tolist()
    [0.5, 10.0]
    """
    if len(summaries) == 0:
        raise ValueError("give at least one forecast summary to score")
    rows = []
    for method, summary in summaries.items():
        coverage = interval_coverage(summary, observed, levels, outcome)
        roles = _roles(summary)
        keys = [roles["group"], roles["predictor"]]
        scored = observed[keys].merge(summary, on=keys, how="inner")
        widths = interval_widths(scored, levels).groupby("level")["width"].mean()
        for _, row in coverage.iterrows():
            level, n = float(row["level"]), int(row["n"])
            rows.append(
                {
                    "method": method,
                    "level": level,
                    "coverage": float(row["coverage"]),
                    "n": n,
                    "coverage_sd": float(np.sqrt(level * (1 - level) / n)),
                    "mean_width": float(widths.loc[level]),
                }
            )
    return pd.DataFrame(rows)


def _check_levels(levels: Sequence[float]) -> None:
    for level in levels:
        if not 0 < level < 1:
            raise ValueError(f"interval levels must lie strictly between 0 and 1, got {level!r}")


def _percent(level: float) -> str:
    return f"{level * 100:g}"


def _roles(table: pd.DataFrame, **given: str | None) -> dict[str, str]:
    """The columns of a forecast table playing each role: given, else in its ``attrs``, else rainfall's."""
    return resolve_column_roles(table.attrs, **given)


def reml_plugin_forecast(
    result,
    prepared: PreparedData,
    groups: Sequence[str],
    predictor_values: Iterable[float],
    levels: Sequence[float] = LEVELS,
) -> pd.DataFrame:
    """The lme4 user's forecast: the REML fit's line for each state, plus its residual noise.

    In lme4 one would call ``predict(fit, newdata)`` for the line (fixed
    effects plus each state's predicted random effects, the BLUPs) and add
    ``sigma(fit)`` for the year-to-year noise. The predictive distribution is
    then ``N(line, sigma_y)`` with every parameter plugged in at its estimate:
    it ignores that the state's line, and ``sigma_y`` itself, are uncertain,
    which a posterior predictive forecast carries.

    Parameters
    ----------
    result : statsmodels MixedLMResults
        Output of :func:`mixedrain.reml.fit_mixedlm` for ``prepared``.
    prepared : PreparedData
        The data the model was fitted to (it names the columns and maps the
        predictor's values, e.g. years, to ``x``).
    groups : sequence of str
        Groups (e.g. states) to forecast; each must be in the fit, since a
        group the model never saw has no predicted random effect.
    predictor_values : iterable of float
        Values of the predictor column to forecast at, e.g. years.
    levels : sequence of float
        Interval widths.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`summarise_forecast`: the group and predictor
        columns (e.g. ``state``, ``year``), ``mean``, ``median`` (equal to the
        mean), ``sd`` and the bounds of each central interval.

    Examples
    --------
    >>> from mixedrain.reml import fit_mixedlm
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import observed, simulate_rainfall
    >>> prepared = prepare_data(observed(simulate_rainfall()))
    >>> plugin = reml_plugin_forecast(fit_mixedlm(prepared), prepared, ["AL"], [2025])
    >>> plugin.columns.tolist()
    ['state', 'year', 'mean', 'median', 'sd', 'lower_50', 'upper_50', 'lower_90', 'upper_90']
    >>> bool(plugin["sd"].iloc[0] < 5.5)
    True
    """
    group_column, predictor_column = prepared.group_column, prepared.predictor_column
    if isinstance(groups, str):
        groups = [groups]
    unseen = [label for label in groups if label not in prepared.groups]
    if unseen:
        raise ValueError(
            f"{group_column}(s) {unseen} are not in the fit: the plug-in forecast needs each {group_column}'s own BLUP"
        )
    _check_levels(levels)
    if len(result.random_effects) != len(prepared.groups):
        raise ValueError(f"result has {len(result.random_effects)} groups, prepared {len(prepared.groups)}: fit it to prepared")
    values = np.asarray(list(predictor_values))
    if prepared.first_year is not None:  # calendar years
        values = values.astype(int)
    x = np.asarray(prepared.to_x(values), dtype=float)
    intercept, slope = (float(value) for value in result.fe_params.iloc[:2])
    sd = float(np.sqrt(result.scale))
    frames = []
    for label in groups:
        # MixedLM's groups are prepare_data's group codes, 1..J in the order of prepared.groups.
        effects = result.random_effects[prepared.groups.index(label) + 1]
        line = intercept + float(effects.iloc[0]) + (slope + float(effects.iloc[1])) * x
        frame = pd.DataFrame({group_column: label, predictor_column: values, "mean": line, "median": line, "sd": sd})
        for level in levels:
            half_width = stats.norm.ppf((1 + level) / 2) * sd
            frame[f"lower_{_percent(level)}"] = line - half_width
            frame[f"upper_{_percent(level)}"] = line + half_width
        frames.append(frame)
    summary = pd.concat(frames, ignore_index=True)
    summary.attrs.update(prepared.column_roles)
    return summary


def pit_values(
    draws: pd.DataFrame, observed: pd.DataFrame, value: str | None = None, outcome: str | None = None
) -> pd.DataFrame:
    """Probability integral transform of each observed value within its predictive draws.

    The PIT of an observed value is the share of its forecast's draws that
    fall below it. If the forecast is calibrated, PITs are uniform on 0 to 1:
    a histogram piled up at both ends (a U) means intervals too narrow, a
    hump in the middle intervals too wide, a slope a forecast biased up or
    down.

    Parameters
    ----------
    draws : pandas.DataFrame
        Output of :func:`forecast_rainfall`.
    observed : pandas.DataFrame
        Held-out rows with the group and predictor columns (e.g. ``state``,
        ``year``) and the outcome.
    value : str, optional
        The column of ``draws`` to compare with (default: the outcome).
    outcome : str, optional
        The observed column (default: the outcome in ``draws``' ``attrs``).

    Returns
    -------
    pandas.DataFrame
        The group and predictor columns, the outcome and ``pit``, one row per
        observed value that has draws.

    Examples
    --------
    >>> draws = pd.DataFrame({"state": "AL", "year": 2018, "rainfall": np.arange(100.0)})
    >>> observed = pd.DataFrame({"state": ["AL"], "year": [2018], "rainfall": [24.5]})
    >>> pit_values(draws, observed)["pit"].tolist()
    [0.25]
    """
    roles = _roles(draws, outcome=outcome)
    keys, outcome = [roles["group"], roles["predictor"]], roles["outcome"]
    value = value or outcome
    missing = [c for c in (*keys, value) if c not in draws.columns]
    if missing:
        raise ValueError(f"draws lack column(s) {missing}; pass the output of forecast_rainfall()")
    merged = observed[[*keys, outcome]].merge(
        draws[[*keys, value]].rename(columns={value: "_draw"}), on=keys, how="inner"
    )
    if len(merged) == 0:
        raise ValueError(f"no observed ({', '.join(keys)}) pair appears in the draws")
    merged["_below"] = merged["_draw"] < merged[outcome]
    pit = merged.groupby([*keys, outcome], sort=False)["_below"].mean().rename("pit")
    return pit.reset_index()
