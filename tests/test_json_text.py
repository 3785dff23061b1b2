"""biosig.json_text: what biosig prints or writes as JSON is strict JSON (no NaN / Infinity)."""
import json
import math

import numpy as np
import pytest

from biosig import json_text


def _strict(text):
    def refuse(constant):
        raise ValueError(constant)
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_and_numpy_becomes_plain():
    obj = {"p50": math.nan, "max": -math.inf, "n": np.int64(0), "q": np.float32(0.5),
           "v": np.array([1.0, np.nan, np.inf]), "t": (1, np.float64("nan")), "s": "NaN", "b": True, "z": None}
    back = _strict(json_text.dumps(obj, indent=1, sort_keys=True))
    assert back == {"p50": None, "max": None, "n": 0, "q": 0.5, "v": [1.0, None, None], "t": [1, None],
                    "s": "NaN", "b": True, "z": None}
    with pytest.raises(ValueError):              # the stdlib's default is not strict: why this exists
        _strict(json.dumps(obj["p50"]))


def test_what_cannot_be_json_is_still_refused():
    with pytest.raises(TypeError):
        json_text.dumps({"x": object()})
    assert _strict(json_text.dumps({"x": object()}, default=str))["x"].startswith("<object")
