"""The recipe of the shipped AF heads (:mod:`encoders.heads.train_af`): features, transforms,
regularisation, windows, versions, and the prevalences and heart rates their cards read them at."""

FEATURES = ("madsd_norm", "cvsd", "cvnn", "pnn50_pct", "pnn20_pct", "sd1_sd2", "tpr", "hr_bpm", "cvsd_trim")
TRANSFORMS = ("log", "log", "log", "identity", "identity", "log", "identity", "identity", "log")
# ECG: is there a P wave before every beat (biosig.measures_atrial)? AF has none, whatever its rate;
# without it the head read AF at a controlled rate as sinus (CinC 2017 AF under 80 /min:
# sensitivity at 95 % specificity 0.45, against 0.70 with it)
ECG_FEATURES, ECG_TRANSFORMS = FEATURES + ("p_wave_consistency",), TRANSFORMS + ("identity",)
BASELINE_FEATURE = "cvsd"   # normalised RMSSD alone: the simple baseline the head must beat
C = 0.1
WINDOW_S, HOP_S = 10.0, 5.0
# v2 (2026-12-02): retrained on the measures of the current beat detectors (the ECG bradycardia
# fix and the PPG pulse-period rules changed the features the v1 heads were fitted to); ecg-af
# also reads the P-wave consistency; ppg-af's synthetic records span 40-160 /min (v1: 50-130).
# ecg-af v3 (2026-12-02): refitted to the ECG beat detector's second pass and search back
# (biosig.ecg_beats._beat_threshold, _search_back; benchmarks/bench_beat_windows.py); ppg-af's measures
# did not change
# ecg-af v4 (2026-12-02): refitted to the windows left once an unexplained QRS-like peak between
# two beats, or a short interval next to a small beat, withholds a window
# (biosig.ecg_beats.doubtful_intervals; missing="uncertain_beats")
# ecg-af v5 (2026-12-05): refitted once a beat under 0.36 s after another with under half its QRS energy
# and 0.6 of its slope (a T wave taken for a beat) withholds a window as well
# ecg-af v6, ppg-af v3 (2026-12-05): refitted to NN intervals: the intervals next to a beat unlike
# the window's average beat (correlation < 0.5, biosig.measures_hrv.NN_MIN_CORR) and across a bridged
# gap of at most 60 ms (biosig.flatline.SHORT_GAP_S) are left out of the RR features
# ppg-af v4 (2026-12-05): refitted once a PPG window's first peak is no longer taken for a beat when it
# is the diastolic wave of a pulse before the window (biosig.quality._without_leading_diastolic_wave)
# ppg-af v5 (2026-12-06): refitted once an irregular pulse train is searched again for the pulses the
# period's spacing hid (biosig.pulse_beats._irregular_pulses; AF windows withheld 7 % -> 3 %)
VERSIONS = {"ecg": 6, "ppg": 5}
PPG_HR_BPM = (40.0, 160.0)
WITHHELD = ("low_quality", "uncertain_beats")   # window measures withheld by the gates (not: too few beats)

# prevalences at which the card reads the head's probability (encoders.heads.train.prior_shift)
CINC2017_AF_RECORDS = 738      # of the challenge's 8528 training records (the others: probe_subgroups.CINC2017_MIX)
PREVALENCES = ((CINC2017_AF_RECORDS / 8528, "AF in the CinC 2017 training set"),
               (0.02, "about the share of adults with AF"))
SWEEP_HR_BPM = (40, 60, 80, 100, 120, 140, 160)   # the card's synthetic heart-rate table
