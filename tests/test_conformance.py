"""The shared conformance suite (../shared/conformance), run exactly as CI's checker
runs it, for every engine daisy ships. Skipped cleanly when ../shared is absent."""
import subprocess
import sys

import pytest

from conftest import SHARED, daisy_command

CHECK = SHARED / "conformance" / "check.py"
ENGINES = {"interp": ["run", "--interp"], "default": ["run"]}


@pytest.mark.skipif(not CHECK.exists(), reason="../shared/conformance is not beside this checkout")
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_shared_conformance_suite(engine):
    cmd = " ".join(daisy_command() + ENGINES[engine])
    done = subprocess.run([sys.executable, str(CHECK), "--cmd", cmd], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].endswith(" 0 failed")
