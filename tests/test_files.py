# SPDX-License-Identifier: Apache-2.0
"""Output sets written atomically; TOML read with errors that name the file."""

import os
import subprocess
import sys

import pytest

from relu_hw.files import read_toml, write_files


def test_write_files(tmp_path):
    out = tmp_path / "a" / "b"
    paths = write_files(out, {"x.v": "one", "x.json": "two", "x.bin": b"\x00\x01"})
    assert [p.read_bytes() for p in paths] == [b"one", b"two", b"\x00\x01"]
    assert sorted(os.listdir(out)) == ["x.bin", "x.json", "x.v"]  # no temporary files left
    # Ordinary permissions, not a private temporary file's.
    assert paths[0].stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_set_renames_nothing_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "old.v").write_text("old")

    class Unwritable(str):
        def encode(self):
            raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        write_files(tmp_path, {"old.v": "new", "old.json": Unwritable("x")})
    assert sorted(os.listdir(tmp_path)) == ["old.v"]
    assert (tmp_path / "old.v").read_text() == "old"


def test_read_toml_names_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("kind = \n")
    with pytest.raises(ValueError, match=f"{path} is not valid TOML"):
        read_toml(path)
    path.write_bytes(b"kind = \"\xff\"\n")
    with pytest.raises(ValueError, match=f"{path} is not UTF-8 text|{path} is not valid TOML"):
        read_toml(path)
    with pytest.raises(ValueError, match="Cannot read .*missing.toml"):
        read_toml(tmp_path / "missing.toml")


_WRITER = """
import sys
from relu_hw.files import write_files
folder, tag = sys.argv[1], sys.argv[2]
body = (tag * 64 + "\\n") * (3 * 1024 * 1024 // 65)
for i in range(200):
    text = f"BEGIN {tag} {i}\\n" + body
    write_files(folder, {"big.v": text + f"END {len(text)}\\n"})
"""


def test_two_writers_never_crash_and_a_reader_never_sees_a_part(tmp_path):
    # Two processes write the same 3 MB file 200 times each while this one reads it.
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), tag],
                                stderr=subprocess.PIPE, text=True) for tag in "ab"]
    reads = 0
    while any(w.poll() is None for w in writers):
        try:
            text = (tmp_path / "big.v").read_text()
        except FileNotFoundError:
            continue
        head, _, rest = text.partition("\n")
        body, _, trailer = text[:-1].rpartition("\n")
        assert head.startswith("BEGIN ") and trailer == f"END {len(body) + 1}", \
            "a reader saw a file that was not whole"
        reads += 1
    assert [(w.returncode, w.stderr.read()) for w in writers] == [(0, ""), (0, "")]
    assert reads > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.v"]
