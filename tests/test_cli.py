# SPDX-License-Identifier: Apache-2.0
"""The command line, end to end."""

import importlib
import json
import subprocess
import sys
import time

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
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "leaky_relu_axis.core", "leaky_relu_axis.json", "leaky_relu_axis.v",
        "leaky_relu_axis_in.hex", "leaky_relu_axis_out.hex", "leaky_relu_axis_tb.v"]
    m = json.loads((tmp_path / "leaky_relu_axis.json").read_text())
    assert m["slope"] == "1/8" and m["lanes"] == 2
    assert "wrote" in out


def test_generate_without_vendor_attributes(tmp_path, capsys):
    for flags, folder in (([], "with"), (["--no-vendor-attributes"], "without")):
        assert run(["generate", "-o", str(tmp_path / folder), "--lanes", "1", *flags],
                   capsys)[0] == 0
    assert ('(* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 s_axis TDATA" *)'
            in (tmp_path / "with" / "relu_axis.v").read_text())
    assert "X_INTERFACE" not in (tmp_path / "without" / "relu_axis.v").read_text()


def test_generate_twice_is_byte_identical(tmp_path, capsys):
    for d in ("a", "b"):
        assert run(["generate", "-o", str(tmp_path / d), "--kind", "prelu", "--lanes", "2",
                    "--slopes", "0.1,-0.2"], capsys)[0] == 0
    for a in (tmp_path / "a").iterdir():
        assert a.read_bytes() == (tmp_path / "b" / a.name).read_bytes(), a.name


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


@pytest.mark.parametrize("argv, want", [
    # RFC 41 notation; the modes stay the Spec's defaults.
    (["--in-format", "SQ(4,4)", "--out-format", "UQ(4,4)"],
     ((8, 4, True), (8, 4, False), "floor", "saturate")),
    # A type string's modes set rounding and overflow; hls4ml spellings.
    (["--precision", "ap_fixed<16,6>", "--out-precision", "ap_ufixed<8,3,AP_RND_CONV,AP_SAT>"],
     ((16, 10, True), (8, 5, False), "half_even", "saturate")),
    (["--precision", "fixed<8,4>", "--out-precision", "ufixed<8,4,RND_INF,SAT_ZERO>"],
     ((8, 4, True), (8, 4, False), "half_away", "saturate_zero")),
    # Omitted modes are ap_fixed's defaults, unless told otherwise; the output takes the
    # input's type when it has none.
    (["--precision", "ap_fixed<8,4>"], ((8, 4, True), (8, 4, True), "floor", "wrap")),
    (["--out-precision", "ap_ufixed<8,4>", "--rounding", "qonnx:HALF_UP"],
     ((16, 8, True), (8, 4, False), "half_away", "wrap")),
    (["--precision", "ap_uint<8>", "--rounding", "AP_RND_CONV", "--overflow", "AP_SAT_ZERO"],
     ((8, 0, False), (8, 0, False), "half_even", "saturate_zero")),
])
def test_formats_and_type_strings(tmp_path, capsys, argv, want):
    code, _, err = run(["generate", "-o", str(tmp_path), *argv], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "relu_axis.json").read_text())
    got = tuple((f["width"], f["frac"], f["signed"]) for f in (m["input"], m["output"]))
    assert (*got, m["rounding"], m["overflow"]) == want


def test_format_on_the_command_line_replaces_the_files_way(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('in-format = "SQ(4,4)"\nout-format = "UQ(4,4)"\n')
    code, _, err = run(["generate", "-o", str(tmp_path), "--config", str(cfg), "--width", "12",
                        "--frac", "6"], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "relu_axis.json").read_text())
    assert (m["input"]["width"], m["input"]["frac"], m["output"]["signed"]) == (12, 6, False)


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
    first, second = err.splitlines()
    assert first.startswith("relu-hw generate: error: ") and message in first
    assert second == "see relu-hw generate --help" and "Traceback" not in err
    assert not out_dir.exists()


def test_bad_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("lane = 3\n")
    code, _, err = run(["generate", "-o", str(tmp_path / "o"), "--config", str(cfg)], capsys)
    assert code == 2 and "unknown key 'lane'" in err


def _usage_error(tmp_path, capsys, argv, message, command=None):
    """Run ``argv``; check a two-line usage error: ``message`` on the first, the help on the
    second; exit status 2; nothing written."""
    out_dir = tmp_path / "never"
    command = command or argv[0]
    code, out, err = run([*argv, *(["-o", str(out_dir)] if argv[0] in
                                   ("generate", "build", "synth", "board") else [])], capsys)
    assert code == 2, err
    assert err.splitlines() == [f"relu-hw {command}: error: {message}",
                                f"see relu-hw {command} --help"]
    assert out == "" and not out_dir.exists()


