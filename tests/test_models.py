import random
import re
import statistics

import pytest

from mixedrain.models import DEFAULT_PRIORS, MODEL_NAMES, load_program, program_path, prior_table


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_programs_ship_with_the_package(name):
    path = program_path(name)
    assert path.is_file() and path.suffix == ".stan"
    text = load_program(name)
    for block in ("data", "parameters", "model", "generated quantities"):
        assert re.search(rf"^{block} \{{", text, re.M), block


def test_both_programs_take_the_same_data_and_priors():
    def data_block(name):
        return re.search(r"^data \{(.*?)^\}", load_program(name), re.S | re.M).group(1)

    assert data_block("centered") == data_block("noncentered")
    declared = set(re.findall(r"\b(prior_\w+);", data_block("centered")))
    assert declared == set(DEFAULT_PRIORS) | {"prior_only"}


def test_noncentered_program_is_noncentered():
    assert "alpha_raw ~ std_normal()" in load_program("noncentered")
    assert "alpha ~ normal(mu_alpha, sigma_alpha)" in load_program("centered")


def test_unknown_program_is_named():
    with pytest.raises(ValueError, match="unknown model 'funnel'"):
        load_program("funnel")


def test_prior_table_reads_every_default_setting():
    table = prior_table()
    assert list(table.index) == ["mu_alpha", "mu_beta", "sigma_alpha", "sigma_beta", "sigma_y"]
    assert table.loc["mu_alpha", "location"] == DEFAULT_PRIORS["prior_mu_alpha_mean"]
    assert table.loc["mu_alpha", "scale"] == DEFAULT_PRIORS["prior_mu_alpha_sd"]
    assert table.loc["mu_beta", "location"] == DEFAULT_PRIORS["prior_mu_beta_mean"]
    assert table.loc["mu_beta", "scale"] == DEFAULT_PRIORS["prior_mu_beta_sd"]
    for name in ("sigma_alpha", "sigma_beta", "sigma_y"):
        assert table.loc[name, "family"] == "half-normal"
        assert table.loc[name, "location"] == 0.0
        assert table.loc[name, "scale"] == DEFAULT_PRIORS[f"prior_{name}_sd"]


def test_overrides_change_only_what_they_name():
    table = prior_table({"prior_mu_beta_sd": 2.0})
    assert table.loc["mu_beta", "scale"] == 2.0
    assert table.loc["mu_beta", "latex"] == r"\mu_\beta \sim \mathrm{N}(0, 2)"
    assert table.loc["mu_alpha", "scale"] == DEFAULT_PRIORS["prior_mu_alpha_sd"]


def test_normal_interval_is_mean_plus_minus_1_96_sd():
    row = prior_table({"prior_mu_alpha_mean": 30.0, "prior_mu_alpha_sd": 20.0}).loc["mu_alpha"]
    assert row["lower"] == pytest.approx(30 - 1.959964 * 20, abs=1e-4)
    assert row["upper"] == pytest.approx(30 + 1.959964 * 20, abs=1e-4)
    assert row["median"] == pytest.approx(30.0)


def test_half_normal_quantiles_match_simulated_absolute_normals():
    rng = random.Random(7)
    draws = sorted(abs(rng.gauss(0, 5)) for _ in range(200_000))
    row = prior_table({"prior_sigma_beta_sd": 5.0}, level=0.9).loc["sigma_beta"]
    assert row["median"] == pytest.approx(statistics.median(draws), rel=0.01)
    assert row["lower"] == pytest.approx(draws[int(0.05 * len(draws))], rel=0.03)
    assert row["upper"] == pytest.approx(draws[int(0.95 * len(draws))], rel=0.01)
    assert row["lower"] > 0


@pytest.mark.parametrize(
    ("priors", "level", "message"),
    [
        ({"prior_sigma_y": 1.0}, 0.95, "unknown prior setting"),
        ({"prior_sigma_y_sd": 0.0}, 0.95, "positive finite"),
        ({"prior_mu_alpha_sd": float("inf")}, 0.95, "positive finite"),
        ({"prior_sigma_alpha_sd": -1.0}, 0.95, "positive finite"),
        (None, 1.0, "level"),
        (None, 0.0, "level"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(priors, level, message):
    with pytest.raises(ValueError, match=message):
        prior_table(priors, level=level)
