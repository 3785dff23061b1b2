"""The recordings the project evaluates its encoders on, by content: the first 16 hex digits of the
SHA-256 of each signal file. ``biosig pretrain`` warns when its training data hold any of them
(:func:`encoders.pretrain_provenance.evaluation_overlap`): never pretrain on records you evaluate on.

A record is matched by its bytes, not its path, so a copy in another folder or under another name
is found too; a converted or re-encoded copy is not. Regenerate after an evaluation set changes::

    python -c "import hashlib,pathlib; print(sorted(hashlib.sha256(p.read_bytes()).hexdigest()[:16]
               for p in pathlib.Path('../shared/data/cinc2017').glob('*.mat')))"

(and ``cough/raw/*.mp3`` for the cough set); tests/test_pretrain_provenance.py checks this table
against ``../shared/data``.

Converted copies (issue: a CinC ``.mat`` written again as EDF, CSV or WFDB by :mod:`biosig.writers`, a
cough re-encoded as WAV or FLAC) have other bytes: they are found by their decoded samples
(:class:`EvaluationContent`): a fingerprint of each evaluation record (z-scored block means and
standard deviations of its samples at its own rate, tolerant to format quantisation, gain and offset)
is computed once from ``../shared/data`` and cached under ``$BIOSIG_CACHE_DIR``; a training record is
compared only where its rate matches an evaluation record's and its length is that record's or up to
one second longer (a padded last EDF data record). A copy resampled to another rate, cut or mixed with
other signal is not found.

The synthetic tasks of benchmarks/eval_probe.py drawn from a pretraining generator hold out seeds
(:data:`SYNTHETIC_SEEDS`): ``audio-lung-syn`` (``biosig.synthetic`` auscultation, seeds 600000 up:
``--synthetic-lung-records`` with ``--seed`` near 550000) and ``spiro-dev`` (``simulate_spiro``, seeds
900000-900079: ``--synthetic-blow-records`` with ``--seed`` near 860000, or ``--synthetic`` spiro with
``--seed`` near 900000). The other synthetic tasks have generators of their own (no pretraining
records are drawn from them). tests/test_pretrain_evaluation_content.py checks these against the
benchmark's generators.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import zipfile

import numpy as np

log = logging.getLogger("encoders.pretrain")

#: set name -> (what it is and who evaluates on it, the signal files it holds)
EVALUATION_SETS: dict[str, tuple[str, str]] = {
    "cinc2017": ("the CinC 2017 AF evaluation set (../shared/data/cinc2017; benchmarks/eval_probe.py task ecg)",
                 """
    00c85e14e1416982 034cb50afd611201 03cd54085b40363a 03fc8e6669e79d7e 04177154312838bd 041e540d7ad52ddc
    044e9d1552408624 06f1467dc14706a4 0c37cb55028ae22c 0d56db9742bafdfc 0db3235e3b9f828a 0ef8ca688dc77672
    16044333342c9fb0 17c683ade26a8282 188fd84a595e21e1 1929aa60b260b9b3 1971d0433553d630 1b686e48197d875d
    1bc606cab2d36df7 2079dcabe997e885 20d899ebce3bce0d 215194a375ed58c1 2353db3aba0c3b9b 23ba549747a392ea
    259020361e2860e6 28a7015073d9229d 2a23ca87a072767e 2ac11438492ae3b9 2aeb3ae7648fc381 2cea785d1e06e321
    2df85df2ea100353 2e9b3d7baa94f600 311434f84d36866d 35347b723ac4af94 3686bd2652b6c667 36d8026e84219072
    37223b9e11931b96 3733c7a33f5ef9ac 3739a7b1975be626 3a1861b075807b07 3beb19995eaeb31a 3c042d742183194f
    3cd94cee4fbdd67f 3cd9ac2cf9d9cc24 3d6b6233d868c2d0 3d73a93932dec76d 3e1c6c61e82919de 402100c6151c699a
    41aaa0ce2855b178 446f92fc4a1c79c6 482d208658ee59da 49087c757bd1fac6 49f6cb2f9c2fb82f 4b0a90ba8587f31a
    4b187ef10916971d 4c65b111844f3986 4c6a701f4d3ee078 4eef86989922832e 50a86a8b74ab8972 51d2c75fbc5a3ac6
    52b8e970f8cc68ff 539a19d0e6218edd 5559767b6b0c08dc 55e7dbcff00efad8 56069ddbcf533592 5815672c9d87f602
    58c3bfb012245e80 599ba9c35344d35a 59a20bb33afb72ed 5a76e147f2a19bc3 5b13fba79a7415b0 5b5160d988deb89e
    5b90d2431fd6c486 5d2a0705fa6382d0 5d64cc6b62229fcd 5f708751165d3884 60c27f17c1a7e499 61b4a28df353a4dc
    64234676f9454097 64e20fc08afa5b87 6545122aa5e8a8b1 6f688d3f650cf93d 6fd3640925de4524 7044481b83895f81
    719da820bf6db256 7205524b3ceb31f5 7218cf9a8e4f10ee 723606a4d0002222 74c7e1bdcb80f22f 74c837a7e69a7870
    758b812058b2cfae 75b61be8d40d64cb 76d3901cfa92bb61 78a4f596dac045be 7a0a937ab7fd9e37 7a311d1e59fe57ff
    7c9d12c56491b79a 7ec155fcd770bfc7 7fba37fecaf22ec5 818251db0bc24ab8 82b14108fbb57ce0 835b1a4349011c55
    855bef88e71d0a45 86a76474e0f10dbd 8815d6582e5ac5db 892c99886a04f114 8caafaee7cbcaf4a 8d2e13d31a9bb0b3
    8e2d8dc854b44f4f 8e6bbae8e5fcf6a4 8ed87b8e4ab19938 909037772fbfca2f 923acc7c9799c73b 9285e16b19873a48
    9443bd1c125b6e0c 9460527f9a641fb7 9534002aa805ab51 95f2ab2f16b7b22f 96a2dbae9d81c58d 9b4ac4937cec70bd
    9c453090236e51be 9fad49f2194fd2e5 a223eae94dcc5bbc a49681ceda83ece9 a810349712d61b3b aaeaaab0890330e6
    ae5202a9289c37c8 b23704d5d7b3b403 b2e86a6d20090cd4 b3f232579f84ef1e b57fc44fbcd9d0cf b62bed70ac731fcc
    b62d423cc15152c3 b79ee0fe1b37ced7 b8730cac4eb1bd57 ba02cf3b1b258362 baecc970997920f0 bb099db531fbd76b
    be8c81e7f1d44424 bf3353d7b1f4e07d c250e637babf8c32 c3b9fe5148baa8d1 c5060e967b321486 c52242f60a627f42
    c527eb0e116de70d c5d5db67592b90b1 c7c589b417cccf2a c9a18ac9ce7093f1 cc6daeee98433c93 ccba62e1a8562667
    cdc5b3b2fcf18451 d001212dace6c3a6 d10eb5de4ffbb66f d15ca5a50fb83514 d383e64331707996 d4eb4e803018ecdb
    d520967b2b924f6e d57abbe1dfa238b4 d5de22571c18f778 d6045de685ec978b d6a6369fce8f94b4 d798d8fb61eaca65
    d928ccd936728114 d964f444e5e75dec dc0cdd848bbec3f5 decb5d57abf9be69 df2f8ac703aeefc6 df8f1e1f93fce59d
    dff41cd9cdba5f83 e0938d2c43d5f971 e296ac5838f569b4 e5e4341ede1e4e3f e5e5170bc1a2913e e6aa99c1b2191722
    e777fa0b63756d7d e8102b6e472c0b2e e93ffd4a4f866fcf e9bf82b4a227ccea e9eaca513cca75fa ea17124fe3180c58
    ea2d958d91e28fc0 eb73e855e10611ca edadcfbdf916b95a ef46aa69399440f7 f136ac57e4ce8120 f2630d866b4b34be
    f6f2be7c987cfcd4 f7b835dcb89f35f9 f7e66d966aefca97 f7f1b4030e9bf438 f8a8bfe6b1c287da fad566890768c3a1
    fb2bb2d2fba7601b fb5e9be716489965 fcd03d18c5cdcd71 fce98dcf55576947 fd6ca84b37a29c1b ff435bc7b3d6c2f5
    ff6b28a26ffb67d3 ffc5a9b8bb9f9402
