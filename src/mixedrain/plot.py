"""The book's figures: seaborn on matplotlib, colour-blind safe, each returning its Axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

#: A palette readers with colour-vision deficiencies can tell apart (seaborn's "colorblind").
PALETTE = sns.color_palette("colorblind")

RAINFALL_LABEL = "Average rainfall (inches)"


def _axes(ax: Axes | None, size: tuple[float, float] = (7, 4)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=size, layout="constrained")[1]


def _whole_years(ax: Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_rainfall_by_state(
    df: pd.DataFrame, states: Sequence[str] | None = None, ax: Axes | None = None, outcome: str = "rainfall"
) -> Axes:
    """Rainfall against year, one line per state.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``state``, ``year`` and ``outcome``.
    states : sequence of str, optional
        States to show (default: all, without a legend when there are many).
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    outcome : str
        The column on the y-axis.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> plot_rainfall_by_state(simulate_rainfall(), ["AL", "AK"]).get_xlabel()
    'Year'
    """
    ax = _axes(ax)
    shown = df if states is None else df[df["state"].isin(states)]
    many = shown["state"].nunique() > len(PALETTE)
    sns.lineplot(
        data=shown,
        x="year",
        y=outcome,
        hue="state",
        palette=None if many else PALETTE[: shown["state"].nunique()],
        legend=not many,
        marker=None if many else "o",
        linewidth=0.8 if many else 1.5,
        alpha=0.5 if many else 1.0,
        ax=ax,
    )
    ax.set(xlabel="Year", ylabel=RAINFALL_LABEL)
    _whole_years(ax)
    if not many:
        ax.legend(title="State", ncols=2, fontsize="small")
    return ax


def plot_forecast_fan(
    summary: pd.DataFrame,
    state: str,
    observed: pd.DataFrame | None = None,
    ax: Axes | None = None,
    colour=None,
) -> Axes:
    """A fan chart: the median forecast with its 50% and 90% intervals, and the data.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`mixedrain.forecast.summarise_forecast` with levels 0.5 and 0.9.
    state : str
        The state to draw.
    observed : pandas.DataFrame, optional
        Observed rows (``state``, ``year``, ``rainfall``) to draw as points.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    colour : optional
        Colour of the fan (default: the palette's first).
    """
    ax = _axes(ax)
    colour = PALETTE[0] if colour is None else colour
    own = summary[summary["state"] == state].sort_values("year")
    if own.empty:
        raise ValueError(f"state {state!r} is not in the forecast summary")
    ax.fill_between(own["year"], own["lower_90"], own["upper_90"], color=colour, alpha=0.2, label="90% interval")
    ax.fill_between(own["year"], own["lower_50"], own["upper_50"], color=colour, alpha=0.4, label="50% interval")
    ax.plot(own["year"], own["median"], color=colour, label="Median forecast")
    if observed is not None:
        data = observed[observed["state"] == state]
        ax.plot(data["year"], data["rainfall"], "o", color="black", markersize=4, label="Observed")
    ax.set(xlabel="Year", ylabel=RAINFALL_LABEL, title=state)
    _whole_years(ax)
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_shrinkage(estimates: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Each state's intercept and slope under no pooling, pulled toward the mixed model's.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Output of :func:`mixedrain.compare.pooling_estimates`.
    ax : matplotlib.axes.Axes, optional
        Where to draw.
    """
    ax = _axes(ax, (6, 5))
    wide = estimates.pivot(index="state", columns="method", values=["intercept", "slope"])
    for state in wide.index:
        ax.annotate(
            "",
            xy=(wide.loc[state, ("intercept", "partial pooling")], wide.loc[state, ("slope", "partial pooling")]),
            xytext=(wide.loc[state, ("intercept", "no pooling")], wide.loc[state, ("slope", "no pooling")]),
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
    ax.set(xlabel="Intercept (rainfall at year index 0, inches)", ylabel="Slope (inches per year)")
    ax.legend(fontsize="small")
    return ax


def plot_recovery(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Posterior mean and interval of each parameter, with its true value marked.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`mixedrain.compare.posterior_vs_truth`.
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
