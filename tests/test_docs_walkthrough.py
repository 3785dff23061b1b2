"""The README followed top to bottom as a new user follows it: every Python block compiles, the shell
blocks' commands are said where they come from (`.venv`), and every file a shell command reads is in
the repository, in ../shared/data, or written before by a command shown above it (``--out``,
``--plot``), so that each step runs as shown. test_docs_options.py checks the options themselves."""
from __future__ import annotations

import fnmatch
import pathlib
import re
import shlex

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared" / "data"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
_FILE = re.compile(r"\.(csv|tsv|parquet|onnx|plan|wav|flac|mp3|png|pdf|svg|npy|json|toml|hea|edf)$")
_WRITES = {"--out", "--plot"}
_LOOP = re.compile(r"^for (\w+) in ([^;]+); do (.+); done$")


def blocks(text: str, lang: str) -> list[str]:
    """The bodies of the fenced blocks of one language, in order."""
    return [m.group(1) for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)]


def commands(body: str) -> list[list[str]]:
    """Each command line of a shell block as tokens: continuations joined, comments and a trailing
    ``&`` dropped, ``for V in a b; do CMD; done`` unrolled."""
    out = []
    for line in body.replace("\\\n", " ").splitlines():
        line = " ".join(shlex.split(line, comments=True))
        loop = _LOOP.match(line)
        cmds = [loop.group(3).replace(f"${loop.group(1)}", v) for v in loop.group(2).split()] if loop else [line]
        out += [shlex.split(c.removesuffix("&")) for c in cmds if c.strip()]
    return out


def unreadable(text: str, shared: bool) -> list[str]:
    """Files the README's shell commands read that nothing provides, as ``command: file``. Paths under
    ../shared/data are checked only when ``shared`` (the folder is there)."""
    written: set[str] = set()
    wrong = []
    for body in blocks(text, "sh"):
        for tokens in commands(body):
            outputs = {t for prev, t in zip(tokens, tokens[1:]) if prev in _WRITES}
            option = ""
            for t in tokens[1:]:
                option = t if t.startswith("-") else option
                if (t in outputs or option == "--topics"      # topics (emb/) are no folders
                        or not (_FILE.search(t) or t.startswith("../shared/data") or t.endswith("/"))):
                    continue
                if t.startswith("../shared/data"):
                    found = not shared or any(ROOT.glob(t)) or any(ROOT.glob(t + ".*"))
                else:
                    found = any(fnmatch.fnmatch(w, t) for w in written) or any(ROOT.glob(t))
                if not found:
                    wrong.append(f"{' '.join(tokens[:2])}: {t}")
            written |= outputs
    return wrong


def test_python_blocks_compile():
    bad = []
    for path in DOCS:
        for body in blocks(path.read_text(), "python"):
            try:
                compile(body, str(path), "exec")
            except SyntaxError as e:
                bad.append(f"{path.name}: {e.msg}: {body.splitlines()[e.lineno - 1]!r}")
    assert not bad, "Python blocks a reader cannot paste (shell lines belong in a sh block):\n" + "\n".join(bad)


def test_readme_commands_read_files_that_exist_or_were_written_before():
    wrong = unreadable(README.read_text(), shared=False)
    assert not wrong, ("README commands read files nothing before them writes (show the command that "
                       "makes them, or use a file in the repository):\n" + "\n".join(wrong))


def test_readme_shared_recordings_exist():
    if not SHARED.is_dir():
        pytest.skip(f"shared recordings not present at {SHARED}")
    wrong = [w for w in unreadable(README.read_text(), shared=True) if "../shared/data" in w]
    assert not wrong, "README commands name recordings ../shared/data does not hold:\n" + "\n".join(wrong)


def test_readme_says_where_the_commands_come_from():
    text = README.read_text()
    first = min(m.start() for m in re.finditer(r"^```sh\n(biosig|python|torchrun) ", text, re.M))
    assert ".venv/bin/activate" in text[:first], \
        "the README shows `biosig` commands before it says how to put .venv/bin on the PATH"


def test_the_walk_catches_a_file_nothing_writes():
    text = ("```sh\nbiosig simulate ecg --seconds 30 --out a.parquet   # a file\n"
            "for i in 1 2; do biosig simulate spiro --seconds 15 --seed $i --out b$i.csv; done\n"
            "biosig info a.parquet &\nbiosig spiro b1.csv b2.csv b3.csv b*.csv \\\n    --plot p.png\n"
            "biosig score archive/ --out runs/x\nbiosig listen --topics emb/ fcst/\n```\n"
            "```python\nbiosig info c.csv\n```\n")
    assert commands(blocks(text, "sh")[0])[1] == shlex.split("biosig simulate spiro --seconds 15 --seed 1 --out b1.csv")
    assert unreadable(text, shared=False) == ["biosig spiro: b3.csv", "biosig score: archive/"]
    with pytest.raises(SyntaxError):
        compile(blocks(text, "python")[0], "x", "exec")
