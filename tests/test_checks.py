"""Tests of mixedrain.checks: group-by-group predictive checks and PSIS-LOO in plain words."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from mixedrain.checks import group_predictive_check, loo_verdict, pareto_k_by_observation


def _comparison(difference, standard_error):
    return pd.DataFrame({"elpd_diff": [0.0, difference], "dse": [0.0, standard_error]}, index=["better", "worse"])


@pytest.mark.parametrize(
    ("difference", "standard_error", "start"),
    [
        (0.9, 1.5, "no evidence to prefer either"),
        (3.9, 0.1, "no evidence to prefer either"),  # many standard errors, yet too small to matter
        (6.0, 4.0, "weak evidence for better"),
        (10.3, 3.8, "clear evidence for better"),
    ],
)
def test_loo_verdict_weighs_size_and_uncertainty(difference, standard_error, start):
    assert loo_verdict(_comparison(difference, standard_error)).startswith(start)


def test_loo_verdict_needs_two_models():
    with pytest.raises(ValueError, match="two models"):
        loo_verdict(_comparison(1.0, 1.0).iloc[:1])


def test_pareto_k_names_the_influential_observation():
    rng = np.random.default_rng(0)
    log_likelihood = rng.normal(-1, 0.1, size=(2, 500, 4))
    # Row 2's likelihood collapses in a few draws: leaving it out would move the posterior a lot.
    log_likelihood[:, :, 2] = -np.exp(rng.normal(0, 3, size=(2, 500)))
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(2, 500))},
        log_likelihood={"y": log_likelihood},
        observed_data={"y": np.array([1.0, 2.0, 3.0, 4.0])},
        coords={"obs": np.arange(4)},
        dims={"y": ["obs"]},
    )
    where = {"obs_state": ("obs", ["A", "A", "B", "B"]), "year": ("obs", [2010, 2011, 2010, 2011])}
    idata = idata.assign_coords(where, groups=["log_likelihood", "observed_data"])
    idata.attrs.update(group="state", predictor="year")
    with pytest.warns(UserWarning, match="Pareto"):
        loo = az.loo(idata, pointwise=True)
    table = pareto_k_by_observation(idata, loo)
    assert list(table.columns) == ["state", "year", "y", "pareto_k", "high"]
    assert table.index[0] == 2 and table.iloc[0][["state", "year", "y"]].tolist() == ["B", 2010, 3.0]
    assert table["high"].tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="pointwise"):
        pareto_k_by_observation(idata, loo.drop(["pareto_k", "loo_i"]))


def _replicated(observed_y, labels, draws):
    idata = az.from_dict(
        posterior_predictive={"y_rep": draws},
        observed_data={"y": np.asarray(observed_y, dtype=float)},
        dims={"y_rep": ["obs"], "y": ["obs"]},
    ).assign_coords(obs_state=("obs", labels), groups="observed_vars")
    idata.attrs["group"] = "state"
    return idata


def test_group_predictive_check_flags_only_the_group_the_replicates_miss():
    rng = np.random.default_rng(3)
    # Replicates are N(0, 1) for every row; state B's observed rows sit 6 sds up.
    idata = _replicated([0.2, -0.4, 0.1, 6.1, 5.8, 6.3], ["A"] * 3 + ["B"] * 3, rng.normal(size=(2, 2000, 6)))
    check = group_predictive_check(idata, ["mean", "max"]).set_index(["state", "statistic"])
    assert not check.loc["A", "outside"].any() and check.loc["B", "outside"].all()
    assert (check.loc["B", "p_value"] == 0).all()
    assert check.loc[("A", "mean"), "p_value"] == pytest.approx(0.5, abs=0.15)
    assert check.loc[("B", "max"), "observed"] == pytest.approx(6.3)


def test_group_predictive_check_takes_the_group_column_it_is_given():
    # A formula fit records no group role; its rows' levels sit in obs_<grouping>, named by the caller.
    idata = az.from_dict(
        posterior_predictive={"y_rep": np.zeros((1, 5, 4))},
        observed_data={"y": np.array([0.0, 0.0, 3.0, 3.0])},
        dims={"y_rep": ["obs"], "y": ["obs"]},
    ).assign_coords(obs_Subject=("obs", ["308", "308", "309", "309"]), groups="observed_vars")
    check = group_predictive_check(idata, ["mean"], group="Subject")
    assert check.set_index("Subject")["outside"].to_dict() == {"308": False, "309": True}
    with pytest.raises(ValueError, match="no coordinate obs_state"):
        group_predictive_check(idata, ["mean"])


def test_group_predictive_check_needs_replicates_and_known_statistics():
    idata = _replicated([0.0, 1.0], ["A", "A"], np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="unknown statistic"):
        group_predictive_check(idata, ["median"])
    with pytest.raises(ValueError, match="posterior_predictive"):
        group_predictive_check(az.from_dict(observed_data={"y": np.zeros(2)}))


@pytest.mark.stan
def test_group_predictive_check_passes_the_right_model(centered_fit):
    check = group_predictive_check(centered_fit)
    assert len(check) == 3 * 51
    for statistic, rows in check.groupby("statistic"):
        # A right model puts at most about 10% of the 51 states outside a 90% interval, fewer since a
        # posterior predictive check is conservative; 10 is more than 2 binomial sds above 5.1.
        assert rows["outside"].sum() <= 10, statistic
        # Posterior predictive p-values of a right model centre near 0.5 (mean of 51: sd about 0.04).
        assert 0.35 < rows["p_value"].mean() < 0.65, statistic


@pytest.mark.stan
def test_group_predictive_check_takes_the_group_column_from_the_fit(sleepstudy_fit):
    check = group_predictive_check(sleepstudy_fit, ["sd"])
    assert check.columns[0] == "Subject" and sorted(check["Subject"]) == sorted(sleepstudy_fit.posterior["Subject"].values)
    assert check["p_value"].between(0, 1).all()


def test_how_many_says_all_only_when_every_check_passed():
    from mixedrain.checks import how_many

    assert how_many([True] * 4) == "All 4"
    assert how_many([True, True, False, True]) == "3 of the 4"
    assert how_many([False]) == "0 of the 1"
