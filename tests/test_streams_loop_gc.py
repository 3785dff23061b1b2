"""Garbage collection at the event loop's safe points (streams.loop_gc): automatic collection
is off while the loop runs, due generations are collected between iterations, cyclic garbage
is still freed, the oldest generation is rate-limited, and the previous state comes back."""
import gc
import weakref

from streams.loop_gc import LoopGC


class _Node:
    pass


def _cycle():
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_collections_happen_only_at_safe_points_and_free_cycles():
    assert gc.isenabled()
    with LoopGC(full_every_s=3600) as lgc:
        assert not gc.isenabled()
        refs = [_cycle() for _ in range(5000)]      # far past the generation-0 threshold
        assert any(r() is not None for r in refs)    # nothing collected them behind our back
        due = lgc.maybe_collect()
        assert due in (0, 1)
        while lgc.maybe_collect() is not None:       # as the loop would, iteration after iteration
            pass
        assert sum(r() is not None for r in refs) < len(refs) // 10   # the cycles were freed
        assert lgc.collections[0] + lgc.collections[1] >= 1
        assert lgc.collections[2] == 0               # the oldest generation waits for full_every_s
        assert lgc.maybe_collect() is None           # nothing due right after a collection
    assert gc.isenabled()                            # restored


def test_the_same_generation_cpython_would_pick():
    t0, t1, t2 = gc.get_threshold()
    with LoopGC(full_every_s=0.0) as lgc:
        gens, alive = [], []
        for _ in range((t1 + 1) * (t2 + 1)):
            alive.append([[] for _ in range(t0 + 10)])   # net new containers: gc's counter moves
            g = lgc.maybe_collect()
            if g is not None:
                gens.append(g)
        assert 0 in gens and 1 in gens and 2 in gens  # with no rate limit every generation comes due
        assert gens.count(0) > gens.count(1) >= gens.count(2)


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with LoopGC():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
