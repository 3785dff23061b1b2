"""`biosig listen --help` names every output topic a consumer may subscribe to."""
import subprocess
import sys

BIOSIG = [sys.executable, "-c", "import sys; from biosig.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_listen_help_names_the_score_topic_and_every_other_output():
    """It listed embeddings, forecasts, holds and heartbeats only: the score/ frames (heart rate,
    af_prob, or why withheld), the runtime's clinical output, were not mentioned."""
    out = subprocess.run(BIOSIG + ["listen", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for topic in ("emb/", "score/", "fcst/", "hold/", "sig/", "hb/"):
        assert topic in text, (topic, text)
    assert "docs/protocol.md" in text
