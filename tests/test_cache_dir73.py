"""The export cache on machines that are not ours: a user with no home (HOME unset and no passwd entry, as
``docker run --user N``: ``Path.home()`` raises) gets a cache in the temporary directory, and where the cache is not
writable the per-process folder of exports is one folder, removed when the process exits (each run left 5-9 MB
``biosig-onnx-*`` folders behind)."""
import os
import pathlib
import subprocess
import sys
import tempfile

from encoders import backend_cache


def test_no_home_falls_back_to_the_temporary_directory(monkeypatch):
    monkeypatch.delenv("BIOSIG_CACHE_DIR", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")
    monkeypatch.setattr(pathlib.Path, "home", staticmethod(no_home))
    assert backend_cache.cache_dir() == pathlib.Path(tempfile.gettempdir()) / f"biosig-cache-{os.getuid()}"
    monkeypatch.setenv("BIOSIG_CACHE_DIR", "/x/y")
    assert backend_cache.cache_dir() == pathlib.Path("/x/y")


def test_the_per_process_export_folder_is_one_and_is_removed_at_exit():
    code = ("from encoders.backend_cache import _process_folder\n"
            "a, b = _process_folder(), _process_folder()\n"
            "assert a == b and a.is_dir()\n"
            "(a / 'm.onnx').write_bytes(b'x' * 1000)\n"
            "print(a)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=pathlib.Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr[-2000:]
    folder = pathlib.Path(r.stdout.strip())
    assert folder.name.startswith("biosig-onnx-") and not folder.exists()
