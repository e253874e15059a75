import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes

from mixedrain.plot import plot_forecast_fan, plot_rainfall_by_state, plot_recovery, plot_shrinkage


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled(ax):
    return isinstance(ax, Axes) and ax.get_xlabel() and ax.get_ylabel()


def test_rainfall_by_state(simulated):
    assert labelled(plot_rainfall_by_state(simulated))
    few = plot_rainfall_by_state(simulated, ["AL", "AK", "AZ"])
    assert [t.get_text() for t in few.get_legend().get_texts()] == ["AL", "AK", "AZ"]


def test_forecast_fan():
    summary = pd.DataFrame(
        {"state": "AL", "year": [2020, 2021], "median": [1.0, 2.0], "lower_50": [0.5, 1.5], "upper_50": [1.5, 2.5],
         "lower_90": [0.0, 1.0], "upper_90": [2.0, 3.0]}
    )
    observed = pd.DataFrame({"state": "AL", "year": [2019], "rainfall": [1.0]})
    ax = plot_forecast_fan(summary, "AL", observed)
    assert labelled(ax) and ax.get_title() == "AL"
    with pytest.raises(ValueError, match="'AK' is not in the forecast summary"):
        plot_forecast_fan(summary, "AK")


def test_shrinkage_and_recovery():
    estimates = pd.DataFrame(
        {"state": ["AL", "AL", "AL", "AK", "AK", "AK"], "method": ["no pooling", "partial pooling", "complete pooling"] * 2,
         "intercept": [1.0, 2, 3, 4, 5, 3], "slope": [1.0, 1.5, 2, 3, 2.5, 2]}
    )
    ax = plot_shrinkage(estimates)
    assert labelled(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["no pooling", "partial pooling", "complete pooling"]
    table = pd.DataFrame({"truth": [1.0], "mean": [1.1], "lower": [0.9], "upper": [1.3]}, index=["mu_beta"])
    assert labelled(plot_recovery(table))
