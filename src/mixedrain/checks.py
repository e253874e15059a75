"""Does the fitted model reproduce its data, group by group, and predict points it did not see?"""

from __future__ import annotations

from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.prepare import resolve_column_roles

__all__ = ["SMALL_ELPD_DIFFERENCE", "group_predictive_check", "how_many", "loo_verdict", "pareto_k_by_observation"]


def group_predictive_check(
    idata: az.InferenceData,
    statistics: Sequence[str] = ("sd", "min", "max"),
    level: float = 0.9,
    group: str | None = None,
) -> pd.DataFrame:
    """Each group's observed statistic beside its posterior predictive distribution.

    A pooled check (all rows in one density) can hide a misfit in some
    groups: a state whose years scatter far more than the model's shared
    ``sigma_y`` allows, or one with an outlying year. Here each statistic is
    computed within each group, once for the observed data and once for
    every replicated data set ``y_rep``.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`mixedrain.fit.fit_model` with ``posterior_predictive``
        (``pointwise=True``).
    statistics : sequence of {"sd", "min", "max", "mean"}
        Within-group statistics to check.
    level : float
        Probability of the central interval of the replicated statistic.
    group : str, optional
        The grouping column; by default the one the fit records
        (``idata.attrs["group"]``, as :func:`mixedrain.fit.fit_model` does).
        A formula fit (:func:`mixedrain.glmm_fit.fit_formula`) names it here,
        e.g. ``group="Subject"``.

    Returns
    -------
    pandas.DataFrame
        One row per group and statistic: the group column (e.g. ``state``),
        ``statistic``, ``observed``, ``lower`` and ``upper`` (the replicated
        statistic's central interval), ``p_value`` (the share of replicated
        data sets whose statistic is at least the observed one: near 0 or 1
        flags a misfit) and ``outside`` (observed outside the interval).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict(
    ...     posterior_predictive={"y_rep": rng.normal(size=(2, 500, 4))},
    ...     observed_data={"y": np.array([0.0, 1.0, 5.0, 6.0])},
    ...     dims={"y_rep": ["obs"], "y": ["obs"]},
    ... ).assign_coords(obs_state=("obs", ["A", "A", "B", "B"]), groups="observed_vars")
    >>> idata.attrs["group"] = "state"
    >>> check = group_predictive_check(idata, ["mean"])
    >>> check.set_index("state")["outside"].to_dict()
    {'A': False, 'B': True}
    """
    functions = {
        "sd": lambda a: a.std(axis=-1, ddof=1),
        "min": lambda a: a.min(axis=-1),
        "max": lambda a: a.max(axis=-1),
        "mean": lambda a: a.mean(axis=-1),
    }
    unknown = [s for s in statistics if s not in functions]
    if unknown:
        raise ValueError(f"unknown statistic(s) {unknown}; choose from {list(functions)}")
    if "posterior_predictive" not in idata.groups():
        raise ValueError("idata has no posterior_predictive group: fit with pointwise=True")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    group_column = resolve_column_roles(idata.attrs, group=group)["group"]
    if f"obs_{group_column}" not in idata.observed_data.coords:
        raise ValueError(f"observed_data has no coordinate obs_{group_column} saying which group each row is in")
    labels = idata.observed_data[f"obs_{group_column}"].to_numpy()
    observed_y = idata.observed_data["y"].to_numpy()
    replicated = idata.posterior_predictive["y_rep"].transpose("chain", "draw", "obs").to_numpy()
    replicated = replicated.reshape(-1, replicated.shape[-1])
    rows = []
    for label in pd.unique(labels).tolist():
        rows_of_group = labels == label
        for statistic in statistics:
            observed_value = float(functions[statistic](observed_y[rows_of_group]))
            draws = functions[statistic](replicated[:, rows_of_group])
            lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
            rows.append(
                {
                    group_column: label,
                    "statistic": statistic,
                    "observed": observed_value,
                    "lower": float(lower),
                    "upper": float(upper),
                    "p_value": float((draws >= observed_value).mean()),
                    "outside": bool(observed_value < lower or observed_value > upper),
                }
            )
    return pd.DataFrame(rows)


