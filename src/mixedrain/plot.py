"""The book's figures: seaborn on matplotlib, colour-blind safe, each returning its Axes.

Figures of data or forecasts name their axes after the data's columns (the
group, predictor and outcome roles of :func:`mixedrain.prepare.resolve_column_roles`),
with the book's wording for its rainfall columns (:data:`AXIS_LABELS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from mixedrain.prepare import resolve_column_roles
from mixedrain.ranks import N_THINNED, band_counts, band_probability, rank_cdf, rank_columns

__all__ = [
    "AXIS_LABELS",
    "PALETTE",
    "RAINFALL_LABEL",
    "SYMBOLS",
    "plot_forecast_fan",
    "plot_group_check",
    "plot_group_lines",
    "plot_interval_comparison",
    "plot_pit",
    "plot_rainfall_by_state",
    "plot_rank_ecdf",
    "plot_recovery",
    "plot_shrinkage",
]

#: A palette readers with colour-vision deficiencies can tell apart (seaborn's "colorblind").
PALETTE = sns.color_palette("colorblind")

RAINFALL_LABEL = "Average rainfall (inches)"

#: How the book's columns are written on an axis; any other column is written as it is named.
AXIS_LABELS: dict[str, str] = {"rainfall": RAINFALL_LABEL, "year": "Year", "state": "State"}

#: How the intercept and slope of a line through an outcome are written on the axes of a shrinkage plot.
_EFFECT_LABELS: dict[str, tuple[str, str]] = {
    "rainfall": ("Intercept (rainfall at year index 0, inches)", "Slope (inches per year)"),
}

#: How a parameter or a calibrated quantity is written in figures.
SYMBOLS: dict[str, str] = {
    "mu_alpha": r"$\mu_\alpha$",
    "mu_beta": r"$\mu_\beta$",
    "sigma_alpha": r"$\sigma_\alpha$",
    "sigma_beta": r"$\sigma_\beta$",
    "sigma_y": r"$\sigma_y$",
    "rho": r"$\rho$",
    "phi": r"$\phi$",
    "log_lik": r"$\log p(y \mid \theta)$",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (7, 4)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=size, layout="constrained")[1]


def _whole_years(ax: Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _label(column: str) -> str:
    return AXIS_LABELS.get(column, column)


def plot_rainfall_by_state(
    df: pd.DataFrame,
    groups: Sequence[str] | None = None,
    ax: Axes | None = None,
    outcome: str | None = None,
    *,
    group: str | None = None,
    predictor: str | None = None,
) -> Axes:
    """The outcome (rainfall) against the predictor (year), one line per group (state).

    Parameters
    ----------
    df : pandas.DataFrame
        The group, predictor and outcome columns.
    groups : sequence of str, optional
        Labels of the groups to show (default: all, without a legend when there are many).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    outcome, group, predictor : str, optional
        The columns on the y-axis, of the lines and on the x-axis (default:
        those named in ``df``'s ``attrs``, else ``rainfall``, ``state`` and
        ``year``).

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> plot_rainfall_by_state(simulate_rainfall(), ["AL", "AK"]).get_xlabel()
    'Year'
    """
    roles = resolve_column_roles(df.attrs, group=group, predictor=predictor, outcome=outcome)
    group, predictor, outcome = roles["group"], roles["predictor"], roles["outcome"]
    ax = _axes(ax)
    shown = df if groups is None else df[df[group].isin(groups)]
    many = shown[group].nunique() > len(PALETTE)
    sns.lineplot(
        data=shown,
        x=predictor,
        y=outcome,
        hue=group,
        palette=None if many else PALETTE[: shown[group].nunique()],
        legend=not many,
        marker=None if many else "o",
        linewidth=0.8 if many else 1.5,
        alpha=0.5 if many else 1.0,
        ax=ax,
    )
    ax.set(xlabel=_label(predictor), ylabel=_label(outcome))
    _whole_years(ax)
    if not many:
        ax.legend(title=_label(group), ncols=2, fontsize="small")
    return ax


def plot_forecast_fan(
    summary: pd.DataFrame,
    group_label: str,
    observed: pd.DataFrame | None = None,
    ax: Axes | None = None,
    colour=None,
) -> Axes:
    """A fan chart: the median forecast with its 50% and 90% intervals, and the data.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`mixedrain.forecast.summarise_forecast` with levels
        0.5 and 0.9 (its ``attrs`` name the group, predictor and outcome).
    group_label : str
        The group (e.g. state) to draw.
    observed : pandas.DataFrame, optional
        Observed rows (the group, predictor and outcome columns) to draw as points.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    colour : optional
        Colour of the fan (default: the palette's first).
    """
    roles = resolve_column_roles(summary.attrs)
    group, predictor, outcome = roles["group"], roles["predictor"], roles["outcome"]
    ax = _axes(ax)
    colour = PALETTE[0] if colour is None else colour
    own = summary[summary[group] == group_label].sort_values(predictor)
    if own.empty:
        raise ValueError(f"{group} {group_label!r} is not in the forecast summary")
    ax.fill_between(own[predictor], own["lower_90"], own["upper_90"], color=colour, alpha=0.2, label="90% interval")
    ax.fill_between(own[predictor], own["lower_50"], own["upper_50"], color=colour, alpha=0.4, label="50% interval")
    ax.plot(own[predictor], own["median"], color=colour, label="Median forecast")
    if observed is not None:
        data = observed[observed[group] == group_label]
        ax.plot(data[predictor], data[outcome], "o", color="black", markersize=4, label="Observed")
    ax.set(xlabel=_label(predictor), ylabel=_label(outcome), title=group_label)
    _whole_years(ax)
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_shrinkage(estimates: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Each group's intercept and slope under no pooling, pulled toward the mixed model's.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Output of :func:`mixedrain.pooling.pooling_estimates` (its ``attrs``
        name the group and outcome columns).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    """
    roles = resolve_column_roles(estimates.attrs)
    ax = _axes(ax, (6, 5))
    wide = estimates.pivot(index=roles["group"], columns="method", values=["intercept", "slope"])
    for label in wide.index:
        ax.annotate(
            "",
            xy=(wide.loc[label, ("intercept", "partial pooling")], wide.loc[label, ("slope", "partial pooling")]),
            xytext=(wide.loc[label, ("intercept", "no pooling")], wide.loc[label, ("slope", "no pooling")]),
            arrowprops={"arrowstyle": "->", "color": "grey", "alpha": 0.6, "lw": 0.8},
        )
    styles = {
        "no pooling": {"color": PALETTE[1], "marker": "o", "s": 25},
        "partial pooling": {"color": PALETTE[0], "marker": "o", "s": 25},
        "complete pooling": {"color": PALETTE[2], "marker": "*", "s": 250},
    }
    for method, style in styles.items():
        points = estimates[estimates["method"] == method].drop_duplicates(["intercept", "slope"])
        ax.scatter(points["intercept"], points["slope"], label=method, zorder=3, edgecolor="white", **style)
    outcome, predictor = roles["outcome"], roles["predictor"]
    intercept_label, slope_label = _EFFECT_LABELS.get(
        outcome, (f"Intercept ({outcome} at x = 0)", f"Slope ({outcome} per unit of {predictor})")
    )
    ax.set(xlabel=intercept_label, ylabel=slope_label)
    ax.legend(fontsize="small")
    return ax


#: Colour and line style of the sets of lines in :func:`plot_group_lines`: those of
#: :func:`mixedrain.pooling.pooling_estimates` in the colours of :func:`plot_shrinkage`, others in turn.
_POOLING_STYLES = {"no pooling": (PALETTE[1], "-"), "partial pooling": (PALETTE[0], "-"), "complete pooling": (PALETTE[2], "--")}
_LINE_STYLES = ((PALETTE[0], "-"), (PALETTE[1], "-"), (PALETTE[2], "--"), (PALETTE[4], ":"))


def plot_group_lines(
    data: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    group: str | None = None,
    predictor: str | None = None,
    outcome: str | None = None,
    highlight: pd.DataFrame | None = None,
    highlight_label: str = "Highlighted",
    ncols: int = 6,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> np.ndarray:
    """One small panel per group: its rows as points, and one or more straight lines through them.

    Parameters
    ----------
    data : pandas.DataFrame
        The rows: the group, predictor and outcome columns.
    lines : pandas.DataFrame
        Tidy: the group column, ``method`` (the legend's label for a set of
        lines), ``intercept`` and ``slope`` on the predictor's scale, as
        :func:`mixedrain.pooling.pooling_estimates` returns them. Each method
        is drawn in every panel, in order of appearance (the three pooling
        methods in the colours of :func:`plot_shrinkage`).
    group, predictor, outcome : str, optional
        The columns (default: those named in ``lines``' ``attrs``, else the
        book's rainfall columns).
    highlight : pandas.DataFrame, optional
        Rows to circle (the group, predictor and outcome columns), e.g. the
        observations with a high Pareto k.
    highlight_label : str
        The circles' label in the legend.
    ncols : int
        Panels per row.
    xlabel, ylabel : str, optional
        The axis labels (default: the columns, as the book writes them).

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        The panels, one per group in the data's order (and any unused ones, hidden).

    Examples
    --------
    >>> data = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [0, 1, 0, 1], "y": [1.0, 2.0, 0.0, 2.5]})
    >>> lines = pd.DataFrame({"g": ["a", "b"], "method": "own", "intercept": [1.0, 0.0], "slope": [1.0, 2.5]})
    >>> axes = plot_group_lines(data, lines, group="g", predictor="x", outcome="y", ncols=2)
    >>> [ax.get_title() for ax in axes], axes[0].get_ylabel()
    (['g a', 'g b'], 'y')
    """
    roles = resolve_column_roles(lines.attrs, group=group, predictor=predictor, outcome=outcome)
    group, predictor, outcome = roles["group"], roles["predictor"], roles["outcome"]
    missing = [column for column in (group, predictor, outcome) if column not in data.columns]
    missing += [f"lines: {column}" for column in (group, "method", "intercept", "slope") if column not in lines.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}")
    methods = list(pd.unique(lines["method"]))
    if len(methods) > len(_LINE_STYLES):
        raise ValueError(f"at most {len(_LINE_STYLES)} sets of lines can be told apart, got {len(methods)}: {methods}")
    styles = [_POOLING_STYLES.get(method, style) for method, style in zip(methods, _LINE_STYLES)]
    labels = list(pd.unique(data[group]))
    nrows = math.ceil(len(labels) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2 * ncols, 0.5 + 2 * nrows), sharex=True, sharey=True, layout="constrained", squeeze=False
    )
    axes = axes.ravel()
    span = np.array([data[predictor].min(), data[predictor].max()], dtype=float)
    for ax, label in zip(axes, labels):
        rows = data[data[group] == label]
        ax.scatter(rows[predictor], rows[outcome], s=12, color="0.3", label="Observed")
        for method, (colour, style) in zip(methods, styles):
            line = lines[(lines["method"] == method) & (lines[group] == label)]
            if not line.empty:
                intercept, slope = float(line["intercept"].iloc[0]), float(line["slope"].iloc[0])
                ax.plot(span, intercept + slope * span, color=colour, linestyle=style, lw=1.5, label=method)
        circled = highlight[highlight[group] == label] if highlight is not None else ()
        if len(circled):
            ax.scatter(circled[predictor], circled[outcome], s=90, facecolor="none", edgecolor=PALETTE[3],
                       linewidth=1.5, label=highlight_label)  # fmt: skip
        ax.set_title(f"{group} {label}", fontsize="small")
    for ax in axes[len(labels) :]:
        ax.set_visible(False)
    for ax in axes[(nrows - 1) * ncols : len(labels)]:
        ax.set_xlabel(xlabel or _label(predictor))
    for ax in axes[::ncols]:
        ax.set_ylabel(ylabel or _label(outcome))
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    legend: dict[str, object] = {}
    for ax in axes[: len(labels)]:  # a highlighted point may sit in any panel
        for handle, name in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(name, handle)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=len(legend))
    return axes


