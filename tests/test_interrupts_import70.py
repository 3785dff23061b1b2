"""A Ctrl-C while onnxruntime's extension module initialises is a Ctrl-C, not "onnxruntime is not installed":
pybind11 turns a KeyboardInterrupt raised there into ``ImportError: initialization failed``, and the onnxruntime
backend (every command that embeds: embed, probe, serve) said "needs onnxruntime: pip install onnxruntime".
A subprocess (the extension cannot be imported twice in one process), about 1-2 s."""
import os
import subprocess
import sys

FINDER = """
import signal, sys
fired = []
class CtrlCInOnnxruntimeInit:   # a Ctrl-C as it lands in the extension module's init, as pybind11 reports it
    def find_spec(self, name, path=None, target=None):
        if name == "onnxruntime.capi.onnxruntime_pybind11_state" and not fired:
            fired.append(1)
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt as exc:
                raise ImportError("initialization failed") from exc
        return None
sys.meta_path.insert(0, CtrlCInOnnxruntimeInit())
"""
SCRIPT = FINDER + """
from encoders.backends import OnnxRuntimeBackend
from encoders.errors import EncoderError
try:
    OnnxRuntimeBackend("missing.onnx")
except KeyboardInterrupt:
    print("interrupted", "onnxruntime" in sys.modules)
except EncoderError as exc:
    print("error:", exc)
"""


def test_a_ctrl_c_during_the_onnxruntime_import_is_a_ctrl_c():
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert res.stdout.strip() == "interrupted True", (res.stdout, res.stderr[-2000:])
