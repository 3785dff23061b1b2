"""The command lines the README and docs/ show run as written when a user follows them in order in one folder:
no two of them write the same ``--out`` where the second would be refused (``simulate``, ``embed``, ``export`` and
``compile`` refuse an existing file, ``pretrain`` a folder holding a checkpoint, ``score`` a folder of another job),
and every ``../shared/data/...`` path they name exists. The first drifted: the README's GPU section embedded into
the ``emb.parquet`` its research section had just written (refused: it already exists)."""
from __future__ import annotations

import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = ROOT.parent / "shared" / "data"
# commands whose --out a second, different command line may not reuse
_REFUSE = r"simulate|embed|export|compile|pretrain|score"
_CMD = re.compile(rf"\bbiosig(?:\.cli)? (?:{_REFUSE})\b[^`#\n]*")
_SHARED_PATH = re.compile(r"\.\./shared/data/[\w./*-]*[\w*]")


def _lines(path: pathlib.Path):
    """(line number, text) of the shell lines a user copies: fenced non-Python blocks and `biosig ...` code spans."""
    fenced, lang, held = False, "", ""
    for no, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced, lang = not fenced, line.strip()[3:]
            continue
        if fenced and lang not in ("python", "toml"):
            line = held + line.split(" # ")[0]
            held = line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else ""
            if not held:
                yield no, line
        elif not fenced:
            for m in re.finditer(r"`(biosig [^`]+)`", line):
                yield no, m.group(1)


def commands_by_out(paths=None) -> dict[str, list[tuple[str, str]]]:
    """``--out`` value -> [(file:line, command line)] of every shown command that refuses a taken ``--out``."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in paths or DOCS:
        for no, text in _lines(path):
            for m in _CMD.finditer(text):
                out = re.search(r"--out[ =](\S+)", m.group(0))
                if out:
                    where, command = f"{path.name}:{no}", " ".join(m.group(0).split())
                    found.setdefault(out.group(1).rstrip(";"), []).append((where, command))
    return found


def reused_outs(paths=None) -> list[str]:
    return [f"--out {out}: " + "; ".join(f"{w} `{c}`" for w, c in uses)
            for out, uses in commands_by_out(paths).items() if len({c for _, c in uses}) > 1]


def test_no_two_shown_commands_write_one_out():
    found = commands_by_out()
    assert len(found) >= 15, sorted(found)       # the scan still sees the docs' command lines
    assert not reused_outs(), "\n".join(reused_outs())


def test_every_shared_data_path_the_docs_name_exists():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    named = {(f"{p.name}:{text[:m.start()].count(chr(10)) + 1}", m.group(0).rstrip("."))
             for p in [*DOCS, *sorted(ROOT.glob("encoders/*/*/MODEL_CARD.md"))]
             for text in [p.read_text()] for m in _SHARED_PATH.finditer(text)}
    assert len(named) >= 20
    # a WFDB record is named without its extension
    missing = [f"{where}: {rel}" for where, rel in sorted(named)
               if not any(ROOT.parent.glob(rel[3:])) and not any(ROOT.parent.glob(rel[3:] + ".hea"))]
    assert not missing, "\n".join(missing)


def test_the_scan_catches_a_reused_out(tmp_path, monkeypatch):
    doc = tmp_path / "x.md"
    doc.write_text("```sh\nbiosig embed a --model ecg-tiny --out emb.parquet   # first\n"
                   "biosig score d --out runs/s\nbiosig score d --out runs/s\n```\n"
                   "Then `biosig embed b --model x.onnx --out emb.parquet` and `biosig export m --out e.onnx`.\n"
                   "```python\nbiosig embed(c, out='emb.parquet')  --out emb.parquet\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "DOCS", [doc])
    assert sorted(commands_by_out()) == ["e.onnx", "emb.parquet", "runs/s"]
    assert reused_outs() == ["--out emb.parquet: x.md:2 `biosig embed a --model ecg-tiny --out emb.parquet`; "
                             "x.md:6 `biosig embed b --model x.onnx --out emb.parquet`"]
