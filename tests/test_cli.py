"""The ``kamabm run`` command: outcomes, chart, and clean errors."""

import json
import os
import subprocess
import sys

import pytest

from kamabm import OUTCOMES
from kamabm.cli import main


def test_run_json_prints_every_outcome(capsys, tmp_path):
    status = main(["run", "--json", "--seed", "3", "--out", str(tmp_path)])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert set(OUTCOMES) <= set(result)
    for suffix in (".png", ".svg", ".csv"):
        path = tmp_path / f"run_seed3{suffix}"
        assert path.stat().st_size > 1000


def test_run_chart_csv_holds_one_row_per_month(tmp_path):
    assert main(["run", "--set", "horizon_months=24", "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "run_horizon_months24_seed1.csv").read_text().splitlines()
    assert len(lines) == 1 + 24 and lines[0].startswith("month,")


def test_set_changes_the_run(capsys, tmp_path):
    main(["run", "--json", "--no-chart", "--set", "kam_pressure=0"])
    calm = json.loads(capsys.readouterr().out)
    main(["run", "--json", "--no-chart", "--set", "kam_pressure=1",
          "--set", "client_revenue_share=1"])
    pressed = json.loads(capsys.readouterr().out)
    assert calm != pressed


@pytest.mark.parametrize(("args", "needle"), [
    (["--set", "kam_pressure=2"], "kam_pressure = 2.0: out of range, allowed [0, 1]"),
    (["--set", "client_revenue_share=0"], "client_revenue_share = 0.0: out of range, allowed (0, 1]"),  # noqa: E501
    (["--set", "kam_presure=0.5"], "kam_presure: unknown parameter"),
    (["--set", "kam_pressure"], "expected NAME=VALUE"),
    (["--seed", "x"], "invalid int value"),
])
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, needle):
    proc = subprocess.run([sys.executable, "-m", "kamabm", "run", "--no-chart", *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2  # argparse adds a usage line
    assert proc.stdout == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_results_folder_is_a_clean_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["run", "--out", str(locked / "x")]) == 2


def test_results_folder_that_is_a_file_is_a_clean_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "cannot write" in err


def test_params_lists_every_parameter(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "`kam_pressure`" in out and "`buyer_detachment`" in out


def test_a_negative_seed_is_refused_and_nothing_is_created(tmp_path, capsys):
    out = tmp_path / "charts"
    assert main(["run", "--seed", "-1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed -1" in err
    assert not out.exists()


def test_a_parameter_set_twice_is_refused(capsys):
    assert main(["run", "--no-chart", "--set", "kam_pressure=0.2",
                 "--set", "kam_pressure=0.8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--set kam_pressure: given 2 times" in err


def test_a_params_file_that_is_not_utf8_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "latin1.toml"
    path.write_bytes("kam_pressure = 0.5 # caf\xe9\n".encode("latin-1"))
    assert main(["run", "--no-chart", "--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "not UTF-8" in err


def test_a_closed_pipe_ends_the_command_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "kamabm", "params"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written, as `| head` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_runs_with_other_parameters_do_not_overwrite_each_others_chart(tmp_path):
    common = ["run", "--seed", "2", "--set", "horizon_months=12", "--out", str(tmp_path)]
    assert main([*common, "--set", "kam_pressure=0.2"]) == 0
    assert main([*common, "--set", "kam_pressure=0.9"]) == 0
    charts = sorted(p.name for p in tmp_path.glob("*.png"))
    assert charts == ["run_kam_pressure0p2_horizon_months12_seed2.png",
                      "run_kam_pressure0p9_horizon_months12_seed2.png"]
    assert len(list(tmp_path.glob("*.csv"))) == 2


def test_chart_names_stay_short_with_many_changes():
    from kamabm.cli.run import chart_stem

    many = {f"parameter_number_{i}": 0.5 for i in range(10)}
    stem = chart_stem(many, 3)
    assert stem.startswith("run_params-") and stem.endswith("_seed3") and len(stem) < 40
    assert chart_stem(many, 3) == stem and chart_stem({}, 3) == "run_seed3"


def test_a_run_with_a_list_parameter_is_charted_under_a_title_in_words(tmp_path, capsys):
    from kamabm.cli import main

    assert main(["run", "--seed", "1", "--out", str(tmp_path), "--set",
                 "client_revenue_share=0.8", "--set", "key_account_shares=0.5,0.2,0.1"]) == 0
    svg = next(tmp_path.glob("*key_account_shares0p5-0p2-0p1_seed1.svg")).read_text()
    assert "each key client's share of turnover at 0.5, 0.2, 0.1; seed 1" in svg
    assert "key_account_shares =" not in svg
