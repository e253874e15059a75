"""The model catalogue: each model's Stan program, parameters, priors and data.

One place for each fact. A model here is a Stan program (a ``.stan`` file
shipped inside the package) plus the data switches that select its form, its
outcome family, its population-level parameters and its priors. ``fit.py``,
``compare.py`` and the benchmark read these facts from here.

httpstan caches each compiled program under a key made from its text, so the
program text never varies: priors and switches are passed as data, and the
catalogue's nine models need three compiled programs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from mixedrain.families import Family, get_family
from mixedrain.prepare import PreparedData


@dataclass(frozen=True)
class Prior:
    """The prior of one population-level parameter.

    Attributes
    ----------
    parameter : str
        The parameter's name in the Stan program, e.g. ``"mu_alpha"``.
    symbol : str
        Its LaTeX symbol, e.g. ``r"\\mu_\\alpha"``.
    family : {"normal", "half-normal", "uniform", "gamma", "lkj"}
        A half-normal is Stan's ``normal(0, s)`` on a parameter declared
        ``<lower=0>``; a uniform is flat from 0 to its setting; "lkj" is the LKJ prior of a 2 x 2 correlation matrix,
        reported through its correlation ``rho``.
    settings : tuple of str
        The names of the data the program reads its settings from: (mean, sd)
        for a normal, (sd,) for a half-normal, (shape, rate) for a gamma,
        (eta,) for an LKJ.
    """

    parameter: str
    symbol: str
    family: str
    settings: tuple[str, ...]

    def distribution(self, values: dict[str, float]):
        """The prior as a frozen ``scipy.stats`` distribution of the reported parameter."""
        args = [float(values[key]) for key in self.settings]
        if self.family == "normal":
            return stats.norm(loc=args[0], scale=args[1])
        if self.family == "half-normal":
            return stats.halfnorm(scale=args[0])
        if self.family == "uniform":
            return stats.uniform(loc=0, scale=args[0])
        if self.family == "gamma":
            return stats.gamma(a=args[0], scale=1 / args[1])
        # LKJ(eta) on a 2 x 2 correlation matrix: (1 + rho) / 2 ~ Beta(eta, eta).
        return stats.beta(args[0], args[0], loc=-1, scale=2)

    def latex(self, values: dict[str, float]) -> str:
        """The prior as a LaTeX statement, e.g. ``\\mu_\\alpha \\sim \\mathrm{N}(47.3, 50.9)``."""
        args = ", ".join(f"{float(values[key]):g}" for key in self.settings)
        if self.family == "normal":
            return rf"{self.symbol} \sim \mathrm{{N}}({args})"
        if self.family == "half-normal":
            return rf"{self.symbol} \sim \mathrm{{N}}^{{+}}(0, {args})"
        if self.family == "uniform":
            return rf"{self.symbol} \sim \mathrm{{U}}(0, {args})"
        if self.family == "gamma":
            return rf"{self.symbol} \sim \mathrm{{Gamma}}({args})"
        return rf"\Omega \sim \mathrm{{LKJ}}({args})"


_MU_ALPHA = Prior("mu_alpha", r"\mu_\alpha", "normal", ("prior_mu_alpha_mean", "prior_mu_alpha_sd"))
_MU_BETA = Prior("mu_beta", r"\mu_\beta", "normal", ("prior_mu_beta_mean", "prior_mu_beta_sd"))
_SIGMA_ALPHA = Prior("sigma_alpha", r"\sigma_\alpha", "half-normal", ("prior_sigma_alpha_sd",))
_SIGMA_BETA = Prior("sigma_beta", r"\sigma_\beta", "half-normal", ("prior_sigma_beta_sd",))
_SIGMA_Y = Prior("sigma_y", r"\sigma_y", "half-normal", ("prior_sigma_y_sd",))
_RHO = Prior("rho", r"\rho", "lkj", ("prior_lkj_eta",))
_PHI = Prior("phi", r"\phi", "gamma", ("prior_phi_shape", "prior_phi_rate"))
_UNIFORM_SDS = tuple(
    Prior(prior.parameter, prior.symbol, "uniform", prior.settings) for prior in (_SIGMA_ALPHA, _SIGMA_BETA, _SIGMA_Y)
)


@dataclass(frozen=True)
class Model:
    """One entry of the catalogue.

    Attributes
    ----------
    name : str
        The catalogue key, passed to :func:`mixedrain.fit.fit_model`.
    program : str
        The ``.stan`` file (without suffix) in ``mixedrain/stan``.
    formula : str
        The same model in lme4's formula language.
    family : str
        The outcome family (see :mod:`mixedrain.families`).
    correlated : bool
        Whether a group's intercept and slope may correlate (``(x | g)``)
        rather than not (``(x || g)``).
    priors : tuple of Prior
        One per population-level parameter, in the order the book reports them.
    switches : mapping
        Data that select this model's form of its program.
    description : str
        One line for tables and error messages.
    fixed_priors : mapping, optional
        Prior settings that do not depend on the data (a value for every
        name in :attr:`prior_settings`); without them the priors are scaled to
        the data (:func:`default_priors`).
    """

    name: str
    program: str
    formula: str
    family: str
    correlated: bool
    priors: tuple[Prior, ...]
    switches: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    fixed_priors: MappingProxyType | None = None

    @property
    def integrated(self) -> bool:
        """Whether the group effects are integrated out of the likelihood while sampling, and drawn afterwards."""
        return bool(self.switches.get("integrated", 0))

    @property
    def hyperparameters(self) -> tuple[str, ...]:
        """The population-level parameters, in the order the book reports them."""
        return tuple(prior.parameter for prior in self.priors)

    @property
    def prior_settings(self) -> tuple[str, ...]:
        """The names of the data that set the priors."""
        return tuple(key for prior in self.priors for key in prior.settings)

    @property
    def outcome_family(self) -> Family:
        return get_family(self.family)


_GAUSSIAN_PRIORS = (_MU_ALPHA, _MU_BETA, _SIGMA_ALPHA, _SIGMA_BETA, _SIGMA_Y)

_SWITCHES_OFF = {"uniform_sds": 0, "noncentered": 0, "by_row": 0, "integrated": 0}

#: The blog post's Part 2 priors, as it wrote them (not scaled to any data).
_SEED_PART2_PRIORS = MappingProxyType(
    {"prior_mu_alpha_mean": 0.0, "prior_mu_alpha_sd": 100.0, "prior_mu_beta_mean": 0.0, "prior_mu_beta_sd": 100.0,
     "prior_sigma_alpha_sd": 100.0, "prior_sigma_beta_sd": 100.0, "prior_sigma_y_sd": 100.0}
)  # fmt: skip


def _uncorrelated(
    *,
    name: str,
    description: str,
    switches: dict[str, int] | None = None,
    priors: tuple[Prior, ...] = _GAUSSIAN_PRIORS,
    fixed_priors: MappingProxyType | None = None,
) -> Model:
    """A model of ``uncorrelated.stan``: ``switches`` not named are off."""
    return Model(
        name=name,
        program="uncorrelated",
        formula="y ~ x + (x || g)",
        family="gaussian",
        correlated=False,
        priors=priors,
        switches=MappingProxyType({**_SWITCHES_OFF, **(switches or {})}),
        description=description,
        fixed_priors=fixed_priors,
    )


def _correlated(*, name: str, description: str, switches: dict[str, int] | None = None) -> Model:
    """A model of ``correlated.stan``: ``switches`` not named are off."""
    switches = {"noncentered": 0, "integrated": 0, **(switches or {})}
    return Model(
        name=name,
        program="correlated",
        formula="y ~ x + (x | g)",
        family="gaussian",
        correlated=True,
        priors=(*_GAUSSIAN_PRIORS, _RHO),
        switches=MappingProxyType(switches),
        description=description,
    )


#: The catalogue, by name. ``fit_model(prepared, name)`` fits one.
MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        _uncorrelated(
            name="integrated",
            description="uncorrelated intercept and slope, integrated out exactly and drawn after sampling (the default: fastest)",
            switches={"integrated": 1},
        ),
        _uncorrelated(
            name="centered",
            description="uncorrelated intercept and slope, centered, likelihood from per-group sums",
        ),
        _uncorrelated(
            name="noncentered",
            description="uncorrelated intercept and slope, non-centered",
            switches={"noncentered": 1},
        ),
        _uncorrelated(
            name="by_row",
            description="the centered model with its likelihood written row by row",
            switches={"by_row": 1},
        ),
        _uncorrelated(
            name="seed_part2",
            description="the centered model with the blog post's Part 2 priors: N(0, 100) on the means, U(0, 100) on the sds",
            switches={"uniform_sds": 1},
            priors=(_MU_ALPHA, _MU_BETA, *_UNIFORM_SDS),
            fixed_priors=_SEED_PART2_PRIORS,
        ),
        _correlated(
            name="correlated",
            description="correlated intercept and slope (LKJ prior), centered (better when each group has informative data)",
        ),
        _correlated(
            name="correlated_noncentered",
            description="correlated intercept and slope (LKJ prior), non-centered as in the Stan User's Guide",
            switches={"noncentered": 1},
        ),
        _correlated(
            name="correlated_integrated",
            description="correlated intercept and slope (LKJ prior), integrated out exactly and drawn after sampling (fastest)",
            switches={"integrated": 1},
        ),
        Model(
            name="gamma",
            program="gamma",
            formula='y ~ x + (x || g), family = Gamma(link = "log")',
            family="gamma",
            correlated=False,
            priors=(_MU_ALPHA, _MU_BETA, _SIGMA_ALPHA, _SIGMA_BETA, _PHI),
            # centered diverged on chapter 7's data: weakly identified sigma_beta
            switches=MappingProxyType({"noncentered": 1}),
            description="Gamma outcome, log link, uncorrelated intercept and slope",
        ),
    )
}

#: The model :func:`mixedrain.fit.fit_model` fits when none is named.
DEFAULT_MODEL = "integrated"

#: The catalogue's model names.
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)

#: The general program behind every lme4 formula (:mod:`mixedrain.glmm`): not a catalogue entry, since
#: its model is whatever the formula says, but compiled ahead of time beside the catalogue's.
FORMULA_PROGRAM = "glmm"

#: Programs a chapter builds itself with raw PyStan, as a reader builds their own (chapter 11's orange
#: trees), named by their path under :data:`STAN_FOLDER`: compiled ahead of time beside the others, so
#: that the chapter's ``stan.build`` of the same text finds them in httpstan's cache.
EXAMPLE_PROGRAMS: tuple[str, ...] = ("examples/orange_growth",)

#: Every compiled program: the catalogue's, the formula program, then the chapters' own.
PROGRAMS: tuple[str, ...] = (
    *dict.fromkeys(model.program for model in MODELS.values()), FORMULA_PROGRAM, *EXAMPLE_PROGRAMS
)


def get_model(name: str | Model) -> Model:
    """The catalogue entry called ``name``.

    Examples
    --------
    >>> get_model("correlated").hyperparameters
    ('mu_alpha', 'mu_beta', 'sigma_alpha', 'sigma_beta', 'sigma_y', 'rho')
    """
    if isinstance(name, Model):
        return name
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}") from None


#: The folder of the package's Stan programs and the files they include.
STAN_FOLDER = Path(str(resources.files("mixedrain") / "stan"))

# Stan's own include syntax. httpstan gives stanc no include path, so load_program inlines the files.
_INCLUDE = re.compile(r"^([ \t]*)#include[ \t]+<?([\w.-]+)>?[ \t]*$", re.M)


def program_path(name: str) -> Path:
    """Path of the ``.stan`` file behind a model (or a program) called ``name``.

    Examples
    --------
    >>> program_path("centered").name
    'uncorrelated.stan'
    >>> program_path("examples/orange_growth").relative_to(STAN_FOLDER).as_posix()
    'examples/orange_growth.stan'
    """
    program = name if name in PROGRAMS else get_model(name).program
    return STAN_FOLDER / f"{program}.stan"


def load_program(name: str) -> str:
    """Text of the Stan program behind a model (or a program) called ``name``, ready for ``stan.build``.

    Each ``#include file`` line is replaced by that file from :data:`STAN_FOLDER`
    (the text is the same on every call, so httpstan's compile cache, keyed by
    it, finds the program again).

    Examples
    --------
    >>> "lkj_corr_cholesky" in load_program("correlated")
    True
    >>> "#include" in load_program("correlated"), "real integrated_gaussian(" in load_program("correlated")
    (False, True)
    """
    return _inline_includes(program_path(name).read_text(encoding="utf-8"))


def _inline_includes(text: str) -> str:
    def inline(match: re.Match) -> str:
        indent, name = match.groups()
        included = _inline_includes((STAN_FOLDER / name).read_text(encoding="utf-8")).rstrip("\n")
        return "\n".join(indent + line if line else line for line in included.splitlines())

    return _INCLUDE.sub(inline, text)


def _three_figures(value: float) -> float:
    return float(f"{value:.3g}")


def default_priors(model: str | Model, prepared: PreparedData) -> dict[str, float]:
    """Weakly informative priors scaled to the data, as rstanarm scales its defaults.

    With ``m`` and ``s_y`` the outcome's mean and standard deviation and
    ``s_x`` the predictor's standard deviation, a Gaussian model gets
    ``mu_alpha ~ N(m, 2.5 s_y)``, ``mu_beta ~ N(0, 2.5 s_y / s_x)`` and
    half-normal priors with scales ``s_y`` on ``sigma_alpha`` and
    ``sigma_y`` and ``s_y / s_x`` on ``sigma_beta``: a slope as large as the
    outcome's whole spread per predictor spread is plausible, a hundred times
    that is not. The correlated model adds ``LKJ(2)``, which mildly favours
    correlations nearer 0 than +-1. The Gamma model works on the log scale,
    where a unit is a factor of e, and its scales are set by its prior
    predictive check on the response scale (chapter 7): ``mu_alpha ~ N(log m,
    0.5)`` (the typical level within a factor e of the data's mean, 95%),
    ``mu_beta ~ N(0, 0.2 / s_x)`` (one prior sd multiplies the mean by
    ``e^0.2``, about 1.2, per sd of the predictor, so about 2 across ten
    evenly spread years), half-normal scales ``0.5`` on ``sigma_alpha`` and
    ``0.2 / s_x`` on ``sigma_beta``, and ``phi ~ Gamma(2, 0.1)`` for the shape
    (mean 20, central 90% from about 3.5 to 47: years that scatter by 50% to
    15% of their mean). A model with :attr:`Model.fixed_priors` keeps them
    whatever the data: ``seed_part2`` has the blog post's Part 2 priors,
    ``N(0, 100)`` on the means and ``U(0, 100)`` on the standard deviations.
    Each value is rounded to three significant figures, so what a table
    shows is what Stan receives.

    Parameters
    ----------
    model : str or Model
        A catalogue name.
    prepared : PreparedData
        The data the priors are scaled to.

    Returns
    -------
    dict
        One value per name in ``get_model(model).prior_settings``.

    Raises
    ------
    ValueError
        If the outcome or the predictor has no spread.

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> default_priors("centered", prepare_data(simulate_rainfall()))["prior_mu_beta_mean"]
    0.0
    """
    spec = get_model(model)
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    s_x = float(x.std(ddof=1))
    if not s_x > 0:
        raise ValueError("the predictor takes a single value, so no slope can be estimated")
    if spec.fixed_priors is not None:
        values = dict(spec.fixed_priors)
    elif spec.family == "gamma":
        _require_positive(prepared, spec)
        values = {
            "prior_mu_alpha_mean": math.log(float(y.mean())),
            "prior_mu_alpha_sd": 0.5,
            "prior_mu_beta_mean": 0.0,
            "prior_mu_beta_sd": 0.2 / s_x,
            "prior_sigma_alpha_sd": 0.5,
            "prior_sigma_beta_sd": 0.2 / s_x,
            "prior_phi_shape": 2.0,
            "prior_phi_rate": 0.1,
        }
    else:
        s_y = float(y.std(ddof=1))
        if not s_y > 0:
            raise ValueError(f"column {prepared.outcome_column!r} takes a single value: there is nothing to model")
        values = {
            "prior_mu_alpha_mean": float(y.mean()),
            "prior_mu_alpha_sd": 2.5 * s_y,
            "prior_mu_beta_mean": 0.0,
            "prior_mu_beta_sd": 2.5 * s_y / s_x,
            "prior_sigma_alpha_sd": s_y,
            "prior_sigma_beta_sd": s_y / s_x,
            "prior_sigma_y_sd": s_y,
            "prior_lkj_eta": 2.0,
        }
    return {key: _three_figures(values[key]) for key in spec.prior_settings}


def resolve_priors(model: str | Model, prepared: PreparedData, priors: dict[str, float] | None = None) -> dict[str, float]:
    """The model's default priors for ``prepared`` with ``priors`` laid over them, checked.

    Raises
    ------
    ValueError
        If a setting is unknown to the model, not a finite number, or a scale,
        shape, rate or LKJ ``eta`` that is not positive.

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> resolve_priors("centered", prepare_data(simulate_rainfall()), {"prior_sigma_y_sd": 5})["prior_sigma_y_sd"]
    5.0
    >>> resolve_priors("centered", prepare_data(simulate_rainfall()), {"prior_phi_rate": 1})
    Traceback (most recent call last):
    ...
    ValueError: unknown prior setting(s) ['prior_phi_rate'] for model 'centered'; known: [...]
    """
    spec = get_model(model)
    unknown = sorted(set(priors or {}) - set(spec.prior_settings))
    if unknown:
        raise ValueError(f"unknown prior setting(s) {unknown} for model {spec.name!r}; known: {sorted(spec.prior_settings)}")
    values = {**default_priors(spec, prepared), **(priors or {})}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
            raise ValueError(f"prior setting {key} must be a finite number, got {value!r}")
        if not key.endswith("_mean") and not value > 0:
            raise ValueError(f"prior setting {key} must be positive, got {value!r}")
    return {key: float(value) for key, value in values.items()}


def program_data(
    model: str | Model,
    prepared: PreparedData,
    priors: dict[str, float] | None = None,
    *,
    prior_only: bool = False,
) -> dict:
    """Everything the model's Stan program reads: the rows, the priors and the switches.

    Raises
    ------
    ValueError
        As :func:`resolve_priors`, or if the model's family needs a positive
        outcome and some rows are not positive.

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> data = program_data("noncentered", prepare_data(simulate_rainfall()))
    >>> data["N"], data["noncentered"], data["by_row"], data["prior_only"]
    (510, 1, 0, 0)
    """
    spec = get_model(model)
    if not isinstance(prepared, PreparedData):
        raise TypeError(f"prepared must come from prepare_data(), not {type(prepared).__name__}")
    _require_positive(prepared, spec)
    return {**prepared.stan_data, **resolve_priors(spec, prepared, priors), **spec.switches, "prior_only": int(prior_only)}


def prior_table(
    model: str | Model,
    prepared: PreparedData,
    priors: dict[str, float] | None = None,
    level: float = 0.9,
) -> pd.DataFrame:
    """The prior of each population-level parameter, with its central interval (90%, the book's one level).

    Reads the same settings the Stan program receives as data, so a table or an
    equation built from it always matches what is sampled.

    Parameters
    ----------
    model : str or Model
        A catalogue name.
    prepared : PreparedData
        The data the default priors are scaled to.
    priors : dict, optional
        Overrides of the defaults, as passed to :func:`mixedrain.fit.fit_model`.
    level : float
        Probability inside the central interval ``lower`` to ``upper``.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter, with columns ``family``, ``lower``, ``median``,
        ``upper`` and ``latex`` (e.g. ``\\sigma_y \\sim \\mathrm{N}^{+}(0, 19.9)``).

    Examples
    --------
    >>> from mixedrain.prepare import prepare_data
    >>> from mixedrain.simulate import simulate_rainfall
    >>> table = prior_table("correlated", prepare_data(simulate_rainfall()))
    >>> print(table.loc["rho", "latex"])
    \\Omega \\sim \\mathrm{LKJ}(2)
    >>> round(float(table.loc["rho", "median"]), 6)
    0.0
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    spec = get_model(model)
    values = resolve_priors(spec, prepared, priors)
    rows = {}
    for prior in spec.priors:
        distribution = prior.distribution(values)
        lower, upper = distribution.ppf([(1 - level) / 2, (1 + level) / 2])
        rows[prior.parameter] = {
            "family": prior.family,
            "lower": float(lower),
            "median": float(distribution.median()),
            "upper": float(upper),
            "latex": prior.latex(values),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("parameter")


def _require_positive(prepared: PreparedData, spec: Model) -> None:
    if not spec.outcome_family.positive:
        return
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    bad = np.flatnonzero(y <= 0)
    if bad.size:
        rows = prepared.frame.index[bad].tolist()
        shown = ", ".join(repr(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        raise ValueError(
            f"model {spec.name!r} has a {spec.family} outcome, which must be positive; column "
            f"{prepared.outcome_column!r} has {len(rows)} value(s) <= 0 in row(s) [{shown}]"
        )
