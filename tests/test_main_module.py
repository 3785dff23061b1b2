"""``python -m biosig`` is the ``biosig`` command: the console script of pyproject.toml
(``biosig = biosig.cli:main``, which a pip-made script runs as ``sys.exit(main())``) gives the same
output and exit codes; importing ``biosig.__main__`` runs nothing (layering: biosig.cli is the
composition root, loaded only when run)."""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = "import sys; from biosig.cli import main; sys.exit(main())"   # what the biosig script runs


def _run(args, *command):
    return subprocess.run([sys.executable, *command, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_the_console_script_is_biosig_cli_main():
    assert 'biosig = "biosig.cli:main"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("args, rc", [(["--help"], 0),
                                      (["info", "no-such-recording.csv"], 2),   # a refusal: one line, exit 2
                                      (["--no-such-option"], 2),
                                      ([], 2)])
def test_python_m_biosig_does_what_the_biosig_command_does(args, rc):
    module = _run(args, "-m", "biosig")
    script = _run(args, "-c", CONSOLE_SCRIPT)
    assert (module.returncode, module.stdout, module.stderr) == (script.returncode, script.stdout, script.stderr)
    assert module.returncode == rc
    if args == ["--help"]:
        assert module.stdout.startswith("usage: biosig ")
    elif args[:1] == ["info"]:
        assert module.stderr.startswith("biosig info: error: no-such-recording.csv") and "Traceback" not in module.stderr


def test_importing_biosig_main_runs_nothing_and_loads_nothing_above_biosig():
    code = ("import sys, biosig.__main__; "
            "above = {m.split('.')[0] for m in sys.modules} & {'encoders', 'realtime', 'streams', 'torch', 'zmq'}; "
            "print(' '.join(sorted(above | ({'biosig.cli'} & set(sys.modules)))))")
    out = _run([], "-c", code)
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr
