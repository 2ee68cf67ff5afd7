"""`daisy bench` (driver/bench.py, driver/benchcharts.py): the quick mode as CI runs it,
with or without peers installed, its results file and charts, and its usage errors.
No timing is asserted.
"""
import json
import sys
import xml.etree.ElementTree as ET

from conftest import daisy

from daisy import bench
from daisy.benchcharts import draw_charts


def test_quick_mode_leaves_results_and_charts(tmp_path):
    out = tmp_path / "out"
    p = daisy("bench", "--quick", "--out", out, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    data = json.loads((out / "results.json").read_text())
    assert data["mode"] == "quick" and data["machine"]["cores"] >= 1
    ran = {r["program"] for r in data["results"] if r["engine"] == "daisy"}
    assert ran == {prog.name for prog in bench.SUITE}
    for r in data["results"]:
        if r["engine"] in ("daisy", "cpython"):
            assert r["status"] == "ok", r
    assert {r["workers"] for r in data["results"] if r["engine"] == "daisy"} == {1, 2}
    charts = [out / name for name in data["charts"]]
    assert {c.stem for c in charts} == {"ratios", "scaling"}
    assert all(c.stat().st_size > 0 for c in charts)
    header = p.stdout.splitlines()[0].split()
    assert header[:2] == ["program", "size"]
    for engine in ("ghc", "chez"):
        note = data["engines"][engine]["note"]
        assert note is None or f"{engine} not installed" in p.stdout


def test_unwritable_out_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = daisy("bench", "--quick", "--out", blocker / "out")
    assert p.returncode == 2
    assert "daisy: bench: cannot write to" in p.stderr and "Traceback" not in p.stderr


def test_unknown_program_is_a_usage_error(tmp_path):
    p = daisy("bench", "--quick", "--out", tmp_path, "no-such-program")
    assert p.returncode == 2 and "no such program: no-such-program" in p.stderr


def test_every_program_has_one_size_line():
    for prog in bench.SUITE:
        assert "N = 7\n" in bench.sized_source(prog, 7)


def test_charts_without_matplotlib_are_svg(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import fails
    results = [bench.Result("nfib", n, engine, w, time=t * n, times=[t * n])
               for n in (10, 20) for engine, w, t in
               (("daisy", 1, 0.3), ("daisy", 2, 0.2), ("ghc", 1, 0.01), ("cpython", 1, 0.1))]
    charts = draw_charts(results, tmp_path)
    assert [c.name for c in charts] == ["ratios.svg", "scaling.svg"]
    for c in charts:
        assert ET.parse(c).getroot().tag.endswith("svg")
