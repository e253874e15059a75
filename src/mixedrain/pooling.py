"""How far does partial pooling pull each group from its own line toward the population's?"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.prepare import PreparedData, resolve_column_roles

__all__ = ["least_squares_by_group", "pooling_estimates", "shrinkage_fraction"]


def least_squares_by_group(
    df: pd.DataFrame, predictor: str = "year_index", outcome: str = "rainfall", group: str = "state"
) -> pd.DataFrame:
    """Fit a straight line to each group's data by ordinary least squares.

    The intercept is the line's value where ``predictor`` is zero, so it
    depends on the predictor's origin: year index 0 is 2009, calendar year 0
    is two millennia before the data.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``group``, ``predictor`` and ``outcome``; at least two distinct
        predictor values per group.
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
    >>> lines = least_squares_by_group(simulate_rainfall(), "year_index")
    >>> lines.columns.tolist(), len(lines)
    (['intercept', 'slope'], 51)
    >>> by_year = least_squares_by_group(simulate_rainfall(), "year")
    >>> bool(np.allclose(by_year["slope"], lines["slope"]))
    True
    """
    missing = [c for c in (group, predictor, outcome) if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the data has columns {list(df.columns)}")
    rows = {}
    for label, rows_of_group in df.groupby(group, sort=False):
        x = rows_of_group[predictor].to_numpy(dtype=float)
        if np.unique(x).size < 2:
            raise ValueError(f"{group} {label!r} needs at least two distinct {predictor!r} values for a line")
        # Fit about the mean of x, then move the intercept to x = 0: stable even for x near 2010.
        slope, level = np.polyfit(x - x.mean(), rows_of_group[outcome].to_numpy(dtype=float), 1)
        rows[label] = {"intercept": level - slope * x.mean(), "slope": slope}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(group)


def pooling_estimates(prepared: PreparedData, idata: az.InferenceData) -> pd.DataFrame:
    """Intercepts and slopes under no pooling, complete pooling and partial pooling.

    No pooling fits a separate least-squares line per group; complete pooling
    fits one line to all groups; partial pooling is the mixed model's
    posterior mean per group. All three are on the model's ``x`` scale.

    Parameters
    ----------
    prepared : PreparedData
        The data ``idata`` was fitted to.
    idata : arviz.InferenceData
        The mixed model's fit: ``alpha`` and ``beta`` over the group dimension.

    Returns
    -------
    pandas.DataFrame
        Tidy: the group column (named as in the data, e.g. ``state``),
        ``method`` ("no pooling", "partial pooling", "complete pooling"),
        ``intercept``, ``slope``. Its ``attrs`` record the data's column roles
        (:attr:`mixedrain.prepare.PreparedData.column_roles`).
    """
    group = prepared.group_column
    frame = prepared.frame
    y = frame[prepared.outcome_column].to_numpy(float)
    own_lines = least_squares_by_group(frame, "x", prepared.outcome_column, group)
    rows = [
        {group: label, "method": "no pooling", "intercept": line["intercept"], "slope": line["slope"]}
        for label, line in own_lines.iterrows()
    ]
    pooled_intercept, pooled_slope = np.polyfit(frame["x"].to_numpy(float), y, 1)[::-1]
    posterior = idata.posterior
    for label in prepared.groups:
        rows.append(
            {
                group: label,
                "method": "partial pooling",
                "intercept": float(posterior["alpha"].sel({group: label}).mean()),
                "slope": float(posterior["beta"].sel({group: label}).mean()),
            }
        )
        rows.append({group: label, "method": "complete pooling", "intercept": pooled_intercept, "slope": pooled_slope})
    estimates = pd.DataFrame(rows)
    estimates.attrs.update(prepared.column_roles)
    return estimates


def shrinkage_fraction(estimates: pd.DataFrame, idata: az.InferenceData) -> pd.Series:
    """The share of the way from its own line to the population that partial pooling moves a group.

    For the intercept and the slope, each group's no-pooling estimate sits
    some distance from the population mean (``mu_alpha`` or ``mu_beta``, the
    posterior mean); its partial-pooling estimate keeps a share of that
    distance. The kept share is the least-squares slope through the origin of
    (partial pooling - population mean) on (no pooling - population mean)
    across groups; the shrinkage is one minus it. 0 means the groups keep
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
    group = resolve_column_roles(estimates.attrs)["group"]
    wide = estimates.pivot(index=group, columns="method", values=["intercept", "slope"])
    population = {"intercept": float(idata.posterior["mu_alpha"].mean()), "slope": float(idata.posterior["mu_beta"].mean())}
    shares = {}
    for effect, centre in population.items():
        own = wide[(effect, "no pooling")].to_numpy(float) - centre
        pooled = wide[(effect, "partial pooling")].to_numpy(float) - centre
        shares[effect] = 1.0 - float(own @ pooled / (own @ own))
    return pd.Series(shares, name="shrinkage")
