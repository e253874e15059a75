import re

import pytest

from mixedrain.models import DEFAULT_PRIORS, MODEL_NAMES, load_program, program_path


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
