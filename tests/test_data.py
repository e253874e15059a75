import pandas as pd
import pytest

from mixedrain.data import agreement_with_printed, load_sleepstudy, printed_digit_gaps, sleepstudy_lme4_reml
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
    # Every value to the digits lme4 prints for summary(fm1): three decimals (a rounding to fewer would
    # let a comparison pass that the printed digits would fail).
    assert (published["decimals"] == 3).all()
    assert published.loc[["sigma_alpha", "sigma_beta", "sigma_y"], "estimate"].tolist() == [24.741, 5.922, 25.592]


def test_printed_digit_gaps_round_like_lme4_before_comparing():
    # Unrounded values that print as lme4's print with gap 0, whatever their trailing digits.
    printed = sleepstudy_lme4_reml()
    nudged = printed["estimate"] + 0.0004
    assert (printed_digit_gaps(nudged) == 0).all()
    gaps = printed_digit_gaps(pd.Series({"mu_beta": 10.4691, "rho": 0.0644, "unknown": 1.0}))
    assert gaps.to_dict() == {"mu_beta": 2, "rho": -2}
    errors = printed_digit_gaps(pd.Series({"mu_alpha": 6.8246, "sigma_y": 1.0}), column="std_error")
    assert errors.to_dict() == {"mu_alpha": 0}  # sigma_y has no printed standard error


def test_agreement_wording_counts_what_it_says():
    exact = agreement_with_printed(sleepstudy_lme4_reml()["estimate"])
    assert exact == "rounded to the digits lme4 prints, every estimate equals the printed value"
    two_off = agreement_with_printed(pd.Series({"mu_alpha": 251.405, "sigma_beta": 5.925, "sigma_y": 25.590}))
    assert two_off.startswith("rounded to the digits lme4 prints, 1 of the 3 estimates equals the printed value; ")
    assert "sigma_beta differs by 3 units in the last printed digit (5.925 against 5.922)" in two_off
    assert "sigma_y differs by 2 units in the last printed digit (25.590 against 25.592)" in two_off


def test_part_three_data_sets_have_r_factors_as_labels():
    from mixedrain.data import load_cbpp, load_grouseticks, load_penicillin, load_radon

    radon = load_radon()
    assert radon["county"].nunique() == 85 and len(radon) == 919
    assert radon["uranium"].groupby(radon["county"], observed=True).nunique().max() == 1  # a county-level predictor
    cbpp = load_cbpp()
    assert (cbpp["incidence"] <= cbpp["size"]).all() and cbpp["herd"].nunique() == 15
    assert list(cbpp["period"].cat.categories) == ["1", "2", "3", "4"]
    penicillin = load_penicillin()
    assert penicillin.groupby(["plate", "sample"], observed=True).size().eq(1).all()  # fully crossed, once each
    ticks = load_grouseticks()
    assert ticks["INDEX"].is_unique and list(ticks["YEAR"].cat.categories) == ["95", "96", "97"]


def test_quoted_lme4_estimates_are_what_lme4_prints():
    # The book quotes published lme4 fits; lme4 itself, on the same rows, must print them (to the digits quoted).
    from lme4_oracle import lme4_estimates

    from mixedrain.data import cbpp_lme4_laplace, load_cbpp, load_penicillin, penicillin_lme4_reml

    cbpp = lme4_estimates(
        load_cbpp(), "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data, family = binomial)", ("herd", "period")
    )
    quoted = cbpp_lme4_laplace()
    names = {"Intercept": "(Intercept)", "period[2]": "period2", "period[3]": "period3", "period[4]": "period4", "sd herd": "herd (Intercept)"}
    for ours, theirs in names.items():
        assert cbpp.loc[theirs, "estimate"] == pytest.approx(quoted.loc[ours, "estimate"], abs=0.0006)
        if ours != "sd herd":
            assert cbpp.loc[theirs, "std_error"] == pytest.approx(quoted.loc[ours, "std_error"], abs=0.0006)
    penicillin = lme4_estimates(load_penicillin(), "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data)", ("plate", "sample"))
    quoted = penicillin_lme4_reml()
    names = {"Intercept": "(Intercept)", "sd plate": "plate (Intercept)", "sd sample": "sample (Intercept)", "sigma": "Residual"}
    for ours, theirs in names.items():
        assert penicillin.loc[theirs, "estimate"] == pytest.approx(quoted.loc[ours, "estimate"], abs=0.0051 if ours == "Intercept" else 0.0006)
    assert penicillin.loc["(Intercept)", "std_error"] == pytest.approx(0.809, abs=0.0006)


def test_orange_trees_are_five_trees_measured_on_the_same_seven_days():
    from mixedrain.data import load_orange

    orange = load_orange()
    assert orange.groupby("Tree", observed=True)["age"].apply(tuple).nunique() == 1
    assert orange.groupby("Tree", observed=True).size().eq(7).all() and orange["Tree"].nunique() == 5
    # Trunks grow: each tree's circumference never shrinks from one measurement to the next.
    assert orange.groupby("Tree", observed=True)["circumference"].apply(lambda c: c.is_monotonic_increasing).all()


def test_quoted_nlmer_fit_is_what_lme4_prints():
    # ?nlmer's example, on the same 35 rows; the quoted values carry the digits summary() prints.
    from lme4_oracle import lme4_estimates

    from mixedrain.data import load_orange, orange_nlmer

    call = "nlmer(circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree, data, start = c(Asym = 200, xmid = 725, scal = 350))"
    lme4 = lme4_estimates(load_orange(), call, ("Tree",))
    quoted = orange_nlmer()
    names = {"Asym": "Asym", "xmid": "xmid", "scal": "scal", "sd Asym": "Tree Asym", "sigma": "Residual"}
    for ours, theirs in names.items():
        digits = 0.0051 if ours in ("Asym", "xmid", "scal") else 0.0006
        assert lme4.loc[theirs, "estimate"] == pytest.approx(quoted.loc[ours, "estimate"], abs=digits), ours
        if ours in ("Asym", "xmid", "scal"):
            assert lme4.loc[theirs, "std_error"] == pytest.approx(quoted.loc[ours, "std_error"], abs=0.0051), ours


def test_agreement_wording_names_its_source():
    one_off = agreement_with_printed(pd.Series({"sigma_alpha": 24.740, "sigma_y": 25.592}), "statsmodels")
    assert one_off == (
        "rounded to the digits lme4 prints, 1 of statsmodels' 2 estimates equals lme4's printed value; "
        "sigma_alpha differs by 1 unit in the last printed digit (statsmodels' 24.740 against lme4's printed 24.741)"
    )
    exact = agreement_with_printed(sleepstudy_lme4_reml()["estimate"], "statsmodels")
    assert exact == "rounded to the digits lme4 prints, every statsmodels estimate equals lme4's printed value"
