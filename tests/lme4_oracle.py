"""lme4 itself as an oracle: fit a model in R on the same data and read back its estimates.

The book never needs R; some tests do. Under ``CI=true`` a missing R or lme4 fails those tests
(``.ci/run`` installs Debian's r-base-core and r-cran-lme4 there); elsewhere they are skipped with
the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

_SCRIPT = r"""
suppressMessages(library(lme4))
data <- read.csv("data.csv", check.names = FALSE)
for (column in strsplit("{factors}", ",")[[1]]) data[[column]] <- factor(data[[column]])
fit <- {call}
coefs <- summary(fit)$coefficients
fixed <- data.frame(parameter = rownames(coefs), estimate = coefs[, 1], std_error = coefs[, 2])
vc <- as.data.frame(VarCorr(fit))
names <- ifelse(is.na(vc$var2), paste(vc$grp, ifelse(is.na(vc$var1), "", vc$var1)), paste(vc$grp, vc$var1, vc$var2))
random <- data.frame(parameter = trimws(names), estimate = vc$sdcor, std_error = NA)
write.csv(rbind(fixed, random), "estimates.csv", row.names = FALSE)
"""


def require_lme4() -> str:
    """The path of ``Rscript`` with lme4 loadable; skip (or fail under CI=true) otherwise."""
    rscript = shutil.which("Rscript")
    reason = None
    if rscript is None:
        reason = "Rscript is not installed (Debian: apt-get install r-base-core r-cran-lme4)"
    elif subprocess.run([rscript, "-e", "library(lme4)"], capture_output=True).returncode != 0:
        reason = "R's lme4 is not installed (Debian: apt-get install r-cran-lme4)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return rscript


def lme4_estimates(data: pd.DataFrame, call: str, factors: tuple[str, ...] = ()) -> pd.DataFrame:
    """Fit ``call`` (R code using ``data``, e.g. ``lmer(y ~ x + (1 | g), data)``) and return its estimates.

    Returns
    -------
    pandas.DataFrame
        Indexed by lme4's names: fixed effects (``(Intercept)``, ``period2``) with ``estimate`` and
        ``std_error``; then standard deviations (``herd (Intercept)``, ``Residual``) and
        correlations (``Subject (Intercept) Days``) as ``estimate``.
    """
    rscript = require_lme4()
    with tempfile.TemporaryDirectory() as folder:
        data.to_csv(Path(folder) / "data.csv", index=False)
        script = _SCRIPT.replace("{factors}", ",".join(factors)).replace("{call}", call)
        result = subprocess.run([rscript, "-e", script], cwd=folder, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]
        return pd.read_csv(Path(folder) / "estimates.csv").set_index("parameter")