"""),
    "cough": ("the COVID-19 cough evaluation set (../shared/data/cough; benchmarks/eval_probe.py task audio)",
              """
    00865e449ff22c24 02ca18fe91fa8aa6 02eb958d9e15d425 043eaa37fad3b143 068a9076e35f278e 073a85f074809b9c
    08596b937b883ead 0a8307e95db3bf78 0a869b3f0e5f57fc 0b22aae91484794f 0bdffa4be792fc1d 0df3c76a9b812a7a
    0f2dc066f45524ef 0fe8b2edbcdc11bd 104fd20fe99c57f0 10718b47833b6e20 14dc7c2bfcf8cb64 1a4a116073fd0c64
    1e702e28902a9bb4 235ec8818720a3ac 24bf748dee38a678 2586f92581e9d49b 258ce272f1e2b214 269eb5375f167a6a
    2d0e4f72160a9afa 2de5550376d7b89a 30d1331b653c8cab 32828d47ad154fd8 34e7d88a177fbfd4 38393694e2ce8687
    3884ea55b58d5b97 3a7c65335c10f4b9 3ac7dbfa366dac0c 3b0d6ffbde10797b 3c06d59f623e5af4 3c0cd410dcad40d8
    3eacd7b9d610049c 3fe34a59380dbb5c 425856d95d13c6bb 45ec4d49a1297402 480d271ecedaed01 490249db78b69f1f
    4a6440912dec5bf5 4cd2de45d52a64a2 50817c8f4efe8687 538a70064c55beca 544fd80d43f303ec 549bd5910fdd8ad7
    55f860a8ccc6bfea 588e5d0066aaad74 5d39cca2354c95c5 5d9afd90a0e328c4 5e65644216d9db79 61e32a0b411bdf30
    64239be190e40c98 66176616b1437dbd 68397a8bba59cbe7 683b6cbd8a882afa 695b3cf66ed4d877 6a8c185ca0ddec1e
    6f839e70f9595972 7124b2703b56a7b8 7541a2aae817d0bb 76cebd063715e464 77953b66e10dd428 78fbb0b65ceb3e35
    78fd0e7287d54ce8 7c97fe2b6ddc2a89 7d7400604e227c3e 8018b29c1c0f3dbb 80786340076d8ca9 825bca4d7d3fc4f3
    8bfc9304e0479d29 8ea16b541d01579f 91f22b13145cc5cf 932a012f9e233e95 95264e304a8609df 9a88e8f72bf7f64f
    a29404d4f6611cec a299f927925e4302 a3b8603fb3c461b8 a46cdd702782e8be a69d08ff39dae372 a850e9eba48a6922
    aa2d18ac2b81d282 abf4222466bf8d97 afee372b82522ac4 b5a2a829ab7b4db7 b6cab15916075e61 b9bd3f57fabf13f8
    b9cd93b7b121b8d4 b9eaafb64c67c09e bb6bafd065928044 bc32f5f60759e3fe be3041c3cd47e6f1 bf02cbd7ed643c8c
    c0169d6eec11922d c284bb68d5065c13 c5263f1b28360fd8 c80c58a7fd8177fc ccdf4769ae144344 d4e464b5d8ef5a25
    d557a483a718516a d79f7493d50df9d5 d7c86b42872e770a da46fa6db9ce7c71 dc32edde03c9dd51 de8425fac1213b73
    ded2fa9bc8e70721 e14e2e5e2c247f31 e518f6a23608116f e687a6242442df3a e9b210b5ee25bdb4 ea1fdf2968892e56
    ed43e1530d3f4672 ed72ddba42af4e46 f2211d31eaf9da4b f81b0daa2a81c534 fa4b6e92e471870c fb4b82a8a18626cc