HOSTILE = [
    # Argument types and choices: argparse's message, on two lines.
    (["generate", "--rounding", "nearest"],
     "Rounding mode must be one of 'floor', 'ceil', 'toward_zero', 'away', 'half_up', "
     "'half_down', 'half_toward_zero', 'half_away', 'half_even', or a framework's name for one "
     "such as 'AP_RND_CONV' or 'qonnx:HALF_UP', not 'nearest'"),
    # A framework's name that means something else here is taken only with its prefix.
    (["generate", "--rounding", "HALF_UP"],
     "Rounding mode 'HALF_UP' means different things in different tools (half_up: half_up, "
     "to nearest, ties toward plus infinity; qonnx:HALF_UP: half_away, to nearest, ties away "
     "from zero), so it is taken only as one of these spellings"),
    (["generate", "--rounding", "tf:ROUND"],
     "Rounding mode 'tf:ROUND' has an unknown framework prefix; prefixes are ap_fixed:, "
     "qonnx:, brevitas:, onnx:"),
    # Formats: one way each, and a type's modes are not contradicted.
    (["generate", "--in-format", "SQ(4,4)", "--frac", "2"],
     "The input format is given as --width/--frac and as --in-format; give it one way"),
    (["generate", "--out-format", "UQ(4,4)", "--out-precision", "ap_ufixed<8,4>"],
     "The output format is given as --out-format and as --out-precision; give it one way"),
    (["generate", "--in-format", "Q(4,4)"],
     "--in-format must be written SQ(i, f) (signed) or UQ(i, f) (unsigned), with i integer "
     "and f fractional bits, not 'Q(4,4)'"),
    (["generate", "--precision", "ap_fixed<8,10>"],
     "--precision 'ap_fixed<8,10>' has -2 fractional bits of 8; they must be 0 to the width "
     "(no integer bits below the point or beyond the width)"),
    (["generate", "--out-precision", "ap_fixed<8,4,AP_RND,AP_WRAP>", "--overflow", "saturate"],
     "--overflow saturate contradicts --out-precision ap_fixed<8,4,AP_RND,AP_WRAP>, whose "
     "mode is wrap; give one of them"),
    (["simulate", "--lanes", "four"], "argument --lanes: invalid int value: 'four'"),
    (["generate", "--config", "a.toml", "--config", "b.toml"],
     "--config given twice; give one file (options on the command line win over its keys)"),
    # Simulation options.
    (["simulate", "--beats", "0"], "--beats must be an integer from 1 to 1e+15, not 0"),
    (["simulate", "--seed=-5"], "--seed must be a non-negative integer, not -5"),
    (["simulate", "--valid-prob", "0"], "--valid-prob must be a probability in (0, 1], not 0.0"),
    (["simulate", "--ready-prob", "1.5"],
     "--ready-prob must be a probability in (0, 1], not 1.5"),
    (["simulate", "--max-idle-cycles", "0"],
     "--max-idle-cycles must be a positive integer, not 0"),
    (["simulate", "--verilog", "x.v"], "--verilog needs --backend verilator"),
    (["simulate", "--backend", "verilator", "--top", "m"],
     "--top names the top module of --verilog FILE; give the file too"),
    (["simulate", "--backend", "verilator", "--verilog", "no-such.v"],
     "--verilog no-such.v: no such file"),
    (["build", "--synth-target", "bogus"],
     "--synth-target must be one of ice40-up5k, ice40-hx8k, ecp5-25k, ecp5-45k, ecp5-85k, "
     "xilinx or none, not 'bogus'"),
    # Configurations a user would not mean.
    (["generate", "--name", "module"],
     "Name must not be a Verilog or SystemVerilog keyword, which tools would need escaped, "
     "not 'module'"),
    (["generate", "--kind", "leaky_relu", "--slope", "65535.9"],
     "Slope 65535.9 quantizes to 65536, which reaches 65536; slopes must stay below it in "
     "magnitude"),
    (["generate", "--kind", "leaky_relu", "--slope", "0.1", "--slope-frac", "0"],
     "Slope 0.1 quantizes to 0 with slope_frac 0, which loses the slope; slope_frac 3 is the "
     "fewest that keeps it"),
    (["generate", "--out-width", "4"],
     "Output fractional bits (out_frac) default to the input's (8), which do not fit an "
     "output width of 4; give out_frac from 0 to 4"),
    (["generate", "--max-value", "0.001", "--frac", "4"],
     "max_value 0.001 floors to 0 on the output grid (out_frac 4), which would make every "
     "output 0; it needs out_frac 10 or more"),
    # Absurd exponents are refused before they are expanded.
    (["generate", "--kind", "leaky_relu", "--slope", "1e999999999"],
     "Slope must have an exponent from -1000 to 1000, not '1e999999999'"),
    (["generate", "--kind", "thresholded_relu", "--threshold", "1e99999999"],
     "Threshold must have an exponent from -1000 to 1000, not '1e99999999'"),
    (["generate", "--max-value", "1e-99999999"],
     "max_value must have an exponent from -1000 to 1000, not '1e-99999999'"),
]


@pytest.mark.parametrize("argv, message", HOSTILE, ids=lambda v: v if isinstance(v, str)
                         else " ".join(v)[:40])
