# SPDX-License-Identifier: Apache-2.0
"""The command line, end to end."""

import json
import subprocess
import sys

import pytest

from relu_hw.cli import main
from relu_hw.spec import Spec


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_generate(tmp_path, capsys):
    code, out, _ = run(["generate", "-o", str(tmp_path), "--kind", "leaky_relu",
                        "--slope", "1/8", "--lanes", "2"], capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaky_relu_axis.json",
                                                          "leaky_relu_axis.v"]
    m = json.loads((tmp_path / "leaky_relu_axis.json").read_text())
    assert m["slope"] == "1/8" and m["lanes"] == 2
    assert "wrote" in out


def test_generate_twice_is_byte_identical(tmp_path, capsys):
    for d in ("a", "b"):
        assert run(["generate", "-o", str(tmp_path / d), "--kind", "prelu", "--lanes", "2",
                    "--slopes", "0.1,-0.2"], capsys)[0] == 0
    assert (tmp_path / "a" / "prelu_axis.v").read_bytes() == \
        (tmp_path / "b" / "prelu_axis.v").read_bytes()


def test_simulate_text_and_json(capsys):
    code, out, _ = run(["simulate", "--beats", "100", "--valid-prob", "0.5",
                        "--ready-prob", "0.5", "--lanes", "2"], capsys)
    assert code == 0
    assert "PASS: 100 beats" in out and "latency 1 cycles nominal" in out
    assert "beats/s" in out
    code, out, _ = run(["simulate", "--beats", "50", "--json", "--stages", "3"], capsys)
    report = json.loads(out)
    assert code == 0 and report["passed"] and report["cycles"] == 53
    assert report["latency"] == {"nominal": 3, "min": 3, "max": 3}


def test_simulate_writes_vcd(tmp_path, capsys):
    vcd = tmp_path / "w.vcd"
    assert run(["simulate", "--beats", "10", "--vcd", str(vcd)], capsys)[0] == 0
    assert vcd.stat().st_size > 0


def test_build_default(tmp_path, capsys):
    # The main job as the quick start runs it, synthesis included.
    code, out, _ = run(["build", "-o", str(tmp_path), "--beats", "200"], capsys)
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["relu_axis.json", "relu_axis.report.json", "relu_axis.report.md",
                     "relu_axis.v"]
    report = json.loads((tmp_path / "relu_axis.report.json").read_text())
    assert report["simulation"]["full_rate"]["cycles"] == 201
    assert report["simulation"]["random_handshakes"]["passed"]
    synthesis = report["synthesis"]
    assert synthesis["target"]["name"] == "ecp5-45k" and report["synthesis_error"] is None
    assert synthesis["configuration"] == Spec().options()
    assert synthesis["totals"]["ff"] >= 4 * 16 and synthesis["totals"]["lut"] > 0
    assert len(synthesis["fmax_mhz"]["seeds"]) == 3 and synthesis["fmax_mhz"]["median"] > 100
    md = (tmp_path / "relu_axis.report.md").read_text()
    assert md.startswith("# relu_axis\n") and "## Synthesis (ecp5-45k)" in md
    assert f"| {synthesis['totals']['lut']} | {synthesis['totals']['ff']} |" in md
    assert out.startswith("# relu_axis\n") and out.count("wrote ") == 4


def test_config_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('kind = "prelu"\nlanes = 2\nslopes = ["0.5", "-0.25"]\n'
                   'out-width = 10\nmax_value = "6"\nname = "from_toml"\n')
    code, _, _ = run(["generate", "-o", str(tmp_path), "--config", str(cfg),
                      "--out-frac", "3"], capsys)
    assert code == 0
    m = json.loads((tmp_path / "from_toml.json").read_text())
    assert m["slopes"] == ["1/2", "-1/4"] and m["output"]["width"] == 10
    assert m["output"]["frac"] == 3 and m["max_value"] == "6"


@pytest.mark.parametrize("argv, message", [
    (["--width", "1"], "Input width must be an integer from 2 to 32, not 1"),
    (["--kind", "prelu", "--lanes", "2", "--slopes", "0.1"],
     "Slope count must equal the lane count (2), not 1"),
    (["--kind", "leaky_relu", "--slope", "nan"], "Slope must be a finite decimal"),
    (["--max-value", "-2"], "max_value must be at least 0, not '-2'"),
    (["--config", "does-not-exist.toml"], "config: Cannot read does-not-exist.toml"),
])
def test_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    out_dir = tmp_path / "out"
    code, out, err = run(["generate", "-o", str(out_dir)] + argv, capsys)
    assert code == 2
    assert err.startswith("relu-hw: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out_dir.exists()


def test_bad_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("lane = 3\n")
    code, _, err = run(["generate", "-o", str(tmp_path / "o"), "--config", str(cfg)], capsys)
    assert code == 2 and "unknown key 'lane'" in err


def test_argparse_errors_exit_2(capsys):
    code, _, err = run(["generate", "--rounding", "nearest"], capsys)
    assert code == 2 and "invalid choice: 'nearest'" in err
    code, _, err = run(["simulate", "--beats", "0"], capsys)
    assert code == 2 and "--beats must be a positive integer, not 0" in err
    code, _, err = run(["simulate", "--valid-prob", "0"], capsys)
    assert code == 2 and "--valid-prob must be in (0, 1], not 0.0" in err


def test_help_documents_defaults(capsys):
    code, out, _ = run(["generate", "--help"], capsys)
    assert code == 0
    for text in ("--kind", "(default relu)", "--slope-impl", "--rounding", "(default floor)",
                 "--overflow", "(default saturate)", "--ready", "--user-width", "--name"):
        assert text in out


def test_entry_point_runs(tmp_path):
    # The installed console script, as a user runs it.
    proc = subprocess.run([sys.executable, "-m", "relu_hw", "generate", "-o",
                           str(tmp_path), "--lanes", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "relu_axis.v").exists()
