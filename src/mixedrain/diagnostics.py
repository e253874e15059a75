"""How well did the sampler explore the posterior, per second of sampling?"""

from __future__ import annotations

import arviz as az
import pandas as pd

from mixedrain.models import get_model

__all__ = ["sampling_efficiency"]


def sampling_efficiency(idata: az.InferenceData, var_names: tuple[str, ...] | list[str] | None = None) -> pd.DataFrame:
    """Effective sample sizes of a fit, and bulk ESS per second of sampling.

    The bulk ESS measures how well the draws pin down the centre of a
    posterior, the tail ESS its 5% and 95% quantiles; both use the
    rank-normalised estimators of Vehtari et al. (2021). Dividing by the
    sampling time (``idata.attrs["sampling_seconds"]``, recorded by
    :func:`mixedrain.fit.fit_model`) makes fits of different programs
    comparable: how many independent-draw equivalents each second buys.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fitted model whose ``attrs`` hold ``sampling_seconds``.
    var_names : sequence of str, optional
        Scalar parameters to report (default: the fitted model's
        hyperparameters, from the catalogue).

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter: ``ess_bulk``, ``ess_tail``, ``r_hat`` and
        ``ess_bulk_per_second``.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> idata = az.from_dict(posterior={"mu": np.random.default_rng(0).normal(size=(4, 500))})
    >>> idata.attrs["sampling_seconds"] = 2.0
    >>> table = sampling_efficiency(idata, ["mu"])
    >>> list(table.columns)
    ['ess_bulk', 'ess_tail', 'r_hat', 'ess_bulk_per_second']
    >>> bool(table.loc["mu", "ess_bulk_per_second"] == table.loc["mu", "ess_bulk"] / 2.0)
    True
    """
    seconds = idata.attrs.get("sampling_seconds")
    if seconds is None or not float(seconds) > 0:
        raise ValueError("idata.attrs['sampling_seconds'] must be a positive number; fit with mixedrain.fit.fit_model")
    names = list(get_model(idata.attrs["model"]).hyperparameters if var_names is None else var_names)
    posterior = idata.posterior[names]
    bulk = az.ess(posterior, method="bulk")
    tail = az.ess(posterior, method="tail")
    rhat = az.rhat(posterior)
    table = pd.DataFrame(
        {
            "ess_bulk": [float(bulk[n]) for n in names],
            "ess_tail": [float(tail[n]) for n in names],
            "r_hat": [float(rhat[n]) for n in names],
        },
        index=pd.Index(names, name="parameter"),
    )
    table["ess_bulk_per_second"] = table["ess_bulk"] / float(seconds)
    return table
