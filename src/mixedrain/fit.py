"""Build and sample a Stan program with PyStan 3, returning ArviZ InferenceData."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import time
import warnings

import arviz as az
import numpy as np

from mixedrain.models import DEFAULT_PRIORS, load_program
from mixedrain.prepare import PreparedData

#: The model's population-level parameters, in the order the book reports them.
HYPERPARAMETERS: tuple[str, ...] = ("mu_alpha", "mu_beta", "sigma_alpha", "sigma_beta", "sigma_y")

#: R-hat above this is reported (Vehtari et al. 2021 recommend 1.01).
RHAT_THRESHOLD = 1.01


class SamplingWarning(UserWarning):
    """The sampler reported a problem: divergences or chains that disagree."""


def fit_model(
    prepared: PreparedData,
    model: str = "centered",
    *,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 1234,
    priors: dict[str, float] | None = None,
    prior_only: bool = False,
    quiet: bool = True,
    **sampler_options,
) -> az.InferenceData:
    """Fit one of the package's Stan programs with PyStan 3.

    The first call for a program compiles it (about a minute and 2 GB of memory);
    httpstan caches the compiled program, so later calls with any data reuse it.
    Every call samples afresh: fits are not replayed from httpstan's disk cache.

    Parameters
    ----------
    prepared : PreparedData
        Output of :func:`mixedrain.prepare.prepare_data`.
    model : {"centered", "noncentered"}
        Which parameterisation to sample.
    chains, draws, warmup : int
        Number of chains, and of kept and warmup iterations per chain.
    seed : int
        Random seed for the sampler, so a fit can be repeated exactly.
    priors : dict, optional
        Overrides for :data:`mixedrain.models.DEFAULT_PRIORS`.
    prior_only : bool
        Sample from the prior (the likelihood is switched off): a prior
        predictive check with the same compiled program.
    quiet : bool
        Keep PyStan's build and progress messages out of the output. They are
        attached to any error raised.
    **sampler_options
        Passed to ``stan.Model.sample``, e.g. ``delta=0.95``.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (or ``prior``) with dimension ``state`` labelled by group,
        ``posterior_predictive`` (or ``prior_predictive``) ``y_rep``,
        and ``observed_data`` over dimension ``obs``, whose
        coordinates ``obs_state`` and ``year`` say where each row came from,
        and ``sample_stats``. ``attrs`` record the model, the predictor's
        ``first_year`` and ``centre``, and the build and sampling times.

    Warns
    -----
    SamplingWarning
        If any transition diverged or any R-hat exceeds 1.01.

    Examples
    --------
    >>> from mixedrain.simulate import simulate_rainfall
    >>> from mixedrain.prepare import prepare_data
    >>> idata = fit_model(prepare_data(simulate_rainfall()))  # doctest: +SKIP
    >>> idata.posterior["alpha"].sel(state="AL").mean().item()  # doctest: +SKIP
    """
    import stan  # imported here so the rest of the package works without a compiler

    if not isinstance(prepared, PreparedData):
        raise TypeError(f"prepared must come from prepare_data(), not {type(prepared).__name__}")
    for name, value in (("chains", chains), ("draws", draws), ("warmup", warmup), ("seed", seed)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < (0 if name == "warmup" else 1):
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    unknown = sorted(set(priors or {}) - set(DEFAULT_PRIORS))
    if unknown:
        raise ValueError(f"unknown prior setting(s) {unknown}; known: {sorted(DEFAULT_PRIORS)}")
    program = load_program(model)
    data = {**prepared.stan_data, **DEFAULT_PRIORS, **(priors or {}), "prior_only": int(prior_only)}

    _allow_nested_event_loop()
    messages = io.StringIO()
    with _maybe_silenced(messages, quiet), _one_fit_at_a_time(), _no_stored_fits(program):
        try:
            start = time.perf_counter()
            posterior = stan.build(program, data=data, random_seed=int(seed))
            built = time.perf_counter()
            fit = posterior.sample(num_chains=chains, num_samples=draws, num_warmup=warmup, **sampler_options)
            sampled = time.perf_counter()
        except Exception as error:
            error.add_note(f"PyStan said:\n{messages.getvalue()}")
            raise

    idata = _to_inference_data(fit, posterior, prepared, prior_only)
    idata.attrs.update(
        model=model,
        first_year=prepared.first_year,
        centre=prepared.centre,
        build_seconds=built - start,
        sampling_seconds=sampled - built,
        prior_only=int(prior_only),
    )
    _warn_about_problems(idata, "prior" if prior_only else "posterior")
    return idata


def _to_inference_data(fit, posterior, prepared: PreparedData, prior_only: bool) -> az.InferenceData:
    coords = {"state": list(prepared.groups), "obs": np.arange(prepared.stan_data["N"])}
    per_state = ["state"]
    dims = {
        "alpha": per_state,
        "beta": per_state,
        "alpha_raw": per_state,
        "beta_raw": per_state,
        "y_rep": ["obs"],
        "y": ["obs"],
    }
    if prior_only:
        idata = az.from_pystan(prior=fit, prior_model=posterior, prior_predictive="y_rep", coords=coords, dims=dims)
    else:
        idata = az.from_pystan(
            posterior=fit,
            posterior_model=posterior,
            posterior_predictive="y_rep",
            observed_data="y",
            log_likelihood=False,
            coords=coords,
            dims=dims,
        )
    where = {
        "obs_state": ("obs", prepared.frame[prepared.group_column].to_numpy()),
        "year": ("obs", prepared.frame[prepared.time_column].to_numpy().astype(int)),
    }
    with_obs = [group for group in idata.groups() if "obs" in idata[group].dims]
    return idata.assign_coords(where, groups=with_obs)


def _warn_about_problems(idata: az.InferenceData, group: str) -> None:
    stats = idata["sample_stats_prior" if group == "prior" else "sample_stats"]
    divergent = int(stats["diverging"].sum())
    if divergent:
        total = stats["diverging"].size
        warnings.warn(
            f"{divergent} of {total} transitions diverged: the {group} may be biased. "
            "Try the other parameterisation or a higher delta (e.g. delta=0.95).",
            SamplingWarning,
            stacklevel=3,
        )
    if idata[group].sizes["chain"] < 2:
        return
    names = [n for n in (*HYPERPARAMETERS, "alpha", "beta") if n in idata[group]]
    rhat = az.rhat(idata[group][names])
    bad = {n: float(rhat[n].max()) for n in names if float(rhat[n].max()) > RHAT_THRESHOLD}
    if bad:
        listed = ", ".join(f"{n} ({v:.3f})" for n, v in bad.items())
        warnings.warn(
            f"R-hat above {RHAT_THRESHOLD} for {listed}: the chains disagree; run longer or reparameterise.",
            SamplingWarning,
            stacklevel=3,
        )


@contextlib.contextmanager
def _one_fit_at_a_time():
    # A machine-wide lock: fits never overlap, so no process touches another's stored fit, and two
    # first-time compiles (2 GB of memory each) never run at once.
    from httpstan.cache import cache_directory

    cache_directory().mkdir(parents=True, exist_ok=True)
    with open(cache_directory() / "mixedrain.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _no_stored_fits(program: str):
    # httpstan stores every seeded fit on disk (about 13 MB each) and silently replays it when the same
    # call is repeated: the disk fills up and sampling times become meaningless. So every call really
    # samples, and leaves nothing behind. Compiled programs stay cached.
    from httpstan.cache import model_directory
    from httpstan.models import calculate_model_name

    fits = model_directory(calculate_model_name(program)) / "fits"

    def forget() -> None:
        for path in fits.glob("*.jsonlines.gz"):
            path.unlink(missing_ok=True)

    forget()
    try:
        yield
    finally:
        forget()


def _allow_nested_event_loop() -> None:
    # PyStan runs its own asyncio loop; Jupyter already runs one, so nest it there.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    import nest_asyncio

    nest_asyncio.apply()


@contextlib.contextmanager
def _maybe_silenced(buffer: io.StringIO, quiet: bool):
    if not quiet:
        yield
        return
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield
