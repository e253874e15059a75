import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from mixedrain.calibrate import QUANTITIES
from mixedrain.forecast import forecast_rainfall, summarise_forecast
from mixedrain.plot import (
    plot_forecast_fan,
    plot_group_check,
    plot_group_lines,
    plot_interval_comparison,
    plot_pit,
    plot_rainfall_by_state,
    plot_rank_ecdf,
    plot_recovery,
    plot_shrinkage,
)
from mixedrain.pooling import least_squares_by_group, pooling_estimates


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


def test_interval_comparison_one_panel_per_parameter():
    table = pd.DataFrame(
        {"parameter": ["mu", "mu", "sigma", "sigma"], "method": ["REML", "posterior"] * 2,
         "estimate": [1.0, 1.1, 2.0, 2.1], "lower": [0.5, 0.6, np.nan, 1.5], "upper": [1.5, 1.6, np.nan, 2.8]}
    )
    axes = plot_interval_comparison(table, units={"mu": "inches"})
    assert [ax.get_xlabel() for ax in axes] == ["mu (inches)", "sigma"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["REML", "posterior"]
    with pytest.raises(ValueError, match="one Axes per parameter"):
        plot_interval_comparison(table, axes=[plt.subplots()[1]])


def test_group_check_marks_groups_outside_their_interval():
    check = pd.DataFrame(
        {"state": ["A", "B", "C"], "statistic": "sd", "observed": [1.0, 3.0, 2.0], "lower": [0.5, 1.0, 1.0],
         "upper": [2.0, 2.5, 3.0], "p_value": [0.5, 0.0, 0.4], "outside": [False, True, False]}
    )
    ax = plot_group_check(check, "sd", "Within-state sd (inches)")
    assert labelled(ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "C", "B"]  # sorted by the observed value
    assert "Observed, outside its interval" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="'max' is not in the check"):
        plot_group_check(check, "max", "Wettest year")


def test_pit_histogram():
    ax = plot_pit(np.linspace(0.005, 0.995, 100))
    assert labelled(ax)
    assert sum(patch.get_height() for patch in ax.patches if patch.get_width() < 0.5) == 100
    with pytest.raises(ValueError, match="between 0 and 1"):
        plot_pit([0.5, 1.2])


def test_rank_ecdf_plot_has_one_labelled_panel_per_quantity(fake_sbc_study):
    axes = plot_rank_ecdf(fake_sbc_study())
    assert len(axes) == len(QUANTITIES)
    assert all(ax.get_xlabel().startswith("rank of the true value") for ax in axes)
    assert axes[0].get_ylabel() == "ECDF minus uniform CDF"
    plt.close("all")


# --- Data that are not the book's rainfall: lme4's sleepstudy, with its own column names ------------


def test_data_by_group_with_the_datas_names(sleepstudy_prepared):
    ax = plot_rainfall_by_state(sleepstudy_prepared.frame, ["308", "309"], group="Subject", predictor="Days", outcome="Reaction")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_legend().get_title().get_text()) == ("Days", "Reaction", "Subject")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["308", "309"]


def test_group_lines_draw_each_method_in_each_panel_and_circle_the_highlighted_rows(sleepstudy_prepared):
    frame = sleepstudy_prepared.frame
    own = least_squares_by_group(frame, predictor="Days", outcome="Reaction", group="Subject")
    lines = pd.concat(
        [own.reset_index().assign(method="own line"), own.reset_index().assign(method="flat", slope=0.0)]
    )
    worst = frame.loc[[frame["Reaction"].idxmax()]]
    axes = plot_group_lines(frame, lines, group="Subject", predictor="Days", outcome="Reaction",
                            highlight=worst, highlight_label="Slowest day", xlabel="Days of restriction")  # fmt: skip
    shown = [ax for ax in axes if ax.get_visible()]
    assert len(shown) == 18 and len(axes) == 18 and shown[0].get_title() == "Subject 308"
    assert shown[-1].get_xlabel() == "Days of restriction" and shown[0].get_ylabel() == "Reaction"
    first = shown[0].get_lines()
    assert [line.get_label() for line in first] == ["own line", "flat"]
    intercept, slope = own.loc["308"]
    np.testing.assert_allclose(first[0].get_ydata(), [intercept, intercept + 9 * slope])
    circled = [ax for ax in shown if any(c.get_label() == "Slowest day" and len(c.get_offsets()) for c in ax.collections)]
    assert [ax.get_title() for ax in circled] == [f"Subject {worst['Subject'].iloc[0]}"]
    legend = axes[0].figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["Observed", "own line", "flat", "Slowest day"]
    with pytest.raises(ValueError, match="missing column"):
        plot_group_lines(frame, lines.drop(columns="method"), group="Subject", predictor="Days", outcome="Reaction")


@pytest.mark.stan
def test_forecast_fan_and_shrinkage_of_a_sleepstudy_fit(sleepstudy_fit, sleepstudy_prepared):
    summary = summarise_forecast(forecast_rainfall(sleepstudy_fit, ["308"], range(10, 15), outcome="Reaction"))
    ax = plot_forecast_fan(summary, "308", observed=sleepstudy_prepared.frame)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("Days", "Reaction", "308")
    observed_points = [line for line in ax.get_lines() if line.get_label() == "Observed"][0]
    assert observed_points.get_xdata().tolist() == list(range(10))
    ax = plot_shrinkage(pooling_estimates(sleepstudy_prepared, sleepstudy_fit))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Intercept (Reaction at x = 0)", "Slope (Reaction per unit of Days)")
    assert len(ax.texts) == 18  # one arrow per subject