"""),
    "audio-lung-syn": ("the held-out seeds of the audio-lung-syn task (benchmarks/eval_probe.py: synthetic "
                       "auscultation, seeds 600000-600221)", ""),
    "spiro-dev": ("the held-out seeds of the spiro-dev task (benchmarks/eval_probe.py: simulate_spiro blows, "
                  "seeds 900000-900079)", ""),
}

#: synthetic evaluation task -> (the pretraining generators it draws from, as named in the sources
#: ``synthetic:<generator>:<seed>`` of encoders.data, the seeds it draws): eval_probe's defaults
SYNTHETIC_SEEDS: dict[str, tuple[tuple[str, ...], range]] = {
    "audio-lung-syn": (("audio-lung",), range(600_000, 600_222)),   # synthetic_lung_sounds(seed=600_000)
    "spiro-dev": (("spiro-blow", "spiro"), range(900_000, 900_080)),   # pretraining_generator_quality()
}

#: first 16 hex digits of a file's SHA-256 -> the evaluation set holding it
SET_OF_DIGEST: dict[str, str] = {d: name for name, (_, text) in EVALUATION_SETS.items() for d in text.split()}


def synthetic_overlap(sources) -> dict[str, list[str]]:
    """Synthetic evaluation task -> the training ``sources`` (names ``synthetic:<generator>:<seed>``,
    first appearance order) drawn from its generator on one of its held-out seeds."""
    found: dict[str, list[str]] = {}
    for source in dict.fromkeys(map(str, sources)):
        parts = source.split(":")
        if len(parts) != 3 or parts[0] != "synthetic" or not parts[2].isdigit():
            continue
        for task, (generators, seeds) in SYNTHETIC_SEEDS.items():
            if parts[1] in generators and int(parts[2]) in seeds:
                found.setdefault(task, []).append(source)
    return found


def merge_overlap(*found: dict[str, list[str]]) -> dict[str, list[str]]:
    """The overlaps ``found`` (set -> records) in one dict, each record once per set."""
    out: dict[str, list[str]] = {}
    for f in found:
        for name, records in f.items():
            out[name] = list(dict.fromkeys([*out.get(name, []), *records]))
    return out


# --- by decoded samples (converted copies) ---------------------------------------------------------

BLOCKS = 64            # fingerprint: mean and standard deviation of the z-scored samples in 64 blocks
MATCH_TOLERANCE = 0.02  # largest difference of any fingerprint value (z units) between copies
PAD_S = 1.0            # a copy may be up to this much longer (EDF pads its last data record)
_VERSION = 1
#: set -> its signal files under the evaluation data folder
SET_FILES = {"cinc2017": "cinc2017/*.hea", "cough": "cough/raw/*.mp3"}


def evaluation_data_folder() -> pathlib.Path:
    """Where the evaluation sets are: ``../shared/data`` from the project root (as benchmarks/eval_probe.py)."""
    return pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


def fingerprint(x) -> np.ndarray | None:
    """``2 * BLOCKS`` values: mean and standard deviation of each of ``BLOCKS`` equal blocks of ``x``
    z-scored (so units, gain, offset and sample format do not matter); None for a signal too short
    or constant."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    sd = float(x.std()) if len(x) else 0.0
    if len(x) < 4 * BLOCKS or not sd > 0:
        return None
    z = (x - x.mean()) / sd
    edges = np.linspace(0, len(z), BLOCKS + 1).astype(np.int64)[:-1]
    counts = np.diff(np.append(edges, len(z)))
    mean = np.add.reduceat(z, edges) / counts
    var = np.maximum(np.add.reduceat(z * z, edges) / counts - mean ** 2, 0.0)
    return np.concatenate([mean, np.sqrt(var)])


