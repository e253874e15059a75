import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedrain.models import default_priors
from mixedrain.prepare import MAX_MAGNITUDE, DuplicateRowsWarning, prepare_data


def small_frame():
    return pd.DataFrame(
        {
            "state": ["AL", "AL", "AK", "AK", "AZ", "AZ"],
            "year": [2010, 2011, 2010, 2011, 2010, 2011],
            "rainfall": [40.9, 35.0, 21.3, 28.8, 19.0, 22.5],
        }
    )


def test_stan_data_and_group_mapping():
    prepared = prepare_data(small_frame())
    data = prepared.stan_data
    assert (data["N"], data["J"]) == (6, 3)
    assert data["group"] == [1, 1, 2, 2, 3, 3]
    assert prepared.groups == ("AL", "AK", "AZ")
    assert data["x"] == [1.0, 2.0] * 3
    assert data["y"] == small_frame()["rainfall"].tolist()


def test_centring():
    assert prepare_data(small_frame(), centre=True).stan_data["x"] == [-0.5, 0.5] * 3
    prepared = prepare_data(small_frame(), centre=1.0, first_year=2009)
    assert prepared.stan_data["x"] == [1.0, 2.0] * 3
    assert prepared.to_x([2025]).tolist() == [16.0]


# Each bad input on its own, with the words its error must contain.
def with_change(change):
    df = small_frame()
    change(df)
    return df


