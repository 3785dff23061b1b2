"""Every error a user can cause survives pickling whole: worker processes (``biosig score
--workers``, ``biosig probe --jobs``, Ray actors) hand their errors to the parent that way, and an
error that cannot be rebuilt there turns one clear line into a pool failure."""
from __future__ import annotations

import importlib
import inspect
import pickle

import pytest

from biosig.errors import BiosigError

ERROR_MODULES = ("biosig.errors", "encoders.errors", "encoders.scoring.errors", "realtime.errors",
                 "streams.errors")


def _all_subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out += [sub] + _all_subclasses(sub)
    return out


def _error_classes():
    for name in ERROR_MODULES:
        importlib.import_module(name)
    return sorted({c for c in [BiosigError] + _all_subclasses(BiosigError)
                   if c.__module__.split(".")[0] in ("biosig", "encoders", "realtime", "streams", "kernels")},
                  key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _instance(cls):
    """``cls`` built with a distinct text for every parameter of its constructor."""
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not params:   # Exception.__init__(*args): one message
        return cls("something the user did wrong")
    return cls(*[f"{p.name}-value" for p in params])


def test_the_error_modules_define_the_expected_classes():
    names = {c.__name__ for c in _error_classes()}
    assert {"BiosigError", "ReadError", "WriteError", "SignalError", "PipelineError", "EncoderError",
            "CheckpointError", "ForecastError", "StreamError", "ProtocolError"} <= names


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_error_round_trips_through_pickle(cls):
    exc = _instance(cls)
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls
    assert str(back) == str(exc)
    assert vars(back) == vars(exc)


def test_read_error_keeps_its_path_and_problem():
    from biosig.errors import ReadError
    back = pickle.loads(pickle.dumps(ReadError("rec/100.hea", "truncated signal file")))
    assert (back.path, back.problem, str(back)) == ("rec/100.hea", "truncated signal file",
                                                     "rec/100.hea: truncated signal file")


def test_protocol_error_keeps_its_reason_and_stream():
    from streams.errors import ProtocolError
    back = pickle.loads(pickle.dumps(ProtocolError("bad_dtype", "dtype '<f2' is not allowed", "bed1/ecg")))
    assert (back.reason, back.stream, str(back)) == ("bad_dtype", "bed1/ecg", "bad_dtype: dtype '<f2' is not allowed")
