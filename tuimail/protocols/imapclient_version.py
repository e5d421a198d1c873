"""imapclient's version without importlib.metadata (a cold start's critical path).

imapclient's own version module asks importlib.metadata for the installed version, which loads
zipfile, csv, email and importlib.resources: about 10 ms before the first IMAP command of a
cold start. The same version is in the name of its dist-info directory, found beside the
package, so it is put in place first. Anything unexpected leaves imapclient to do it its way.
"""
from __future__ import annotations

import os
import sys
import types

PREFIX, SUFFIX = "imapclient-", ".dist-info"


def installed_version() -> str | None:
    """The version in the name of the one imapclient-*.dist-info directory on sys.path, or None."""
    for entry in sys.path:
        if not os.path.isdir(os.path.join(entry or ".", "imapclient")):
            continue
        try:
            names = [n for n in os.listdir(entry or ".") if n.lower().startswith(PREFIX) and n.endswith(SUFFIX)]
        except OSError:
            return None
        return names[0][len(PREFIX):-len(SUFFIX)] if len(names) == 1 else None
    return None


def preload() -> None:
    """Put imapclient.version in place, as imapclient's own module would define it."""
    if "imapclient.version" in sys.modules or "imapclient" in sys.modules:
        return
    version = installed_version()
    parts = version.split(".") if version else []
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return  # a pre-release or an odd layout: imapclient's own way
    module = types.ModuleType("imapclient.version")
    module.version = version
    module.version_info = (int(parts[0]), int(parts[1]), int(parts[2]), "final")
    sys.modules["imapclient.version"] = module
