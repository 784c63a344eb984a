# SPDX-License-Identifier: Apache-2.0
"""The register map (relu_hw.regmap) and its files (relu_hw.regdocs)."""

import json
from fractions import Fraction

import pytest

from relu_hw.regdocs import compile_systemrdl, regmap_file_names, regmap_files
from relu_hw.regmap import COUNTERS, MAGIC, RegisterMap
from relu_hw.spec import KINDS, OVERFLOW_MODES, ROUNDING_MODES, Spec
from relu_hw.tools import ToolError

LEAKY = Spec(kind="leaky_relu", slope="-0.3", lanes=3, width=12, frac=6, out_width=10,
             out_frac=4, max_value="6", rounding="half_even", stages=2, control="axi-lite",
             runtime="slope,max_value")
PRELU = Spec(kind="prelu", lanes=3, channels=9, slopes=[str(i / 8 - 0.5) for i in range(9)],
             control="axi-lite", runtime="slope", overflow="wrap")
THRESHOLD = Spec(kind="thresholded_relu", threshold="-0.75", width=8, frac=4, lanes=2,
                 control="axi-lite", runtime="threshold")


@pytest.mark.parametrize("spec", [LEAKY, PRELU, THRESHOLD], ids=lambda s: s.kind)
def test_offsets_aligned_unique_and_in_range(spec):
    regmap = RegisterMap(spec)
    offsets = [r.offset for r in regmap]
    assert offsets == sorted(set(offsets))
    assert all(o % 4 == 0 and o < 1 << regmap.address_width for o in offsets)
    for r in regmap:
        bits = [b for f in r.fields for b in range(f.lsb, f.lsb + f.width)]
        assert len(bits) == len(set(bits)) and max(bits) < 32, r.name


def test_config_words_describe_the_spec():
    regmap = RegisterMap(LEAKY)

    def field(reg, name):
        f = next(f for f in regmap[reg].fields if f.name == name)
        return f.code(regmap[reg].reset)
    assert regmap["ID"].reset >> 16 == MAGIC
    assert list(KINDS)[field("CONFIG0", "KIND")] == "leaky_relu"
    assert list(ROUNDING_MODES)[field("CONFIG0", "ROUNDING")] == "half_even"
    assert list(OVERFLOW_MODES)[field("CONFIG0", "OVERFLOW")] == "saturate"
    assert (field("CONFIG0", "RUNTIME_SLOPE"), field("CONFIG0", "RUNTIME_MAX_VALUE"),
            field("CONFIG0", "RUNTIME_THRESHOLD"), field("CONFIG0", "HAS_MAX_VALUE")) == \
        (1, 1, 0, 1)
    assert [field("CONFIG1", n) for n in ("IN_WIDTH", "IN_FRAC", "OUT_WIDTH", "OUT_FRAC")] == \
        [12, 6, 10, 4]
    assert [field("CONFIG2", n) for n in ("LANES", "STAGES")] == [3, 2]
    assert field("CONFIG3", "SLOPE_FRAC") == LEAKY.slope_frac == 14
    assert field("CONFIG3", "CHANNELS") == 0
    assert RegisterMap(PRELU)["CONFIG3"].fields[0].code(RegisterMap(PRELU)["CONFIG3"].reset) == 9


def test_parameter_fields_are_fixed_point_with_build_time_resets():
    regmap = RegisterMap(LEAKY)
    slope = regmap["SLOPE"].fields[0]
    assert (slope.signed, slope.frac, slope.width) == (True, 14, 16)
    assert Fraction(slope.code(regmap["SLOPE"].reset), 1 << 14) == LEAKY.lane_slopes[0].value
    clip = regmap["MAX_VALUE"].fields[0]
    assert (clip.signed, clip.frac, clip.width) == (False, 4, 9)
    assert clip.code(regmap["MAX_VALUE"].reset) == 96          # 6 on the output grid
    t = RegisterMap(THRESHOLD)["THRESHOLD"].fields[0]
    assert (t.signed, t.frac, t.width) == (True, 4, 9)
    assert t.code(RegisterMap(THRESHOLD)["THRESHOLD"].reset) == -12
    assert "THRESHOLD" not in regmap and "SLOPE" not in RegisterMap(THRESHOLD)


def test_which_counters_exist():
    names = {r.name for r in RegisterMap(LEAKY)}
    for counter in COUNTERS:
        assert {f"{counter}{k}" for k in range(3)} <= names
    prelu = {r.name for r in RegisterMap(PRELU)}
    # No clip: no CLIPS; wrap: no saturation counters.
    assert not any(n.startswith(("CLIPS", "SAT_")) for n in prelu)
    alive = RegisterMap(LEAKY)["ALIVE"]
    assert [(f.name, f.lsb, f.width) for f in alive.fields] == [
        (f"LANE{k}", k, 1) for k in range(3)]


def test_per_channel_slopes_with_lanes_not_a_power_of_two():
    regmap = RegisterMap(PRELU)
    assert regmap.slope_lanes_stride == 4
    # Channel c at word (c // 3) * 4 + c % 3 of the slope region.
    assert [regmap[f"SLOPE{c}"].offset - 0x8000 for c in range(6)] == [0, 4, 8, 16, 20, 24]
    assert regmap.address_width == 16
    assert regmap["SLOPE5"].fields[0].code(regmap["SLOPE5"].reset) == \
        PRELU.channel_slopes[5].code << (PRELU.slope_frac - PRELU.channel_slopes[5].frac)


def test_json_states_signed_frac_and_reset_values():
    data = json.loads(regmap_files(LEAKY)[regmap_file_names(LEAKY)["json"]])
    assert data["data_width"] == 32 and data["address_width"] == 12
    regs = {r["name"]: r for r in data["registers"]}
    assert regs["SLOPE"]["fields"][0]["signed"] is True
    assert regs["SLOPE"]["fields"][0]["frac"] == 14
    assert Fraction(regs["SLOPE"]["fields"][0]["reset_value"]) == LEAKY.lane_slopes[0].value
    assert regs["MAX_VALUE"]["fields"][0]["reset_value"] == "6"
    assert regs["ID"]["access"] == "ro" and regs["CONTROL"]["access"] == "rw"
    assert [f["name"] for f in regs["CONTROL"]["fields"]] == ["CLEAR", "SNAPSHOT"]


def test_files_are_produced_and_validated():
    files = regmap_files(PRELU)
    names = regmap_file_names(PRELU)
    assert set(files) == set(names.values())
    header = files[names["c_header"]]
    assert "PRELU_AXIS__SLOPE8__VALUE_bm" in header and "uint32_t SLOPE8;" in header
    assert "SLOPE8" in files[names["markdown"]]
    assert "<ipxact:name>SLOPE8</ipxact:name>" in files[names["ipxact"]]
    assert regmap_files(PRELU) == files            # deterministic


def test_systemrdl_errors_are_reported():
    with pytest.raises(ToolError, match="systemrdl-compiler failed"):
        compile_systemrdl("addrmap broken { reg { field {} f[40:0]; } r; };")


def test_a_block_without_control_has_no_registers():
    with pytest.raises(ValueError, match="control 'none' has no registers"):
        RegisterMap(Spec())
