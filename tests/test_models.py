import random
import re
import statistics

import numpy as np
import pandas as pd
import pytest

from mixedrain.models import (
    DEFAULT_MODEL,
    MODEL_NAMES,
    MODELS,
    PROGRAMS,
    default_priors,
    get_model,
    load_program,
    program_data,
    program_path,
    prior_table,
    resolve_priors,
)
from mixedrain.prepare import prepare_data


def _data_block(program):
    return re.search(r"^data \{(.*?)^\}", load_program(program), re.S | re.M).group(1)


@pytest.mark.parametrize("name", PROGRAMS)
def test_programs_ship_with_the_package(name):
    path = program_path(name)
    assert path.is_file() and path.suffix == ".stan"
    text = load_program(name)
    for block in ("data", "parameters", "model"):
        assert re.search(rf"^{block} \{{", text, re.M), block


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_declares_exactly_the_data_the_catalogue_sends(name, prepared):
    spec = get_model(name)
    data = program_data(spec, prepared)  # the seed's rainfall is positive, so the gamma model takes it too
    declared = set(re.findall(r"(\w+);\s*(?://.*)?$", _data_block(spec.program), re.M))
    assert declared == set(data), (declared ^ set(data))
    for parameter in spec.hyperparameters:
        declared_somewhere = re.search(rf"\b{parameter}\b", load_program(spec.program))
        assert declared_somewhere, parameter


def test_three_programs_serve_nine_models_one_every_formula_and_one_a_chapters_own():
    assert len(MODELS) == 9 and PROGRAMS == ("uncorrelated", "correlated", "gamma", "glmm", "examples/orange_growth")
    assert get_model("integrated").switches["integrated"] == 1 and get_model("centered").switches["integrated"] == 0
    assert get_model("correlated_integrated").switches["integrated"] == 1 and get_model("correlated").switches["integrated"] == 0
    assert {get_model(n).switches["noncentered"] for n in ("centered", "noncentered")} == {0, 1}
    assert {get_model(n).switches["noncentered"] for n in ("correlated", "correlated_noncentered")} == {0, 1}
    assert get_model("by_row").switches["by_row"] == 1 and get_model("centered").switches["by_row"] == 0
    assert {name for name, model in MODELS.items() if model.integrated} == {"integrated", "correlated_integrated"}


def test_a_chapters_own_program_compiles_ahead_as_the_text_the_chapter_builds():
    # The chapter reads the file and hands its text to stan.build; the build compiles load_program's text.
    # httpstan's cache is keyed by that text, so they must be one text, or the chapter compiles again.
    from mixedrain.models import EXAMPLE_PROGRAMS

    assert EXAMPLE_PROGRAMS and set(EXAMPLE_PROGRAMS) <= set(PROGRAMS)
    for name in EXAMPLE_PROGRAMS:
        assert load_program(name) == program_path(name).read_text(encoding="utf-8"), name


def test_the_default_model_is_one_constant():
    import inspect

    from mixedrain.fit import fit_model

    assert inspect.signature(fit_model).parameters["model"].default is DEFAULT_MODEL
    assert get_model(DEFAULT_MODEL).integrated


def test_included_files_are_inlined_so_the_program_text_is_fixed():
    # httpstan gives stanc no include path and keys its compile cache by the text: both Gaussian
    # programs must arrive with the shared functions in place, the same text on every call.
    for program in ("uncorrelated", "correlated"):
        assert "#include integrated_gaussian.stanfunctions" in program_path(program).read_text()
        text = load_program(program)
        assert "#include" not in text and text.count("real integrated_gaussian(") == 1
        assert text == load_program(program)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'funnel'"):
        load_program("funnel")
    with pytest.raises(ValueError, match="unknown model 'funnel'"):
        get_model("funnel")


def test_default_priors_scale_with_the_data(prepared):
    y = np.asarray(prepared.stan_data["y"])
    x = np.asarray(prepared.stan_data["x"])
    priors = default_priors("centered", prepared)
    assert priors["prior_mu_alpha_mean"] == pytest.approx(y.mean(), rel=5e-3)
    assert priors["prior_sigma_y_sd"] == pytest.approx(y.std(ddof=1), rel=5e-3)
    assert priors["prior_sigma_beta_sd"] == pytest.approx(y.std(ddof=1) / x.std(ddof=1), rel=5e-3)
    # Rescaling the outcome by 10 rescales every location and scale by 10: the priors follow the data.
    frame = prepared.frame.assign(rainfall=prepared.frame["rainfall"] * 10)
    scaled = default_priors("centered", prepare_data(frame))
    for key, value in priors.items():
        assert scaled[key] == pytest.approx(10 * value, rel=5e-3, abs=1e-9), key


