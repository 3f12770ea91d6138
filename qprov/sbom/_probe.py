"""Find the distributions of a Python environment. Standard library only.

This module runs inside the inspected interpreter (``python -c <source>``), so it
must import nothing but the standard library and must not import any installed
package. It prints one JSON object: the marker environment, the interpreter,
and the ``.dist-info`` / ``.egg-info`` directories in ``sys.path`` order.
"""

import json
import os
import platform
import sys
from typing import Any


def _full_version(info: Any) -> str:
    version = "{0.major}.{0.minor}.{0.micro}".format(info)  # noqa: UP032 - old targets
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def probe() -> dict[str, Any]:
    """Return the environment description as a dict."""
    markers = {
        "implementation_name": sys.implementation.name,
        "implementation_version": _full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }
    seen = set()
    dists = []
    for entry in sys.path:
        base = os.path.abspath(entry or os.curdir)
        real = os.path.realpath(base)
        if real in seen or not os.path.isdir(real):
            continue
        seen.add(real)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                full = os.path.join(base, name)
                if os.path.isdir(full):
                    dists.append(full)
    return {
        "markers": markers,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "dists": dists,
    }


if __name__ == "__main__":
    json.dump(probe(), sys.stdout)
