"""A device whose frame counter is 16 bits wide wraps to 0 every 65536 frames: each wrap was judged a
publisher restart, which restarted a windowed stream's filters and windows (a window's length
without an embedding at every wrap). Now the wrap is the next frame, or a gap of the frames skipped over it;
a sequence that goes back anywhere else is still a restart or late (InputStream, no sockets)."""
import numpy as np

from streams import protocol
from streams.ingest import InputStream

FS_HZ = 25.0


def _stream(first_seq):
    h = protocol.signal_header("room1/marker", first_seq, 7, 1000.0, FS_HZ, ["x"], ["mm"], "motion")
    return InputStream({**h, "dtype": "<f4"}, None)


def _feed(st, seqs, t0=1000.0):
    verdicts = []
    for k, seq in enumerate(seqs):
        t = t0 + k / FS_HZ
        verdicts.append(st.sequence(seq, t))
        st.last_t_s, st.last_t0_s = t, t
    return verdicts


def test_a_16_bit_counter_wrapping_is_the_next_frame_not_a_restart():
    st = _stream(65533)
    assert _feed(st, [65533, 65534, 65535, 0, 1, 2]) == ["ok"] * 6
    assert (st.stats.restarts, st.stats.gaps, st.stats.missing) == (0, 0, 0)


def test_frames_lost_over_the_wrap_are_a_gap_with_their_count():
    st = _stream(65533)
    assert _feed(st, [65533, 65534, 1, 2]) == ["ok", "ok", "gap", "ok"]   # 65535 and 0 lost
    assert (st.stats.restarts, st.stats.gaps, st.stats.missing) == (0, 1, 2)


def test_8_and_32_bit_counters_wrap_too():
    for top in (255, 2**32 - 1):
        st = _stream(top - 1)
        assert _feed(st, [top - 1, top, 0]) == ["ok"] * 3, top


def test_going_back_elsewhere_is_still_a_restart_or_late():
    st = _stream(500)
    assert _feed(st, [500, 501, 0]) == ["ok", "ok", "restart"]   # 501 is no counter's top
    st = _stream(65533)
    v = [st.sequence(65533, 1000.0)]
    st.last_t_s = st.last_t0_s = 1000.0
    v.append(st.sequence(65534, 1000.04))
    st.last_t_s = st.last_t0_s = 1000.04
    v.append(st.sequence(0, 999.0))   # device time went back: not a wrap, a late frame
    assert v == ["ok", "ok", "late"]
    assert st.stats.restarts == 0 and np.isfinite(st.last_t_s)
