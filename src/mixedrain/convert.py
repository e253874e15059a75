"""A PyStan fit of your own Stan program -> ArviZ InferenceData named as the book's fits are.

``az.from_pystan`` does the conversion; this module adds the book's conventions,
so that ``az.loo`` and the checks of :mod:`mixedrain.checks` read a reader's
program as they read the catalogue's and the formula path's fits: the outcome
is ``y`` in ``observed_data`` and in ``log_likelihood``, its replicas ``y_rep``
in ``posterior_predictive``, all over the row dimension ``obs``, each row
labelled by its group (coordinate ``obs_<group>``) and its predictor; ``attrs``
name the group, predictor and outcome columns. The program computes the
pointwise log-likelihood and the replicated data itself, in ``generated
quantities``; this module only names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import arviz as az
import numpy as np
import pandas as pd

from mixedrain.glmm_fit import plain_values

__all__ = ["pystan_to_inference_data"]


def pystan_to_inference_data(
    fit,
    model,
    *,
    observed: str,
    log_likelihood: str = "log_lik",
    replicated: str | None = None,
    rows: pd.DataFrame | None = None,
    group: str | None = None,
    predictor: str | None = None,
    predictions: str | Sequence[str] | None = None,
    new_rows: pd.DataFrame | None = None,
    coords: Mapping | None = None,
    dims: Mapping[str, Sequence[str]] | None = None,
) -> az.InferenceData:
    """Name the draws of a PyStan fit the way the book's fits are named.

    Parameters
    ----------
    fit : stan.fit.Fit
        What ``posterior.sample(...)`` returned.
    model : stan.model.Model
        What ``stan.build(program, data=...)`` returned: it holds the data.
    observed : str
        The data variable holding the outcome, one value per row (e.g.
        ``"circumference"``); stored as ``y``.
    log_likelihood : str
        The generated quantity holding each row's log density; stored as
        ``y`` in group ``log_likelihood``, for ``az.loo``.
    replicated : str, optional
        The generated quantity holding a replicated data set; stored as
        ``y_rep`` in ``posterior_predictive``.
    rows : pandas.DataFrame, optional
        The rows the program read, in its order: ``group`` and ``predictor``
        are read from it.
    group, predictor : str, optional
        Columns of ``rows``: the group becomes coordinate ``obs_<group>`` on
        ``obs``, the predictor a coordinate named after its column, and both
        are named in ``attrs`` (as :func:`mixedrain.checks.group_predictive_check`
        and :func:`mixedrain.checks.pareto_k_by_observation` read them).
    predictions : str or sequence of str, optional
        Generated quantities predicting new rows; stored in ``predictions``
        over dimension ``new_obs``.
    new_rows : pandas.DataFrame, optional
        The new rows, in the program's order: each column becomes a
        coordinate on ``new_obs``.
    coords, dims : mapping, optional
        Names for the other variables' dimensions, as ``az.from_pystan``
        takes them (e.g. ``dims={"asym_tree": ["Tree"]}``).

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (without the variables moved to the other groups),
        ``sample_stats``, ``observed_data`` and ``log_likelihood`` (``y``),
        ``posterior_predictive`` (``y_rep``) and ``predictions`` when asked.

    Raises
    ------
    ValueError
        If a named variable is not in the program, or its length is not the
        number of rows (of ``rows`` or ``new_rows``), or a named column is
        missing from ``rows``.

    Examples
    --------
    >>> posterior = stan.build(program, data=data)  # doctest: +SKIP
    >>> fit = posterior.sample(num_chains=4)  # doctest: +SKIP
    >>> idata = pystan_to_inference_data(fit, posterior, observed="y", replicated="y_rep",
    ...                                  rows=frame, group="Tree", predictor="age")  # doctest: +SKIP
    >>> az.loo(idata)  # doctest: +SKIP
    """
    if observed not in model.data:
        raise ValueError(f"the program's data has no {observed!r}; it has {sorted(model.data)}")
    n_rows = int(np.size(model.data[observed]))
    quantities = {"log_likelihood": log_likelihood, "replicated": replicated}
    for role, name in quantities.items():
        if name is not None:
            _require_quantity(fit, name, n_rows, f"{role} {name!r}", "rows of the outcome")
    predictions = [predictions] if isinstance(predictions, str) else list(predictions or [])
    n_new = None if new_rows is None else len(new_rows)
    for name in predictions:
        _require_quantity(fit, name, n_new, f"prediction {name!r}", "new rows")
    if rows is not None and len(rows) != n_rows:
        raise ValueError(f"rows has {len(rows)} rows, but the outcome {observed!r} has {n_rows}")
    for role, column in (("group", group), ("predictor", predictor)):
        if column is not None and (rows is None or column not in rows.columns):
            raise ValueError(f"the {role} column {column!r} is not a column of rows")

    coords = {**(coords or {}), "obs": np.arange(n_rows)}
    dims = {**(dims or {}), observed: ["obs"], "y": ["obs"]}
    if replicated is not None:
        dims[replicated] = ["obs"]
    if predictions:
        coords["new_obs"] = np.arange(n_new if n_new is not None else _length(fit, predictions[0]))
        dims.update({name: ["new_obs"] for name in predictions})
    idata = az.from_pystan(
        posterior=fit,
        posterior_model=model,
        observed_data=observed,
        log_likelihood={"y": log_likelihood},
        posterior_predictive=replicated,
        predictions=predictions or None,
        coords=coords,
        dims=dims,
    )
    idata.observed_data = idata.observed_data.rename({observed: "y"})
    if replicated is not None:
        idata.posterior_predictive = idata.posterior_predictive.rename({replicated: "y_rep"})
    idata.attrs["outcome"] = observed
    if rows is not None:
        labels = {}
        if group is not None:
            labels[f"obs_{group}"] = ("obs", rows[group].astype(str).to_numpy())
            idata.attrs["group"] = group
        if predictor is not None:
            labels[predictor] = ("obs", rows[predictor].to_numpy())
            idata.attrs["predictor"] = predictor
        on_rows = [name for name in idata.groups() if "obs" in idata[name].dims]
        idata = idata.assign_coords(labels, groups=on_rows)
    if new_rows is not None and predictions:
        idata = idata.assign_coords(
            {str(column): ("new_obs", plain_values(new_rows[column])) for column in new_rows.columns}, groups=["predictions"]
        )
    return idata


def _length(fit, name: str) -> int:
    return int(np.prod(fit.dims[fit.param_names.index(name)]))


def _require_quantity(fit, name: str, length: int | None, what: str, of: str) -> None:
    if name not in fit.param_names:
        raise ValueError(f"the program has no {what}; its parameters and generated quantities are {list(fit.param_names)}")
    shape = fit.dims[fit.param_names.index(name)]
    if len(shape) != 1 or (length is not None and shape[0] != length):
        raise ValueError(f"{what} has shape {tuple(shape)}; it needs one value for each of the {length} {of}")

