"""Leave-one-out for a new group: each group's effects integrated out of its likelihood.

``fit_model`` stores each row's log-likelihood *given its group's effects*,
``log p(y_i | alpha_j, beta_j, sigma_y)``, so ``az.loo`` on a fit scores a new
observation of a group the model has already seen: leaving row ``i`` out keeps
the other rows of its group, which keep informing that group's effects. A
forecaster of a new state, or a new subject, has a different task: a group the
model has never seen, whose effects are known only through the population.

For the Gaussian models both tasks have closed forms. Given the
hyperparameters ``theta = (mu, Sigma, sigma_y)``, group ``j``'s rows are
jointly normal once its effects are integrated out,

    y_j ~ N(X_j mu, C_j),   C_j = Z_j Sigma Z_j' + sigma_y^2 I,

with ``X_j = Z_j`` the rows ``(1, x_i)`` and ``Sigma`` the effects' 2 x 2
covariance (``rho = 0`` for the uncorrelated models). Then

- :func:`leave_one_group_out` scores a new group: the log density of all of a
  group's rows, ``log p(y_j | theta)``, one term per group and posterior draw,
  and PSIS over the draws estimates ``log p(y_j | y_-j)``;
- :func:`integrated_loo` scores a new observation with the group's effects
  integrated out but its other rows kept: with ``Q = C_j^-1`` and ``r = y_j -
  X_j mu``, row ``i`` given the group's other rows is normal with mean
  ``y_i - (Q r)_i / Q_ii`` and variance ``1 / Q_ii``.

Both use the determinant lemma and Woodbury's identity with the Cholesky factor
``S`` of ``Sigma``, as the programs' integrated likelihood does (``M = I +
S'Z'Z S / sigma_y^2``), so a group of any size costs a few 2 x 2 operations
per draw, vectorised over draws and groups, and unequal group sizes need no
padding.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from mixedrain.models import get_model
from mixedrain.prepare import PreparedData

_HYPERPARAMETERS = ("mu_alpha", "mu_beta", "sigma_alpha", "sigma_beta", "sigma_y")


def group_log_likelihood(idata: az.InferenceData, prepared: PreparedData) -> az.InferenceData:
    """Each group's log density with its effects integrated out, per posterior draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior fit of a Gaussian catalogue model (``"integrated"``,
        ``"centered"``, ``"correlated_integrated"``, ...) from
        :func:`mixedrain.fit.fit_model`.
    prepared : PreparedData
        The data it was fitted to.

    Returns
    -------
    arviz.InferenceData
        The fit's ``posterior`` (``az.loo`` reads its effective sample size)
        and a ``log_likelihood`` group holding ``y`` over (chain, draw, group),
        the group dimension named and labelled as in the posterior.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixedrain.prepare import prepare_data
    >>> frame = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [0, 1, 0, 1], "y": [0.0, 1, 0, 1]})
    >>> prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    >>> point = {"mu_alpha": 0.0, "mu_beta": 1.0, "sigma_alpha": 1.0, "sigma_beta": 1.0, "sigma_y": 1.0}
    >>> fit = az.from_dict(posterior={k: np.full((1, 1), v) for k, v in point.items()}, attrs={"model": "integrated"})
    >>> # Each group: y = (0, 1) ~ N((0, 1), [[2, 1], [1, 3]]), log density -0.5 log((2 pi)^2 5) = -2.6426.
    >>> group_log_likelihood(fit, prepared).log_likelihood["y"].round(4).values.tolist()
    [[[-2.6426, -2.6426]]]
    """
    parts = _group_parts(idata, prepared)
    n, log_det_m, quadratic, sigma_y = parts["n"], parts["log_det_m"], parts["quadratic"], parts["sigma_y"]
    log_density = -0.5 * n * np.log(2 * np.pi) - n * np.log(sigma_y) - 0.5 * log_det_m - 0.5 * quadratic
    return _with_log_likelihood(idata, log_density, prepared.group_column, list(prepared.groups))


def integrated_log_likelihood(idata: az.InferenceData, prepared: PreparedData) -> az.InferenceData:
    """Each row's log density given its group's other rows, the group's effects integrated out, per draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior fit of a Gaussian catalogue model.
    prepared : PreparedData
        The data it was fitted to.

    Returns
    -------
    arviz.InferenceData
        The fit's ``posterior`` and a ``log_likelihood`` group holding ``y``
        over (chain, draw, obs), with the fit's ``obs_<group>`` and predictor
        coordinates.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixedrain.prepare import prepare_data
    >>> frame = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [0, 1, 0, 1], "y": [0.0, 1, 0, 1]})
    >>> prepared = prepare_data(frame, group="g", predictor="x", outcome="y")
    >>> point = {"mu_alpha": 0.0, "mu_beta": 1.0, "sigma_alpha": 1.0, "sigma_beta": 1.0, "sigma_y": 1.0}
    >>> fit = az.from_dict(posterior={k: np.full((1, 1), v) for k, v in point.items()}, attrs={"model": "integrated"})
    >>> # y_0 given y_1 = 1 (its mean): N(0, 2 - 1/3), log density -0.5 log(2 pi 5/3) = -1.1744.
    >>> round(float(integrated_log_likelihood(fit, prepared).log_likelihood["y"][0, 0, 0]), 4)
    -1.1744
    """
    parts = _group_parts(idata, prepared)
    codes, x = parts["codes"], parts["x"]
    a, b, c, variance = parts["a"], parts["b"], parts["c"], parts["sigma_y"] ** 2
    m11, m12, m22, det, v1, v2 = (parts[key] for key in ("m11", "m12", "m22", "det", "v1", "v2"))
    # Woodbury: Q = C^-1 = (I - Z P Z' / s2) / s2 and Q r = (r - Z S u) / s2, with u = M^-1 v and
    # P = S M^-1 S' (the mean and covariance of the group's deviation from mu given its rows are S u and P).
    u1, u2 = (m22 * v1 - m12 * v2) / det, (m11 * v2 - m12 * v1) / det
    d1, d2 = a * u1, b * u1 + c * u2
    p, q, t = m22 / det, -m12 / det, m11 / det
    p11, p12, p22 = a**2 * p, a * (b * p + c * q), b**2 * p + 2 * b * c * q + c**2 * t
    xs = x[None, :]
    q_ii = (1 - (p11[:, codes] + 2 * p12[:, codes] * xs + p22[:, codes] * xs**2) / variance) / variance
    q_r = (parts["residual"] - d1[:, codes] - d2[:, codes] * xs) / variance
    log_density = -0.5 * np.log(2 * np.pi) + 0.5 * np.log(q_ii) - 0.5 * q_r**2 / q_ii
    out = _with_log_likelihood(idata, log_density, "obs", np.arange(x.size))
    where = {
        f"obs_{prepared.group_column}": ("obs", prepared.frame[prepared.group_column].to_numpy()),
        prepared.predictor_column: ("obs", prepared.frame[prepared.predictor_column].to_numpy()),
    }
    return out.assign_coords(where, groups="log_likelihood")


def leave_one_group_out(idata: az.InferenceData, prepared: PreparedData, **loo_options) -> az.ELPDData:
    """PSIS estimate of how well the model predicts a whole new group: ``sum_j log p(y_j | y_-j)``.

    Each term scores all of group ``j``'s rows with the model fitted to the
    other groups, the group's effects drawn from the population: the task of
    forecasting a state, or a subject, the model has never seen. A Pareto k
    above 0.7 says that leaving the group out moves the posterior too far for
    reweighting; above 1 the importance weights have no finite mean and the
    term's estimate cannot be trusted at all.

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior fit of a Gaussian catalogue model.
    prepared : PreparedData
        The data it was fitted to.
    **loo_options
        Passed to ``az.loo`` (``pointwise=True`` by default).

    Returns
    -------
    arviz.ELPDData
        One pointwise term (``loo_i``, ``pareto_k``) per group.
    """
    loo_options.setdefault("pointwise", True)
    return az.loo(group_log_likelihood(idata, prepared), **loo_options)


def integrated_loo(idata: az.InferenceData, prepared: PreparedData, **loo_options) -> az.ELPDData:
    """PSIS-LOO of each row with its group's effects integrated out: a new row of a known group.

    The same task as ``az.loo`` on the fit (the group's other rows stay in),
    but each term is ``log p(y_i | y_-i)`` computed through the hyperparameters
    alone, so leaving a row out moves only the few hyperparameters and not the
    group's own effects: the importance weights are usually far better behaved.

    Returns
    -------
    arviz.ELPDData
        One pointwise term per row, ``obs`` as in the fit.
    """
    loo_options.setdefault("pointwise", True)
    return az.loo(integrated_log_likelihood(idata, prepared), **loo_options)


def _group_parts(idata: az.InferenceData, prepared: PreparedData) -> dict:
    """Per draw and group: the Woodbury pieces of ``C_j`` and the residuals, draws flattened."""
    if "posterior" not in idata.groups():
        raise ValueError("needs a posterior fit: a prior-only fit has no likelihood to leave anything out of")
    name = idata.attrs.get("model")
    if name is None:
        raise ValueError("the fit does not say which model it is (attrs['model']); fit it with fit_model()")
    spec = get_model(name)
    if spec.family != "gaussian":
        raise ValueError(f"the closed forms hold for Gaussian models only, not {spec.name!r} ({spec.family} outcome)")
    posterior = idata.posterior
    shape = (posterior.sizes["chain"], posterior.sizes["draw"])
    draws = {key: posterior[key].to_numpy().reshape(-1, 1) for key in _HYPERPARAMETERS}
    rho = posterior["rho"].to_numpy().reshape(-1, 1) if spec.correlated else np.zeros_like(draws["sigma_y"])
    codes = np.asarray(prepared.stan_data["group"]) - 1
    x = np.asarray(prepared.stan_data["x"], dtype=float)
    y = np.asarray(prepared.stan_data["y"], dtype=float)
    indicator = np.zeros((x.size, prepared.stan_data["J"]))
    indicator[np.arange(x.size), codes] = 1.0
    residual = y - draws["mu_alpha"] - draws["mu_beta"] * x  # (draws, rows)
    n, sum_x, sum_xx = indicator.sum(axis=0), x @ indicator, (x * x) @ indicator
    sum_r, sum_xr, sum_rr = residual @ indicator, (residual * x) @ indicator, (residual**2) @ indicator
    # S = [[a, 0], [b, c]] is the Cholesky factor of Sigma, as in the programs and draw_integrated_effects.
    a = draws["sigma_alpha"]
    b = draws["sigma_beta"] * rho
    c = draws["sigma_beta"] * np.sqrt(1 - rho**2)
    variance = draws["sigma_y"] ** 2
    m11 = 1 + (a**2 * n + 2 * a * b * sum_x + b**2 * sum_xx) / variance
    m12 = c * (a * sum_x + b * sum_xx) / variance
    m22 = 1 + c**2 * sum_xx / variance
    det = m11 * m22 - m12**2
    v1 = (a * sum_r + b * sum_xr) / variance
    v2 = c * sum_xr / variance
    quadratic = sum_rr / variance - (m22 * v1**2 - 2 * m12 * v1 * v2 + m11 * v2**2) / det
    return {
        "shape": shape, "codes": codes, "x": x, "residual": residual, "n": n, "a": a, "b": b, "c": c,
        "sigma_y": draws["sigma_y"], "m11": m11, "m12": m12, "m22": m22, "det": det, "v1": v1, "v2": v2,
        "log_det_m": np.log(det), "quadratic": quadratic,
    }


def _with_log_likelihood(idata: az.InferenceData, values: np.ndarray, dim: str, labels) -> az.InferenceData:
    posterior = idata.posterior
    shape = (posterior.sizes["chain"], posterior.sizes["draw"], values.shape[-1])
    log_likelihood = az.from_dict(
        log_likelihood={"y": values.reshape(shape)},
        coords={"chain": posterior["chain"].to_numpy(), "draw": posterior["draw"].to_numpy(), dim: labels},
        dims={"y": [dim]},
    )
    return az.InferenceData(posterior=posterior, log_likelihood=log_likelihood.log_likelihood)
