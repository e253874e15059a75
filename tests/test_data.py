import pandas as pd
import pytest

from mixedrain.data import load_sleepstudy, sleepstudy_lme4_reml
from mixedrain.models import get_model
from mixedrain.prepare import prepare_data


@pytest.fixture(scope="module")
def sleep():
    return load_sleepstudy()


def test_sleepstudy_has_ten_days_for_each_of_18_subjects(sleep):
    assert list(sleep.columns) == ["Reaction", "Days", "Subject"]
    assert len(sleep) == 180
    assert sleep["Subject"].nunique() == 18
    days = sleep.groupby("Subject")["Days"].apply(sorted)
    assert all(d == list(range(10)) for d in days), days


def test_sleepstudy_rows_match_lme4(sleep):
    # The first and last rows of lme4's data frame, as R prints them.
    first, last = sleep.iloc[0], sleep.iloc[-1]
    assert (first["Reaction"], first["Days"], first["Subject"]) == (pytest.approx(249.5600), 0, "308")
    assert (last["Reaction"], last["Days"], last["Subject"]) == (pytest.approx(364.1236), 9, "372")
    assert sleep["Reaction"].mean() == pytest.approx(298.5079, abs=1e-4)


def test_subjects_are_labels_not_numbers(sleep):
    assert sleep["Subject"].map(type).eq(str).all()
    assert pd.api.types.is_integer_dtype(sleep["Days"])
    assert pd.api.types.is_float_dtype(sleep["Reaction"])


def test_sleepstudy_prepares_for_the_catalogue(sleep):
    prepared = prepare_data(sleep, group="Subject", predictor="Days", outcome="Reaction")
    assert prepared.stan_data["N"] == 180 and prepared.stan_data["J"] == 18
    assert prepared.groups[0] == "308" and prepared.first_year is None
    assert prepared.stan_data["x"][:3] == [0.0, 1.0, 2.0]


def test_each_call_returns_a_fresh_copy(sleep):
    changed = load_sleepstudy()
    changed.loc[0, "Reaction"] = -1.0
    assert load_sleepstudy().loc[0, "Reaction"] == pytest.approx(249.56)


def test_published_lme4_fit_uses_the_catalogue_names():
    published = sleepstudy_lme4_reml()
    assert set(published.index) == set(get_model("correlated").hyperparameters)
    # Standard errors are published for the fixed effects only.
    assert published["std_error"].notna().tolist() == [name.startswith("mu_") for name in published.index]
    assert (published["decimals"] > 0).all()
