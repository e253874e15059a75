"""A PyStan fit of a reader's own program, named as the book's fits (mixedrain.convert), on chapter 11's program."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mixedrain.checks import group_predictive_check, pareto_k_by_observation
from mixedrain.convert import pystan_to_inference_data
from mixedrain.data import load_orange
from mixedrain.engine import sample_program
from mixedrain.models import load_program

pytestmark = pytest.mark.stan

#: Weak priors for the test's fit, in mm and days (the chapter states and explains its own).
PRIORS = {
    "prior_asym_mean": 200.0, "prior_asym_sd": 100.0, "prior_xmid_mean": 700.0, "prior_xmid_sd": 400.0,
    "prior_scal_mean": 350.0, "prior_scal_sd": 200.0, "prior_sd_asym_scale": 100.0, "prior_sigma_scale": 50.0,
}


@pytest.fixture(scope="module")
def orange_fit():
    orange = load_orange()
    trees = list(orange["Tree"].cat.categories)
    new_rows = pd.DataFrame({"Tree": ["1", "new", "new"], "age": [2000.0, 2000.0, 3000.0]})
    data = {
        "N": len(orange), "J": len(trees), "tree": orange["Tree"].cat.codes.to_numpy() + 1,
        "age": orange["age"].to_numpy(float), "circumference": orange["circumference"].to_numpy(float), **PRIORS,
        "N_new": len(new_rows), "age_new": new_rows["age"].to_numpy(), "tree_new": [1, len(trees) + 1, len(trees) + 1],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fit, model, _ = sample_program(load_program("examples/orange_growth"), data, chains=2, draws=500, warmup=500)
    return orange, new_rows, fit, model


def _convert(orange_fit, **options):
    orange, new_rows, fit, model = orange_fit
    settings = dict(
        observed="circumference", replicated="circumference_rep", rows=orange, group="Tree", predictor="age",
        predictions="circumference_new", new_rows=new_rows,
        coords={"Tree": list(orange["Tree"].cat.categories)}, dims={"asym_tree": ["Tree"]},
    )
    return pystan_to_inference_data(fit, model, **{**settings, **options})


def test_outcome_replicas_and_log_likelihood_take_the_books_names(orange_fit):
    orange = orange_fit[0]
    idata = _convert(orange_fit)
    assert set(idata.groups()) >= {"posterior", "sample_stats", "observed_data", "log_likelihood", "posterior_predictive", "predictions"}
    np.testing.assert_array_equal(idata.observed_data["y"].to_numpy(), orange["circumference"].to_numpy())
    assert idata.posterior_predictive["y_rep"].dims == ("chain", "draw", "obs")
    assert not {"log_lik", "circumference_rep", "circumference_new"} & set(idata.posterior.data_vars)
    assert idata.posterior["asym_tree"].dims == ("chain", "draw", "Tree")
    assert idata.attrs["group"] == "Tree" and idata.attrs["predictor"] == "age" and idata.attrs["outcome"] == "circumference"
    # Each row's log density, computed here from the named draws, is the program's own, row by row and draw by draw:
    # the rows, chains and draws line up.
    post = idata.posterior
    tree_of_row = idata.observed_data["obs_Tree"].to_numpy()
    asym = post["asym_tree"].sel(Tree=list(tree_of_row)).transpose("chain", "draw", "Tree").to_numpy()
    age = idata.observed_data["age"].to_numpy()
    mu = asym / (1 + np.exp((post["xmid"].to_numpy()[..., None] - age) / post["scal"].to_numpy()[..., None]))
    expected = stats.norm.logpdf(orange["circumference"].to_numpy(), mu, post["sigma"].to_numpy()[..., None])
    np.testing.assert_allclose(idata.log_likelihood["y"].transpose("chain", "draw", "obs").to_numpy(), expected, rtol=1e-6)


def test_predictions_carry_the_new_rows_as_coordinates(orange_fit):
    idata = _convert(orange_fit)
    predictions = idata.predictions["circumference_new"]
    assert predictions.dims == ("chain", "draw", "new_obs")
    assert predictions["Tree"].values.tolist() == ["1", "new", "new"]
    assert predictions["age"].values.tolist() == [2000.0, 2000.0, 3000.0]
    # A tree the data never saw is uncertain by the spread between trees too: its prediction is wider.
    spread = predictions.std(("chain", "draw")).to_numpy()
    assert spread[1] > 2 * spread[0]


def test_the_books_checks_and_loo_read_it(orange_fit):
    idata = _convert(orange_fit)
    loo = az.loo(idata, pointwise=True)
    assert loo.n_data_points == 35
    table = pareto_k_by_observation(idata, loo)
    assert list(table.columns[:3]) == ["Tree", "age", "y"] and len(table) == 35
    check = group_predictive_check(idata, ["max"])
    assert sorted(check["Tree"]) == ["1", "2", "3", "4", "5"]
    # Each tree's observed largest circumference has a replicated interval that spans it, or nearly.
    assert check["p_value"].between(0.01, 0.99).all(), check


def test_names_that_do_not_fit_are_named(orange_fit):
    orange = orange_fit[0]
    with pytest.raises(ValueError, match="the program's data has no 'girth'"):
        _convert(orange_fit, observed="girth")
    with pytest.raises(ValueError, match="no log_likelihood 'loglik'; its parameters"):
        _convert(orange_fit, log_likelihood="loglik")
    with pytest.raises(ValueError, match="replicated 'asym_tree' has shape \\(5,\\); it needs one value for each of the 35"):
        _convert(orange_fit, replicated="asym_tree")
    with pytest.raises(ValueError, match="rows has 34 rows, but the outcome 'circumference' has 35"):
        _convert(orange_fit, rows=orange.iloc[1:])
    with pytest.raises(ValueError, match="the group column 'tree' is not a column of rows"):
        _convert(orange_fit, group="tree")
    with pytest.raises(ValueError, match="prediction 'circumference_new' has shape \\(3,\\); it needs one value for each of the 2 new rows"):
        _convert(orange_fit, new_rows=orange_fit[1].iloc[:2])
