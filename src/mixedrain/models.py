"""The Stan programs, shipped as ``.stan`` files inside the package.

httpstan caches each compiled program under a key made from its text, so the
program text never varies: data and priors are passed as data.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The programs this package ships, by name.
MODEL_NAMES: tuple[str, ...] = ("centered", "noncentered")

#: Weakly informative priors on the rainfall scale (inches per year); see chapter 2.
DEFAULT_PRIORS: dict[str, float] = {
    "prior_mu_alpha_mean": 30.0,
    "prior_mu_alpha_sd": 20.0,
    "prior_mu_beta_mean": 0.0,
    "prior_mu_beta_sd": 10.0,
    "prior_sigma_alpha_sd": 10.0,
    "prior_sigma_beta_sd": 5.0,
    "prior_sigma_y_sd": 10.0,
}


def program_path(name: str) -> Path:
    """Path of the ``.stan`` file for the program called ``name``.

    Examples
    --------
    >>> program_path("centered").name
    'centered.stan'
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODEL_NAMES)}")
    return Path(str(resources.files("mixedrain") / "stan" / f"{name}.stan"))


def load_program(name: str) -> str:
    """Text of the Stan program called ``name``.

    Examples
    --------
    >>> "generated quantities" in load_program("noncentered")
    True
    """
    return program_path(name).read_text(encoding="utf-8")
