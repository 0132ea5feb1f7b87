"""mloop_runtime: the Python side of mloop.

The TypeScript engine runs `python -m mloop_runtime <command> ...` as a subprocess and
reads one JSON event per line from its stdout (see python/README.md for the contract).
"""

__version__ = "0.1.0"
