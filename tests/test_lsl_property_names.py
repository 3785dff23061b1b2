"""``biosig bridge lsl --prop`` with a name no LSL stream has is refused at once, with the name meant.

Found by the README walk (session 65): ``--prop typ --value ECG`` looked for two seconds and said only that no
stream was found. The check comes before pylsl is loaded, so these run where pylsl is not installed too.
"""
from __future__ import annotations

import pytest

from biosig.cli import main
from streams.errors import StreamError
from streams.lsl import LSL_PROPERTIES, bridge_lsl_in, check_lsl_property


def test_a_misspelt_property_names_the_one_meant():
    with pytest.raises(StreamError, match="'typ' is no LSL stream property: did you mean 'type'"):
        bridge_lsl_in(prop="typ", value="ECG", resolve_s=0.1)


def test_a_word_near_no_property_lists_what_streams_have():
    with pytest.raises(StreamError) as err:
        check_lsl_property("modality")
    assert "did you mean" not in str(err.value) and "name, type, channel_count" in str(err.value)
    with pytest.raises(StreamError):
        check_lsl_property("desc/")


def test_every_stream_info_field_and_description_elements_pass():
    for prop in LSL_PROPERTIES + ("desc/manufacturer", "desc/channels/channel/label"):
        check_lsl_property(prop)


def test_the_cli_says_it_in_one_line_and_exits_2(capsys):
    code = main(["bridge", "lsl", "--prop", "sourceid", "--value", "x", "--resolve-s", "5", "--seconds", "1",
                 "--ingest", "tcp://127.0.0.1:5999"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'source_id'" in err and err.count("\n") == 1, err
