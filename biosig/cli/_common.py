"""Small argparse helpers shared by the ``biosig`` subcommand modules (stdlib only: keeps startup fast)."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """argparse ``type=``: an integer >= 1, else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
