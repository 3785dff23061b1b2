"""``python -m biosig ...``: the ``biosig`` command (the console script ``biosig = biosig.cli:main``),
the same output and exit codes.

:mod:`biosig.cli` is the composition root, above every other package: it is imported only when run
as ``python -m biosig``, so importing this module from the signal layer loads nothing above it.
"""
import sys

if __name__ == "__main__":
    from biosig.cli import main

    sys.exit(main())