def _signals(samples: np.ndarray):
    """Each channel of ``samples`` (C, N), and their mean where there are several (a mono mix-down)."""
    rows = [np.asarray(r) for r in samples]
    return rows + ([np.mean(samples, axis=0)] if len(rows) > 1 else [])


class EvaluationContent:
    """Fingerprints of the evaluation records (:func:`fingerprint` of each channel and of their mix),
    and :meth:`watch`, which finds them among training records by content."""

    def __init__(self, sets, names, fs_hz, n_samples, prints):
        self.sets, self.names = list(sets), list(names)
        self.fs_hz, self.n = np.asarray(fs_hz, dtype=np.float64), np.asarray(n_samples, dtype=np.int64)
        self.prints = np.asarray(prints, dtype=np.float64).reshape(len(self.sets), 2 * BLOCKS)
        self.found: dict[str, list[str]] = {}

    def match(self, record) -> list[str]:
        """The evaluation sets (and records) ``record`` holds: ``[(set, evaluation record), ...]``."""
        fs = float(record.fs_hz)
        near = np.flatnonzero((np.abs(self.fs_hz - fs) <= 1e-6 * fs) & (self.n <= record.n_samples)
                              & (record.n_samples <= self.n + int(np.ceil(PAD_S * fs))))
        if not len(near):
            return []
        hits = []
        for x in _signals(np.asarray(record.samples)):
            for n in np.unique(self.n[near]):
                fp = fingerprint(x[:n])
                if fp is None:
                    continue
                for i in near[self.n[near] == n]:
                    if np.max(np.abs(self.prints[i] - fp)) <= MATCH_TOLERANCE:
                        hits.append((str(self.sets[i]), str(self.names[i])))
        return list(dict.fromkeys(hits))

    def watch(self, records):
        """``records`` (``(source, Record)``) unchanged; each one holding an evaluation record is noted
        in :attr:`found` (set -> sources)."""
        for source, rec in records:
            for name, ref in self.match(rec):
                log.info("%s holds the samples of %s of the evaluation set %s", source, ref, name)
                self.found.setdefault(name, []).append(str(source))
            yield source, rec


