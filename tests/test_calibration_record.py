import pandas as pd

from mixedrain.calibration_record import read_record, write_record
from mixedrain.ranks import uniformity_test, uniformity_verdict


def test_write_record_keeps_ranks_and_verdict(tmp_path, fake_sbc_study):
    study = fake_sbc_study()
    write_record(study, tmp_path, command="python -m mixedrain.calibrate --replications 50", started="now", load_start="0", seconds=60)
    again = pd.read_csv(tmp_path / "ranks.csv", keep_default_na=False)
    assert again.filter(like="rank_").equals(study.filter(like="rank_"))
    readme = (tmp_path / "README.md").read_text()
    assert "--replications 50" in readme and uniformity_verdict(uniformity_test(study)) in readme
    ranks, facts = read_record(tmp_path)
    assert ranks.filter(like="rank_").equals(study.filter(like="rank_"))
    assert facts["Command"] == "python -m mixedrain.calibrate --replications 50" and facts["Runtime"].startswith("1.0 min")
