# SPDX-License-Identifier: Apache-2.0
"""Files: output sets written atomically, TOML and JSON."""

import json
import os
import secrets
import tempfile
import tomllib
from pathlib import Path

__all__ = ["write_files", "read_toml", "to_json", "check_folder", "check_file"]


def to_json(obj):
    """``obj`` as indented JSON text with a final newline."""
    return json.dumps(obj, indent=2) + "\n"


def read_toml(path):
    """The table in TOML file ``path``; :exc:`ValueError` naming the file if it can't be read,
    decoded or parsed."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ValueError(f"Cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path} is not valid TOML: {e}") from None


def check_folder(path):
    """That a folder can be made, or written into, at ``path``, checked without leaving
    anything behind; :exc:`ValueError` with a sentence naming the path if not."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} is a file, not a folder")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{path}: {existing} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".relu-hw-check.", dir=existing))
    except OSError as e:
        raise ValueError(f"{path}: cannot write in {existing} ({e.strerror})") from None
    return path


def check_file(path):
    """That a file can be written at ``path`` (its folder made if need be), checked without
    leaving anything behind; :exc:`ValueError` with a sentence naming the path if not."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file")
    check_folder(path.parent)
    return path


def write_files(outdir, files):
    """Write ``{filename: text or bytes}`` into folder ``outdir`` (created if needed) as one
    set: every file is first written under a temporary name unique to this call, then all are
    renamed into place. A reader sees each file old or whole, never a part; several processes
    may write the same files at once; if writing any file fails, none is renamed, and no
    temporary file stays behind. Returns the paths written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for filename in files:
        if (outdir / filename).is_dir():
            raise ValueError(f"{outdir / filename} is a folder, not a file")
    token = f"{os.getpid()}.{secrets.token_hex(4)}"
    staged = []
    try:
        for filename, content in files.items():
            tmp = outdir / f".{filename}.{token}.tmp"
            staged.append((tmp, outdir / filename))
            # Mode "x": a new file with the usual permissions, never someone else's.
            with open(tmp, "xb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [final for _, final in staged]
