"""`pulumi-resource-fireworks`: the plugin executable the Pulumi CLI starts (also `python -m pulumi_fwcluster.native`).

The CLI passes the engine's address as the last argument and reads the port from the first line on stdout.
"""

from __future__ import annotations

import sys


def main() -> None:
    from .. import __version__
    from .provider import FireworksProvider
    from .server import serve

    serve(sys.argv[1:], __version__, FireworksProvider())


if __name__ == "__main__":
    main()