def _files(folder: pathlib.Path) -> list[tuple[str, pathlib.Path]]:
    return [(name, p) for name, pattern in SET_FILES.items() for p in sorted(folder.glob(pattern))]


def _cache_key(files) -> str:
    h = hashlib.sha256(f"v{_VERSION} {BLOCKS}".encode())
    for name, p in files:
        st = p.stat()
        h.update(f"{name} {p} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def evaluation_content(folder: pathlib.Path | None = None, cache: pathlib.Path | None = None):
    """The :class:`EvaluationContent` of the evaluation sets in ``folder`` (default
    :func:`evaluation_data_folder`), read from ``cache`` (default ``$BIOSIG_CACHE_DIR/
    evaluation-fingerprints.npz``) while the sets' files are unchanged, else computed (about 1.5 s) and
    cached; None (said at INFO) where the sets are not there."""
    from encoders.backend_cache import cache_dir
    folder = pathlib.Path(folder) if folder is not None else evaluation_data_folder()
    files = _files(folder)
    if not files:
        log.info("evaluation sets not found under %s: converted copies of them are not looked for", folder)
        return None
    cache = pathlib.Path(cache) if cache is not None else cache_dir() / "evaluation-fingerprints.npz"
    key = _cache_key(files)
    try:
        with np.load(cache, allow_pickle=False) as z:
            if str(z["key"]) == key:
                return EvaluationContent(z["sets"], z["names"], z["fs_hz"], z["n"], z["prints"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):   # none yet, or damaged: computed again
        pass
    from biosig.errors import BiosigError
    from biosig.readers import read
    rows = []
    for name, p in files:
        try:
            rec = read(p)
        except BiosigError as exc:
            log.info("evaluation record %s not read (%s)", p, exc)
            continue
        for x in _signals(np.asarray(rec.samples)):
            fp = fingerprint(x)
            if fp is not None:
                rows.append((name, p.stem, float(rec.fs_hz), len(x), fp))
    sets, names, fs, n, prints = (list(c) for c in zip(*rows)) if rows else ([], [], [], [], [])
    content = EvaluationContent(sets, names, fs, n, prints)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, key=np.asarray(key), sets=np.asarray(sets, dtype=str), names=np.asarray(names, dtype=str),
                 fs_hz=content.fs_hz, n=content.n, prints=content.prints)
        os.replace(tmp, cache)
    except OSError as exc:
        log.info("evaluation fingerprints not cached in %s (%s)", cache, exc)
    return content
