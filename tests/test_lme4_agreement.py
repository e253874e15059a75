"""lme4 as the oracle for mixedrain.glmm_fit: the formula path's posteriors against lmer's REML fits.

Each model is fitted twice on the same rows, by ``fit_formula`` (Stan, the book's default priors)
and by ``lmer`` in R (REML, lme4's default). The yardstick is the posterior itself: each REML
estimate (fixed effects, SDs, correlation, residual SD) must lie within one posterior sd of the
posterior median. Why that is fair, and able to fail: with these data the weakly informative
priors move the posterior little, so posterior median and REML estimate differ by a small
fraction of the posterior's width (under a third of a posterior sd on these models), while
the Monte Carlo error of a median from thousands of effective draws is about 1/50 of a
posterior sd. A wrong
design matrix, a misread contrast, a prior on the wrong scale or a swapped term moves an
estimate by several posterior sds. None of the SDs here sits near 0, where a REML estimate on
the boundary would call for another yardstick (the posterior cannot put its median at 0).
"""

from __future__ import annotations

import pandas as pd
import pytest
from lme4_oracle import lme4_estimates

from mixedrain.data import load_radon, load_sleepstudy
from mixedrain.formula import parse_formula
from mixedrain.glmm_fit import fit_formula, groupings

pytestmark = pytest.mark.stan


def _lme4_name(parameter: str, grouping: str) -> str:
    """The posterior's name (``fixed[basement]``, ``sd_county[Intercept]``, ...) as lme4 prints it."""
    def term(name):
        return "(Intercept)" if name == "Intercept" else name

    if parameter == "sigma_y":
        return "Residual"
    variable, label = parameter[:-1].split("[", 1)
    if variable == "fixed":
        return term(label)
    if variable.startswith("sd_"):
        return f"{grouping} {term(label)}"
    first, second = label.split(", ")
    return f"{grouping} {term(first)} {term(second)}"


def _posterior_table(idata) -> pd.DataFrame:
    """Median and sd of each population-level parameter: ``fixed[x]``, ``sd_g[x]``, ``corr_g[x, y]``, ``sigma_y``."""
    rows = {}
    for name, values in idata.posterior.data_vars.items():
        if name.startswith("effect_"):
            continue
        stacked = values.stack(sample=("chain", "draw"))
        labels = [d for d in stacked.dims if d != "sample"]
        if not labels:
            rows[name] = (float(stacked.median()), float(stacked.std()))
            continue
        for label in stacked[labels[0]].to_numpy():
            draws = stacked.sel({labels[0]: label})
            rows[f"{name}[{label}]"] = (float(draws.median()), float(draws.std()))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["median", "sd"])


def _assert_agrees_with_lme4(formula: str, data: pd.DataFrame, factors: tuple[str, ...]) -> None:
    (grouping,) = [g.label for g in groupings(parse_formula(formula, data))]
    oracle = lme4_estimates(data, f"lmer({formula}, data)", factors)
    posterior = _posterior_table(fit_formula(formula, data))
    posterior["lme4"] = [oracle.loc[_lme4_name(name, grouping), "estimate"] for name in posterior.index]
    posterior["gap_in_sds"] = (posterior["median"] - posterior["lme4"]).abs() / posterior["sd"]
    # lme4 estimates every population-level parameter the posterior has, and no other.
    assert len(posterior) == len(oracle), (list(posterior.index), list(oracle.index))
    assert (posterior["gap_in_sds"] < 1).all(), posterior


@pytest.fixture(scope="module")
def radon():
    return load_radon()[["log.radon", "basement", "uranium", "county"]]


@pytest.mark.parametrize("term", ["(1 | county)", "(basement | county)"])
def test_radon_formulas_agree_with_lmer(radon, term):
    _assert_agrees_with_lme4(f"log.radon ~ basement + uranium + {term}", radon, ("county",))


def test_sleepstudy_formula_agrees_with_lmer():
    sleep = load_sleepstudy()
    _assert_agrees_with_lme4("Reaction ~ Days + (Days | Subject)", sleep, ("Subject",))
