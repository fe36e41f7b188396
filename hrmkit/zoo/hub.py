"""The Hub client, one module per concern; this module keeps the names it always had.

- `hubclient`: where the Hub is (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE), its failures as one
  HrmkitError, the files a model needs, and their download verified against the Hub's hashes and the pins.
- `pulling`: `pull` a zoo name or ORG/NAME into a model directory under HRMKIT_HOME; `resolve` a name to one.
- `pinning`: `pin` a registry entry to a commit and the sha256 of its files, written into its YAML.
- `publishing`: `publish` a run or model directory to the Hub (HfApi) or into a local git repository (`--to`).
"""

from hrmkit.zoo.hubclient import (
    HRMKIT_FILES,
    check_sha256,
    detect_format,
    find_weights,
    verify_download,
)
from hrmkit.zoo.pinning import entry_file, pin, pinned_files, rewrite_pins
from hrmkit.zoo.publishing import publish
from hrmkit.zoo.pulling import SOURCE_FILE, default_out, models_home, pull, read_source, resolve

__all__ = [
    "HRMKIT_FILES", "SOURCE_FILE", "check_sha256", "default_out", "detect_format", "entry_file", "find_weights",
    "models_home", "pin", "pinned_files", "publish", "pull", "read_source", "resolve", "rewrite_pins",
    "verify_download",
]
