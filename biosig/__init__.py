"""biosig: the signal layer of the biosig runtime."""
__version__ = "0.1.0"
