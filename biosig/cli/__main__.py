"""``python -m biosig.cli ...`` (and ``torchrun -m biosig.cli pretrain ...``)."""
import sys

from biosig.cli import main

sys.exit(main())