def test_gamma_priors_are_on_the_log_scale(prepared):
    priors = default_priors("gamma", prepared)
    assert priors["prior_mu_alpha_mean"] == pytest.approx(np.log(np.mean(prepared.stan_data["y"])), abs=5e-3)
    assert set(priors) == set(get_model("gamma").prior_settings)


def test_overrides_change_only_what_they_name(prepared):
    defaults = prior_table("centered", prepared)
    table = prior_table("centered", prepared, {"prior_mu_beta_sd": 2.0})
    assert table.loc["mu_beta", "latex"] == r"\mu_\beta \sim \mathrm{N}(0, 2)"
    pd.testing.assert_series_equal(table.loc["mu_alpha"], defaults.loc["mu_alpha"])


def test_normal_interval_is_mean_plus_minus_1_645_sd(prepared):
    row = prior_table("centered", prepared, {"prior_mu_alpha_mean": 30.0, "prior_mu_alpha_sd": 20.0}).loc["mu_alpha"]
    assert row["lower"] == pytest.approx(30 - 1.644854 * 20, abs=1e-4)
    assert row["upper"] == pytest.approx(30 + 1.644854 * 20, abs=1e-4)
    assert row["median"] == pytest.approx(30.0)


def test_half_normal_quantiles_match_simulated_absolute_normals(prepared):
    rng = random.Random(7)
    draws = sorted(abs(rng.gauss(0, 5)) for _ in range(200_000))
    row = prior_table("centered", prepared, {"prior_sigma_beta_sd": 5.0}, level=0.9).loc["sigma_beta"]
    assert row["median"] == pytest.approx(statistics.median(draws), rel=0.01)
    assert row["lower"] == pytest.approx(draws[int(0.05 * len(draws))], rel=0.03)
    assert row["upper"] == pytest.approx(draws[int(0.95 * len(draws))], rel=0.01)
    assert row["lower"] > 0


def test_lkj_prior_on_rho_matches_simulated_correlations(prepared):
    # LKJ(eta) on a 2 x 2 correlation matrix: (1 + rho) / 2 ~ Beta(eta, eta); check by simulation.
    rng = np.random.default_rng(3)
    rho = 2 * rng.beta(2.0, 2.0, 200_000) - 1
    row = prior_table("correlated", prepared, level=0.9).loc["rho"]
    assert row["upper"] == pytest.approx(np.quantile(rho, 0.95), abs=0.01)
    assert row["median"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("priors", "level", "message"),
    [
        ({"prior_sigma_y": 1.0}, 0.95, "unknown prior setting"),
        ({"prior_lkj_eta": 1.0}, 0.95, "unknown prior setting.*'centered'"),
        ({"prior_sigma_y_sd": 0.0}, 0.95, "must be positive"),
        ({"prior_mu_alpha_sd": float("inf")}, 0.95, "finite number"),
        ({"prior_sigma_alpha_sd": -1.0}, 0.95, "must be positive"),
        ({"prior_mu_alpha_mean": "30"}, 0.95, "finite number"),
        (None, 1.0, "level"),
        (None, 0.0, "level"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(prepared, priors, level, message):
    with pytest.raises(ValueError, match=message):
        prior_table("centered", prepared, priors, level=level)


def test_program_data_carries_rows_priors_and_switches(prepared):
    data = program_data("noncentered", prepared, {"prior_sigma_y_sd": 3.0}, prior_only=True)
    assert data["N"] == 510 and data["noncentered"] == 1 and data["by_row"] == 0 and data["prior_only"] == 1
    assert data["prior_sigma_y_sd"] == 3.0
    assert resolve_priors("noncentered", prepared, {"prior_sigma_y_sd": 3.0}).items() <= data.items()


def test_positive_family_rejects_non_positive_outcomes_before_stan(prepared):
    with pytest.raises(ValueError, match=r"'gamma' has a gamma outcome, which must be positive.*rainfall"):
        program_data("gamma", prepare_data(prepared.frame.assign(rainfall=prepared.frame["rainfall"] - 100)))


def test_predictor_without_spread_is_named():
    frame = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [1.0, 1.0, 1.0, 1.0], "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match="'x' takes a single value"):
        prepare_data(frame, group="g", predictor="x", outcome="y")


def test_seed_part2_priors_are_the_posts_own(prepared):
    table = prior_table("seed_part2", prepared)
    assert table.loc["mu_beta", "latex"] == r"\mu_\beta \sim \mathrm{N}(0, 100)"
    assert table.loc["sigma_y", "latex"] == r"\sigma_y \sim \mathrm{U}(0, 100)"
    assert table.loc["sigma_y", "median"] == pytest.approx(50.0)
    assert program_data("seed_part2", prepared)["uniform_sds"] == 1
