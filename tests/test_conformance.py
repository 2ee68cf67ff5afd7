"""The shared conformance suite (../shared/conformance), run exactly as CI's checker
runs it, for every engine daisy ships: the reference interpreter, the JIT (default
flags, one worker, four workers) and ahead-of-time executables. Skipped cleanly when
../shared is absent."""
import os
import stat
import subprocess
import sys

import pytest

from conftest import SHARED, daisy_command

CHECK = SHARED / "conformance" / "check.py"
ENGINES = {
    "interp": ["run", "--interp"],
    "jit": ["run"],
    "jit-threads-1": ["run", "--threads", "1"],
    "jit-threads-4": ["run", "--threads", "4"],
    "jit-O0": ["run", "-O0", "--no-cache"],
}
needs_shared = pytest.mark.skipif(not CHECK.exists(),
                                  reason="../shared/conformance is not beside this checkout")


def check(cmd: str):
    done = subprocess.run([sys.executable, str(CHECK), "--cmd", cmd], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].endswith(" 0 failed")


@needs_shared
@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_shared_conformance_suite(engine):
    check(" ".join(daisy_command() + ENGINES[engine]))


@needs_shared
@pytest.mark.parametrize("threads", [1, 4])
def test_shared_conformance_suite_ahead_of_time(tmp_path, threads):
    """Each case compiled with `daisy compile -o prog` and the executable run."""
    script = tmp_path / "aot-run"
    script.write_text(
        "#!/bin/sh\nset -e\n"
        f'exe="{tmp_path}/$(basename "$1" .dsy)"\n'
        f'{" ".join(daisy_command())} compile "$1" -o "$exe" >&2\n'
        f'exec "$exe" --threads {threads}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    check(str(script))
    assert any(p.name.startswith("0") and os.access(p, os.X_OK) for p in tmp_path.iterdir())