def plot_recovery(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Posterior mean and interval of each parameter, with its true value marked.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`mixedrain.truth.posterior_vs_truth`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    """
    ax = _axes(ax, (6, 3))
    positions = np.arange(len(table))[::-1]
    ax.hlines(positions, table["lower"], table["upper"], color=PALETTE[0], lw=2, label="90% posterior interval")
    ax.plot(table["mean"], positions, "o", color=PALETTE[0], label="Posterior mean")
    ax.plot(table["truth"], positions, "x", color=PALETTE[3], markersize=9, mew=2, label="Truth")
    ax.set_yticks(positions, table.index)
    ax.set(xlabel="Value", ylabel="Parameter")
    ax.legend(fontsize="small")
    return ax


def plot_interval_comparison(
    table: pd.DataFrame, units: dict[str, str] | None = None, axes: Sequence[Axes] | None = None
) -> np.ndarray:
    """A forest plot: several methods' estimates and intervals, one panel per parameter.

    Parameters on different scales (an intercept near 20, a spread near 2)
    each get their own horizontal axis, so every interval is readable.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy: ``parameter``, ``method``, ``estimate``, ``lower`` and
        ``upper`` (``NaN`` bounds draw the estimate alone).
    units : dict, optional
        Unit of each parameter, shown in its axis label.
    axes : sequence of matplotlib.axes.Axes, optional
        One per parameter, in the table's order.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes

    Examples
    --------
    >>> table = pd.DataFrame({"parameter": ["mu", "mu", "sigma", "sigma"], "method": ["REML", "posterior"] * 2,
    ...                       "estimate": [1.0, 1.1, 2.0, 2.1], "lower": [0.5, 0.6, np.nan, 1.5],
    ...                       "upper": [1.5, 1.6, np.nan, 2.8]})
    >>> axes = plot_interval_comparison(table, units={"mu": "inches"})
    >>> [ax.get_xlabel() for ax in axes]
    ['mu (inches)', 'sigma']
    """
    parameters = list(pd.unique(table["parameter"]))
    methods = list(pd.unique(table["method"]))
    if axes is None:
        _, axes = plt.subplots(len(parameters), 1, figsize=(6, 1.1 + 0.45 * len(parameters) * len(methods)),
                               layout="constrained", squeeze=False)  # fmt: skip
        axes = axes[:, 0]
    axes = np.asarray(axes)
    if axes.size != len(parameters):
        raise ValueError(f"give one Axes per parameter: {len(parameters)} needed, {axes.size} given")
    positions = np.arange(len(methods))[::-1]
    for ax, parameter in zip(axes, parameters):
        rows = table[table["parameter"] == parameter].set_index("method")
        for position, method, colour in zip(positions, methods, PALETTE):
            if method not in rows.index:
                continue
            row = rows.loc[method]
            ax.hlines(position, row["lower"], row["upper"], color=colour, lw=2.5)
            ax.plot(row["estimate"], position, "o", color=colour)
        ax.set_yticks(positions, methods)
        ax.set_ylim(positions.min() - 0.6, positions.max() + 0.6)
        unit = (units or {}).get(parameter)
        ax.set_xlabel(f"{parameter} ({unit})" if unit else parameter)
    return axes


def plot_group_check(check: pd.DataFrame, statistic: str, label: str, ax: Axes | None = None) -> Axes:
    """Each group's observed statistic against the interval of its replicated values.

    Groups are sorted by the observed value; a dot outside its bar is a group
    the model reproduces poorly on this statistic.

    Parameters
    ----------
    check : pandas.DataFrame
        Output of :func:`mixedrain.checks.group_predictive_check`.
    statistic : str
        Which of its statistics to draw.
    label : str
        What the statistic is, for the vertical axis.
    ax : matplotlib.axes.Axes, optional
        Where to draw.

    Examples
    --------
    >>> check = pd.DataFrame({"state": ["A", "B"], "statistic": "sd", "observed": [1.0, 3.0],
    ...                       "lower": [0.5, 1.0], "upper": [2.0, 2.5], "outside": [False, True]})
    >>> plot_group_check(check, "sd", "Within-state sd (inches)").get_ylabel()
    'Within-state sd (inches)'
    """
    rows = check[check["statistic"] == statistic]
    if rows.empty:
        raise ValueError(f"statistic {statistic!r} is not in the check; it has {sorted(set(check['statistic']))}")
    group = check.columns[0]
    rows = rows.sort_values("observed").reset_index(drop=True)
    ax = _axes(ax, (10, 4))
    ax.vlines(rows.index, rows["lower"], rows["upper"], color=PALETTE[0], lw=3, alpha=0.5,
              label="90% interval of the replicated data")  # fmt: skip
    inside = ~rows["outside"]
    ax.plot(rows.index[inside], rows.loc[inside, "observed"], "o", color="black", markersize=4, label="Observed")
    if rows["outside"].any():
        ax.plot(rows.index[~inside], rows.loc[~inside, "observed"], "D", color=PALETTE[3], markersize=6,
                label="Observed, outside its interval")  # fmt: skip
    ax.set_xticks(rows.index, rows[group], rotation=90, fontsize="x-small")
    ax.set(xlabel=f"{group.capitalize()} (sorted by the observed value)", ylabel=label)
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_pit(pit: Sequence[float] | np.ndarray, ax: Axes | None = None, bins: int = 10, colour=None) -> Axes:
    """Histogram of probability integral transforms, with the band a calibrated forecast stays in.

    Parameters
    ----------
    pit : array-like
        PIT values in [0, 1], e.g. the ``pit`` column of
        :func:`mixedrain.forecast.pit_values`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    bins : int
        Number of equal-width bins.
    colour : optional
        Bar colour.

    Notes
    -----
    The dashed line is the count a uniform PIT expects per bin, ``n / bins``;
    the shaded band is two binomial standard deviations either side of it,
    where most bars of a calibrated forecast fall (values from the same
    group are correlated, so somewhat more spread is ordinary).

    Examples
    --------
    >>> ax = plot_pit(np.linspace(0.01, 0.99, 50))
    >>> ax.get_xlabel()
    'PIT: share of predictive draws below the held-out value'
    """
    pit = np.asarray(pit, dtype=float)
    if pit.size == 0 or np.any((pit < 0) | (pit > 1)):
        raise ValueError("PIT values must lie between 0 and 1, and there must be some")
    ax = _axes(ax, (6, 3.5))
    n, p = pit.size, 1 / bins
    expected, spread = n * p, 2 * np.sqrt(n * p * (1 - p))
    ax.axhspan(max(expected - spread, 0), expected + spread, color="grey", alpha=0.2,
               label="Calibrated: 2 binomial sds")  # fmt: skip
    ax.axhline(expected, color="grey", ls="--", label="Calibrated: expected count")
    ax.hist(pit, bins=np.linspace(0, 1, bins + 1), color=colour or PALETTE[0], edgecolor="white", alpha=0.85)
    ax.set(xlabel="PIT: share of predictive draws below the held-out value", ylabel="Number of held-out values",
           xlim=(0, 1))  # fmt: skip
    ax.legend(fontsize="small", loc="upper center")
    return ax


def plot_rank_ecdf(
    ranks: pd.DataFrame,
    n_thinned: int = N_THINNED,
    family_level: float = 0.95,
    axes: np.ndarray | None = None,
):
    """Draw each quantity's rank ECDF minus the uniform CDF, inside ArviZ's simultaneous band.

    One panel per quantity, as ``az.plot_ecdf(..., difference=True,
    confidence_bands="optimized")`` draws it (the band from
    :func:`mixedrain.ranks.band_counts`, computed once per number of ranks). A
    calibrated program keeps every line inside its shaded band (all together with probability ``family_level``); a line above
    the band means too many low ranks (the truth sits below the posterior), a
    line below it too many high ranks.

    Parameters
    ----------
    ranks : pandas.DataFrame
        The table of :func:`mixedrain.calibrate.run_calibration` (or any with
        ``rank_<quantity>`` columns).
    n_thinned : int
        The largest possible rank.
    family_level : float
        Probability that a calibrated program stays inside every band.
    axes : numpy.ndarray of matplotlib.axes.Axes, optional
        One per quantity.

    Returns
    -------
    numpy.ndarray
        The axes, one per quantity.

    Examples
    --------
    >>> fake = pd.DataFrame({"rank_mu_alpha": np.arange(100) % 100, "rank_sigma_y": np.arange(100) % 100})
    >>> axes = plot_rank_ecdf(fake)
    >>> len(axes), axes[1].get_xlabel()
    (2, 'rank of the true value (0 to 99)')
    """
    table = rank_columns(ranks)
    prob = band_probability(table.shape[1], family_level)
    if axes is None:
        n_columns = 3
        n_rows = math.ceil(table.shape[1] / n_columns)
        _, axes = plt.subplots(n_rows, n_columns, figsize=(9, 2.8 * n_rows), sharey=True, layout="constrained")
    axes = np.ravel(axes)
    eval_points = np.arange(n_thinned + 1)
    uniform = rank_cdf(n_thinned)(eval_points)
    for ax, (quantity, values) in zip(axes, table.items()):
        # What az.plot_ecdf(difference=True, confidence_bands="optimized") draws, from the band computed once per size
        n = len(values)
        lower, upper = band_counts(n, n_thinned, prob)
        ecdf = np.searchsorted(np.sort(values.to_numpy()), eval_points, side="right") / n
        ax.fill_between(eval_points, lower / n - uniform, upper / n - uniform, step="post", color=PALETTE[0], alpha=0.2, linewidth=0)
        ax.step(eval_points, ecdf - uniform, where="post", color=PALETTE[0])
        ax.set_title(SYMBOLS.get(quantity, quantity))
        ax.set_xlabel(f"rank of the true value (0 to {n_thinned})")
        ax.axhline(0, color="grey", linewidth=0.5)
    for ax in axes[: table.shape[1]]:
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("ECDF minus uniform CDF")
    for ax in axes[table.shape[1] :]:
        ax.remove()
    return axes[: table.shape[1]]