#: Below this difference in elpd the two models predict so alike that PSIS-LOO cannot rank them,
#: whatever the standard error says (Sivula, Magnusson, Matamoros & Vehtari 2020).
SMALL_ELPD_DIFFERENCE = 4.0


def how_many(passed) -> str:
    """How many of the checks in ``passed`` (booleans) passed, to open a sentence: "All 5" or "4 of the 5".

    Chapters 9-11 glue it before "estimates lie within one posterior standard deviation".

    Examples
    --------
    >>> how_many([True, True, True])
    'All 3'
    >>> how_many(pd.Series([True, False, True]))
    '2 of the 3'
    """
    flags = np.asarray(passed, dtype=bool)
    return f"All {flags.size}" if flags.all() else f"{int(flags.sum())} of the {flags.size}"


def loo_verdict(comparison: pd.DataFrame, z: float = 2.0) -> str:
    """What ``az.compare`` of two models says, in plain words.

    The difference in expected log predictive density (elpd) is weighed twice:
    below :data:`SMALL_ELPD_DIFFERENCE` the two models predict alike; above
    it, the better model is preferred only if the difference exceeds ``z``
    standard errors of the difference (``dse``).

    Parameters
    ----------
    comparison : pandas.DataFrame
        Output of ``az.compare`` for two models (best first).
    z : float
        How many standard errors the difference must exceed.

    Returns
    -------
    str
        A phrase that can follow "PSIS-LOO finds ...".

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"elpd_diff": [0.0, 10.3], "dse": [0.0, 3.8]}, index=["(x | g)", "(x || g)"])
    >>> loo_verdict(table)
    'clear evidence for (x | g): it predicts better by more than 2 standard errors of the difference'
    >>> loo_verdict(table.assign(elpd_diff=[0.0, 0.9]))
    'no evidence to prefer either model: they predict about equally well'
    """
    if len(comparison) != 2:
        raise ValueError(f"loo_verdict weighs two models, got {len(comparison)}")
    best = comparison.index[0]
    difference = float(comparison["elpd_diff"].iloc[1])
    standard_error = float(comparison["dse"].iloc[1])
    if difference < SMALL_ELPD_DIFFERENCE:
        return "no evidence to prefer either model: they predict about equally well"
    if difference <= z * standard_error:
        return f"weak evidence for {best}: it predicts better, but by less than {z:g} standard errors of the difference"
    return f"clear evidence for {best}: it predicts better by more than {z:g} standard errors of the difference"


def pareto_k_by_observation(idata: az.InferenceData, loo) -> pd.DataFrame:
    """Each observation's Pareto k from PSIS-LOO, beside where it came from, largest first.

    A large k means the posterior would move so much without that observation
    that importance sampling cannot stand in for refitting: its elpd
    contribution is unreliable, and it is an influential observation.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`mixedrain.fit.fit_model` (its ``log_likelihood``
        carries the ``obs_<group>`` and predictor coordinates).
    loo : arviz.ELPDData
        ``az.loo(idata, pointwise=True)``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``obs``: the group label, the predictor value, the
        observed outcome ``y``, ``pareto_k`` and ``high`` (``k`` above the
        threshold ``loo.good_k``, 0.7 for a few thousand draws).
    """
    if "pareto_k" not in loo:
        raise ValueError("loo has no pointwise Pareto k; compute it with az.loo(idata, pointwise=True)")
    group_column, predictor_column = idata.attrs["group"], idata.attrs["predictor"]
    log_likelihood = idata.log_likelihood
    table = pd.DataFrame(
        {
            group_column: log_likelihood[f"obs_{group_column}"].to_numpy(),
            predictor_column: log_likelihood[predictor_column].to_numpy(),
            "y": idata.observed_data["y"].to_numpy(),
            "pareto_k": np.asarray(loo.pareto_k),
        },
        index=pd.Index(log_likelihood["obs"].to_numpy(), name="obs"),
    )
    table["high"] = table["pareto_k"] > float(loo.get("good_k", 0.7))
    return table.sort_values("pareto_k", ascending=False)
