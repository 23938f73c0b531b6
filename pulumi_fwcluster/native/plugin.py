"""A plugin directory the Pulumi CLI can run: `PulumiPlugin.yaml` (runtime: python) and a `__main__.py`.

For `pulumi package add <dir>` (an SDK for TypeScript, Go, .NET, YAML...) and for `plugins: providers:` in
`Pulumi.yaml`. The CLI runs `<virtualenv>/bin/python <dir> <engine address>`; the virtualenv is the one this
package is installed in, written into the directory's `PulumiPlugin.yaml`, so the directory works wherever it lives.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAIN = """\"\"\"The `fireworks` provider plugin, as the Pulumi CLI runs a Python plugin directory.\"\"\"

from pulumi_fwcluster.native.__main__ import main

main()
"""


def write_plugin_dir(target: Path, *, virtualenv: Path | None = None) -> Path:
    """Write the plugin directory into `target` (created if needed) and return it. `virtualenv` defaults to the
    environment running this code."""
    venv = (virtualenv or Path(sys.prefix)).resolve()
    target.mkdir(parents=True, exist_ok=True)
    (target / "PulumiPlugin.yaml").write_text(
        "# The fireworks provider plugin (pulumi-fwcluster). Written by `fwcluster plugin-dir`.\n"
        "runtime:\n"
        "  name: python\n"
        "  options:\n"
        f"    virtualenv: {venv}\n",
        encoding="utf-8",
    )
    (target / "__main__.py").write_text(MAIN, encoding="utf-8")
    return target
