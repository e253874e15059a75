import subprocess

import pandas as pd
import pytest

from mixedrain.calibration_record import RECORDED_RUNS, changed_programs, git_blob_hash, read_record, stan_code, write_record
from mixedrain.ranks import N_THINNED, calibration_verdict

#: The models the book fits by default, each with a recorded large run (benchmarks/calibration/run.py).
RECORDED = ("centered", "integrated", "correlated_integrated", "gamma", "glmm_binomial", "glmm_crossed")


def test_write_record_keeps_ranks_and_verdict(tmp_path, fake_sbc_study):
    study = fake_sbc_study()
    write_record(
        study, tmp_path, name="the toy program", command="python benchmarks/calibration/run.py --reps 50", started="now",
        load_start="0", seconds=60, programs=["glmm.stan"], data="10 rows",
    )
    again = pd.read_csv(tmp_path / "ranks.csv", keep_default_na=False)
    assert again.filter(like="rank_").equals(study.filter(like="rank_"))
    readme = (tmp_path / "README.md").read_text()
    assert "--reps 50" in readme and calibration_verdict(study, name="The toy program") in readme
    ranks, facts = read_record(tmp_path)
    assert ranks.filter(like="rank_").equals(study.filter(like="rank_"))
    assert facts["Command"] == "python benchmarks/calibration/run.py --reps 50" and facts["Runtime"].startswith("1.0 min")
    assert facts["Stan programs"] == f"`glmm.stan` (git blob {git_blob_hash(RECORDED_RUNS.parents[1] / 'src/mixedrain/stan/glmm.stan')[:12]})"
    # The fake study's fits all have a tail ESS of 400 and a bulk ESS of 500, above the 99 ranks
    assert facts[f"Fits with a bulk or tail ESS below {N_THINNED} for some ranked quantity"] == "0 (bulk: 0, tail: 0)"


def test_git_blob_hash_is_gits(tmp_path):
    (tmp_path / "hello").write_text("hello\n")
    assert git_blob_hash(tmp_path / "hello") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object


PROGRAM = """// A toy program.
data {
  real y; // the outcome
}
parameters {
  real mu;
}
model {
  print("// not a comment");
  y ~ normal(mu, 1);
}
"""


def test_stan_code_drops_comments_and_layout_only():
    relaid = PROGRAM.replace("// A toy program.", "/* Another\n   note. */").replace("normal(mu, 1)", "normal( mu,1 )")
    assert stan_code(relaid) == stan_code(PROGRAM)
    assert stan_code(PROGRAM.replace("// not a comment", "//")) != stan_code(PROGRAM)  # a string is code
    assert stan_code(PROGRAM.replace("real mu", "real  mu")) == stan_code(PROGRAM)
    assert stan_code(PROGRAM.replace("real mu", "realmu")) != stan_code(PROGRAM)


def test_a_comment_keeps_a_run_current_and_code_makes_it_stale(tmp_path):
    program = tmp_path / "toy.stan"
    program.write_text(PROGRAM)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    blob = subprocess.run(["git", "hash-object", "-w", "toy.stan"], cwd=tmp_path, capture_output=True, text=True, check=True)
    facts = {"Stan programs": f"`toy.stan` (git blob {blob.stdout.strip()[:12]})"}
    assert changed_programs(facts, tmp_path) == []
    program.write_text(PROGRAM.replace("// the outcome", "// the observed outcome"))
    assert changed_programs(facts, tmp_path) == []
    program.write_text(PROGRAM.replace("normal(mu, 1)", "normal(mu, 2)"))
    assert changed_programs(facts, tmp_path) == ["toy.stan"]
    # A recorded text git does not hold cannot be compared: the run counts as stale
    assert changed_programs({"Stan programs": "`toy.stan` (git blob 0123456789ab)"}, tmp_path) == ["toy.stan"]


@pytest.mark.parametrize("name", RECORDED)
def test_each_model_has_a_recorded_large_run(name):
    ranks, facts = read_record(name)
    assert len(ranks) >= 200 and facts["Replications"].startswith(str(len(ranks)))
    assert facts["Command"].startswith("python benchmarks/calibration/run.py") and f"--model {name}" in facts["Command"]
    assert facts["Runtime"].endswith("(wall clock, while other work shared the machine)")
    assert "none is dropped" in facts["Counting"]
    assert f"Fits with a bulk or tail ESS below {N_THINNED} for some ranked quantity" in facts
    assert ranks.filter(like="rank_").dropna().isin(range(N_THINNED + 1)).all().all()
