"""Which cases run: the full and quick matrices, overrides, and parsing of the CLI lists."""

from __future__ import annotations

import pytest

from rtstyle.bench import matrix
from rtstyle.bench.matrix import Case
from rtstyle.errors import ConfigError, InputError


def test_the_full_matrix_is_every_combination():
    cases = matrix.cases()
    assert len(cases) == len(matrix.BACKENDS) * 3 * 4 * 2 == 168
    assert len({c.key for c in cases}) == 168
    assert Case("ort-trt-fp16", "full", 1280, 720, 1) in cases
    assert Case("torch-compile-fp16", "wct", 1920, 1080, 8) in cases  # skipped later, not dropped


def test_the_quick_matrix():
    cases = matrix.cases(quick=True)
    keys = [c.key for c in cases]
    assert {c.backend for c in cases} == {"ort-cpu-fp32", "ort-cpu-int8", "torch-eager-fp32"}
    assert {c.size for c in cases} == {"256x256", "640x360"}
    assert "ort-cpu-fp32/lite/256x256/b8" in keys and "torch-eager-fp32/lite/256x256/b8" in keys
    assert "ort-cpu-fp32/wct/640x360/b1" in keys and "ort-cpu-int8/wct/640x360/b1" in keys
    assert len(cases) == 3 * 3 * 2 + 3
    # grouped by backend then net (one session per group), small sizes first
    assert keys[:5] == ["ort-cpu-fp32/full/256x256/b1", "ort-cpu-fp32/full/640x360/b1",
                        "ort-cpu-fp32/lite/256x256/b1", "ort-cpu-fp32/lite/256x256/b8",
                        "ort-cpu-fp32/lite/640x360/b1"]


def test_overrides_replace_one_axis():
    cases = matrix.cases(quick=True, backends=("ort-cpu-fp32",), nets=("lite",),
                         sizes=((64, 48),), batches=(1, 2))
    assert [c.key for c in cases] == ["ort-cpu-fp32/lite/64x48/b1", "ort-cpu-fp32/lite/64x48/b2"]
    full = matrix.cases(nets=("wct",), sizes=((1280, 720),))
    assert {c.net for c in full} == {"wct"} and {c.batch for c in full} == {1, 8}


def test_case_key_and_precision():
    c = Case("ort-cuda-fp16", "full", 1920, 1080, 8)
    assert c.key == "ort-cuda-fp16/full/1920x1080/b8" and c.size == "1920x1080"
    assert c.precision == "fp16"
    assert Case("ort-cpu-int8", "wct", 640, 360).precision == "int8"


def test_backend_names_and_aliases():
    assert matrix.parse_backends(["ort-cpu", "torch"]) == ("ort-cpu-fp32", "torch-eager-fp32")
    assert matrix.parse_backends(["ort-cuda", "ort-cuda-fp16"]) == ("ort-cuda-fp32",
                                                                     "ort-cuda-fp16")
    with pytest.raises(ConfigError, match="unknown benchmark backend 'ort-cpx'.*did you mean"):
        matrix.parse_backends(["ort-cpx"])


@pytest.mark.parametrize("text, size", [("1280x720", (1280, 720)), (" 640X360 ", (640, 360))])
def test_sizes(text, size):
    assert matrix.parse_size(text) == size


@pytest.mark.parametrize("text, needle", [("640", "must look like"), ("axb", "must look like"),
                                          ("640x360x2", "must look like"),
                                          ("8x8", "at least 16x16"), ("10000x10000", "8K")])
def test_bad_sizes(text, needle):
    with pytest.raises(InputError, match=needle):
        matrix.parse_size(text)


def test_nets_and_batches():
    assert matrix.parse_nets(["LITE", "wct", "lite"]) == ("lite", "wct")
    assert matrix.parse_nets(["lite-aa", "lite"]) == ("lite-aa", "lite")
    assert all(c.net in matrix.NETS for c in matrix.cases())  # the -aa nets are opt-in
    with pytest.raises(ConfigError, match="unknown net 'ful'"):
        matrix.parse_nets(["ful"])
    assert matrix.parse_batches(["1", "8", "1"]) == (1, 8)
    for bad in ("0", "x", "1000"):
        with pytest.raises(InputError, match="batch size"):
            matrix.parse_batches([bad])