BAD_INPUTS = {
    "missing column": (lambda df: df.drop(columns="rainfall"), ValueError, r"missing column\(s\) \['rainfall'\]"),
    "NaN outcome": (
        lambda df: with_change(lambda d: d.__setitem__("rainfall", [40.9, np.nan, 21.3, 28.8, 19.0, 22.5])),
        ValueError,
        r"column 'rainfall' has missing or non-finite.*\[1\]",
    ),
    "infinite outcome": (
        lambda df: with_change(lambda d: d.__setitem__("rainfall", [40.9, 35, 21.3, np.inf, 19.0, 22.5])),
        ValueError,
        r"column 'rainfall'.*\[3\]",
    ),
    "text outcome": (
        lambda df: with_change(lambda d: d.__setitem__("rainfall", ["40.9", "35", "x", "1", "2", "3"])),
        TypeError,
        r"column 'rainfall' must be numeric",
    ),
    "boolean year": (
        lambda df: with_change(lambda d: d.__setitem__("year", [True, False] * 3)),
        TypeError,
        r"column 'year' must be numeric",
    ),
    "fractional year": (
        lambda df: with_change(lambda d: d.__setitem__("year", [2010, 2010.5, 2010, 2011, 2010, 2011])),
        ValueError,
        r"column 'year' must hold whole-number years: 1 row\(s\) \[1\]",
    ),
    "missing year": (
        lambda df: with_change(lambda d: d.__setitem__("year", [2010, None, 2010, 2011, 2010, 2011])),
        ValueError,
        r"column 'year' has missing.*\[1\]",
    ),
    "missing state": (
        lambda df: with_change(lambda d: d.__setitem__("state", ["AL", "AL", None, "AK", "AZ", "AZ"])),
        ValueError,
        r"column 'state' has missing group labels: 1 row\(s\) \[2\]",
    ),
    "one group": (
        lambda df: with_change(lambda d: d.__setitem__("state", ["AL"] * 6)),
        ValueError,
        r"column 'state' has 1 group \('AL'\); a mixed model needs at least 2 groups",
    ),
    "one observation in a group": (lambda df: df.iloc[1:], ValueError, r"column 'state'.*'AL' \(1 row\)"),
    "empty": (lambda df: df.iloc[:0], ValueError, "no rows"),
    "not a DataFrame": (lambda df: df.to_dict(), TypeError, "expected a pandas DataFrame, got dict"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_an_error_naming_the_problem(case):
    make, error, message = BAD_INPUTS[case]
    with pytest.raises(error, match=message):
        prepare_data(make(small_frame()))


def test_other_column_names_and_bad_centre():
    df = small_frame().rename(columns={"state": "school", "year": "term", "rainfall": "score"})
    prepared = prepare_data(df, group="school", time="term", outcome="score")
    assert prepared.groups == ("AL", "AK", "AZ")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['state', 'year', 'rainfall'\]"):
        prepare_data(df)
    with pytest.raises(TypeError, match="centre"):
        prepare_data(small_frame(), centre="middle")


@st.composite
def panels(draw):
    n_groups = draw(st.integers(2, 6))
    labels = draw(st.lists(st.text("ABCDEFGH", min_size=1, max_size=3), min_size=n_groups, max_size=n_groups, unique=True))
    rows = []
    for label in labels:
        years = draw(st.lists(st.integers(1990, 2030), min_size=2, max_size=8))
        if not rows:  # the first group's years differ, so the panel has a slope to estimate
            years = draw(st.lists(st.integers(1990, 2030), min_size=2, max_size=8, unique=True))
        rows += [(label, year, draw(st.floats(-1e6, 1e6))) for year in years]
    order = draw(st.permutations(range(len(rows))))
    return pd.DataFrame([rows[i] for i in order], columns=["state", "year", "rainfall"])


@settings(max_examples=60, deadline=None)
@given(panels(), st.booleans())
def test_prepare_properties(df, centre):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DuplicateRowsWarning)
        prepared = prepare_data(df, centre=centre)
    # A warning exactly when some row repeats another in every column.
    assert any(issubclass(w.category, DuplicateRowsWarning) for w in caught) == df.duplicated().any()
    data = prepared.stan_data
    # Codes are contiguous 1..J, in order of first appearance, and map back to each row's label.
    assert sorted(set(data["group"])) == list(range(1, data["J"] + 1))
    assert [prepared.groups[code - 1] for code in data["group"]] == df["state"].tolist()
    assert prepared.groups == tuple(pd.unique(df["state"]))
    assert data["N"] == len(df) == len(data["x"]) == len(data["y"])
    # The predictor is the year index shifted by the centre, and predictor() agrees with it.
    expected_x = df["year"] - df["year"].min() + 1 - prepared.centre
    np.testing.assert_allclose(data["x"], expected_x)
    np.testing.assert_allclose(prepared.to_x(df["year"].to_numpy()), expected_x)
    if centre:
        assert abs(np.mean(data["x"])) < 1e-9 * max(1.0, len(df))
    assert data["y"] == df["rainfall"].tolist()


@settings(max_examples=40, deadline=None)
@given(panels(), st.data())
def test_a_nan_anywhere_is_reported_with_its_row(df, data):
    row = data.draw(st.sampled_from(list(df.index)))
    df.loc[row, "rainfall"] = np.nan
    with pytest.raises(ValueError, match=rf"'rainfall'.*\[{row}\]"):
        prepare_data(df)


def sleep_frame():
    """sleepstudy's shape: a numeric predictor (Days from 0) that is not a calendar year."""
    return pd.DataFrame(
        {
            "Subject": ["308", "308", "308", "309", "309", "309"],
            "Days": [0, 1, 2, 0, 1, 2],
            "Reaction": [249.6, 258.7, 250.8, 222.7, 205.3, 203.0],
        }
    )


def test_a_numeric_predictor_is_used_as_it_stands():
    prepared = prepare_data(sleep_frame(), group="Subject", predictor="Days", outcome="Reaction")
    assert prepared.stan_data["x"] == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    assert prepared.first_year is None and prepared.predictor_column == "Days"
    assert prepared.to_x([9]).tolist() == [9.0]
    centred = prepare_data(sleep_frame(), group="Subject", predictor="Days", outcome="Reaction", centre=True)
    assert centred.stan_data["x"] == [-1.0, 0.0, 1.0, -1.0, 0.0, 1.0]
    assert centred.to_x([1]).tolist() == [0.0]
    # Non-whole values are fine for a predictor (they are not years).
    halves = sleep_frame().assign(Days=[0, 0.5, 1, 0, 0.5, 1])
    assert prepare_data(halves, group="Subject", predictor="Days", outcome="Reaction").stan_data["x"][1] == 0.5


NUMERIC_PREDICTOR_ERRORS = {
    "missing predictor": (lambda d: d.drop(columns="Days"), ValueError, r"missing column\(s\) \['Days'\]"),
    "text predictor": (lambda d: d.assign(Days=["0", "1", "x", "0", "1", "2"]), TypeError, "'Days' must be numeric"),
    "NaN predictor": (lambda d: d.assign(Days=[0, 1, np.nan, 0, 1, 2]), ValueError, r"'Days' has missing.*\[2\]"),
    "constant predictor": (lambda d: d.assign(Days=3), ValueError, "'Days' takes a single value"),
    "one subject": (lambda d: d.assign(Subject="308"), ValueError, "at least 2 groups"),
}


@pytest.mark.parametrize("case", NUMERIC_PREDICTOR_ERRORS)
def test_numeric_predictor_errors_are_named(case):
    make, error, message = NUMERIC_PREDICTOR_ERRORS[case]
    with pytest.raises(error, match=message):
        prepare_data(make(sleep_frame()), group="Subject", predictor="Days", outcome="Reaction")


def test_first_year_belongs_to_year_columns_only():
    with pytest.raises(ValueError, match="first_year applies to a year column"):
        prepare_data(sleep_frame(), group="Subject", predictor="Days", outcome="Reaction", first_year=2010)


# --- Outcomes too large for float64 arithmetic, and rows entered twice --------------------------------


@pytest.mark.parametrize("value", [1e300, -1e300, 1e101])
def test_an_outcome_too_large_for_the_priors_is_named_before_stan(value):
    df = small_frame()
    df.loc[4, "rainfall"] = value
    with pytest.raises(ValueError, match=r"column 'rainfall' has values beyond \+-1e\+100.*rescale.*: 1 row\(s\) \[4\]"):
        prepare_data(df)


def test_a_large_predictor_is_named_too():
    df = sleep_frame().assign(Days=[0, 1, 2e200, 0, 1, 2])
    with pytest.raises(ValueError, match=r"column 'Days' has values beyond.*\[2\]"):
        prepare_data(df, group="Subject", predictor="Days", outcome="Reaction")


def test_the_largest_accepted_outcome_still_gives_finite_priors():
    df = small_frame()
    df.loc[[0, 3], "rainfall"] = [MAX_MAGNITUDE, -MAX_MAGNITUDE]
    priors = default_priors("correlated", prepare_data(df))
    assert all(np.isfinite(value) for value in priors.values()), priors


def test_duplicated_rows_are_named_in_a_warning():
    df = pd.concat([small_frame(), small_frame().iloc[[1, 4]]], ignore_index=True)  # rows 6, 7 repeat 1, 4
    with pytest.warns(DuplicateRowsWarning, match=r"2 row\(s\) repeat an earlier row in every column \[6 repeats 1, 7 repeats 4\]"):
        prepared = prepare_data(df)
    assert prepared.stan_data["N"] == 8  # a warning, not a change: the repeats may be real


def test_rows_that_differ_in_any_column_are_not_duplicates():
    df = small_frame()
    df.loc[1, "rainfall"] = df.loc[0, "rainfall"]  # same state and value, another year
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateRowsWarning)
        prepare_data(df)
