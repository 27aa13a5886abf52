"""Help is instant: ``decaylab --help`` imports no torch, and no help of a study imports a claim or matplotlib."""

import json
import subprocess
import sys

import pytest

LOADED_AFTER = """
import json, sys
from decaylab.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_loaded_by(*argv: str) -> set[str]:
    finished = subprocess.run([sys.executable, "-c", LOADED_AFTER.format(argv=list(argv))], capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    assert "usage: decaylab" in finished.stdout, finished.stderr
    return set(json.loads(finished.stderr.strip().splitlines()[-1]))


def claim_modules(modules: set[str]) -> set[str]:
    return {name for name in modules if name.startswith("decaylab.claims")}


def test_decaylab_help_imports_no_torch_no_claim_and_no_matplotlib():
    loaded = modules_loaded_by("--help")
    assert "torch" not in loaded and "matplotlib" not in loaded and not claim_modules(loaded)


@pytest.mark.parametrize("command", ["study", "export", "report"])
def test_a_commands_help_imports_no_claim_and_no_matplotlib(command):
    loaded = modules_loaded_by(command, "--help")
    assert "matplotlib" not in loaded and not claim_modules(loaded), claim_modules(loaded)


def test_the_claims_help_lists_every_claim():
    from decaylab.claims import registry

    listed = subprocess.run([sys.executable, "-m", "decaylab.cli", "claims", "--help"], capture_output=True,
                            text=True, timeout=120).stdout  # fmt: skip
    assert all(f"  {name} " in listed for name in registry())