def test_usage_errors_take_two_lines_and_name_the_option(tmp_path, capsys, argv, message):
    start = time.monotonic()
    _usage_error(tmp_path, capsys, argv, message)
    assert time.monotonic() - start < 5       # refused, not worked on


def test_config_key_given_twice(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('out-width = 10\nout_width = 12\n')
    _usage_error(tmp_path, capsys, ["generate", "--config", str(cfg)],
                 f"--config {cfg}: 'out-width' and 'out_width' are the same option; give it "
                 f"once")


def test_undecodable_config_is_named(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"kind = '\xff'\n")
    code, _, err = run(["generate", "-o", str(tmp_path / "o"), "--config", str(cfg)], capsys)
    assert code == 2 and str(cfg) in err.splitlines()[0]


@pytest.mark.parametrize("target, message", [
    ("FILE", "-o: {tmp}/a-file is a file, not a folder"),
    ("/proc/x", "-o: /proc/x: cannot write in /proc (No such file or directory)"),
])
def test_output_folder_checked_first(tmp_path, capsys, target, message):
    (tmp_path / "a-file").write_text("")
    target = str(tmp_path / "a-file") if target == "FILE" else target
    code, out, err = run(["build", "-o", target], capsys)
    assert code == 2 and err.splitlines()[0] == \
        f"relu-hw build: error: {message.format(tmp=tmp_path)}"


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_unwritable_vcd_checked_first(tmp_path, capsys, backend):
    code, _, err = run(["simulate", "--backend", backend, "--vcd", "/proc/w.vcd"], capsys)
    assert code == 2 and err.splitlines()[0] == \
        "relu-hw simulate: error: --vcd: /proc: cannot write in /proc (No such file or directory)"


def test_unusable_cache_checked_first(monkeypatch, capsys):
    monkeypatch.setenv("RELU_HW_CACHE", "/proc/cache")
    code, _, err = run(["simulate", "--backend", "verilator"], capsys)
    assert code == 2 and "the Verilator model cache (set RELU_HW_CACHE to move it): " \
        "/proc/cache/verilator: cannot write in /proc" in err


def test_stalled_run_fails_clearly(capsys):
    # A sink that is ready once in a billion cycles: a clear failure, soon, not 3.5 GB.
    code, out, err = run(["simulate", "--ready-prob", "1e-9", "--beats", "2", "--backend",
                          "verilator", "--max-idle-cycles", "5000", "--json"], capsys)
    report = json.loads(out)
    assert code == 1 and not report["passed"]
    assert report["stopped"] == ("no output beat in 5,000 cycles (from cycle 0); the source "
                                 "offered a beat on 2 of them and the sink was ready on 0; "
                                 "raise the ready probability, or the idle cycle limit, to "
                                 "wait longer")


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, capsys):
    cli_main = importlib.import_module("relu_hw.cli.main")  # the module, not the function

    def broken(*args, **kwargs):
        raise RuntimeError("an invariant broke")
    monkeypatch.setattr(cli_main, "to_verilog", broken)
    code, _, err = run(["generate", "-o", "never"], capsys)
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("relu-hw generate: internal error: RuntimeError: an invariant broke")
    assert "--debug" in err
    with pytest.raises(RuntimeError, match="an invariant broke"):
        main(["generate", "-o", "never", "--debug"])


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


# By hand: 128 (e^x - 1) floors to -128 until e^x >= 1/128, x >= -ln 128 = -4.852, that is
# 1242.2 codes of 1/256; 16 * 1.7581 (e^x - 1) floors to -29 until it reaches -28, at
# e^x >= 0.00462, x >= -5.377 (86.03 codes of 1/16); an unsigned output saturates every
# negative value to 0, which needs no table.
@pytest.mark.parametrize("argv, table", [
    (["--kind", "elu", "--alpha", "0.5", "--rounding", "floor"], 1242),
    (["--kind", "selu", "--width", "8", "--frac", "4"], 86),
    (["--kind", "celu", "--alpha", "3/2", "--out-format", "UQ(8,8)"], 0),
])
def test_table_kinds(tmp_path, capsys, argv, table):
    code, _, err = run(["generate", "-o", str(tmp_path)] + argv, capsys)
    assert code == 0, err
    m = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert m["table"]["entries"] == table


@pytest.mark.parametrize("argv, message", [
    (["--kind", "elu", "--width", "20"], "Kind 'elu' takes input widths up to 16 bits"),
    (["--kind", "selu", "--alpha", "2"], "alpha applies to kind elu or celu only, not 'selu'"),
    (["--kind", "celu", "--alpha", "-1"], "alpha must be from 2^-16 to below 2^16, not '-1'"),
    (["--kind", "elu", "--out-format", "UQ(8,8)", "--overflow", "wrap"],
     "Overflow 'wrap' into an unsigned output would turn every negative value"),
])
def test_table_kind_errors(tmp_path, capsys, argv, message):
    code, _, err = run(["generate", "-o", str(tmp_path / "out")] + argv, capsys)
    assert code == 2 and message in err.splitlines()[0], err
    assert not (tmp_path / "out").exists()
