"""The benchmark rows and their reproduce command: every BENCHMARKS.md row has an
id with a command and recorded figures, the seeds table is current, no claimed
row has a seed that misses its claim, and two short rows are re-run here and
must land within their tolerance (the drift check of every test run)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from benchmarks import reproduce
from benchmarks.common import environment
from benchmarks.reproduce import Comparison, ReproduceError, lookup, recorded_seeds, run_seed, spreads, write_summary
from benchmarks.rows import ROWS, ROWS_BY_ID, Figure, Row, fill
from tests.conftest import SHARED_DATA

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def table_ids(markdown: str) -> list[str]:
    """The ids in the first column of BENCHMARKS.md's hand-written tables (the seeds block left out)."""
    hand_written = markdown.split(reproduce.SUMMARY_BEGIN)[0] + markdown.split(reproduce.SUMMARY_END)[-1]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", hand_written, flags=re.MULTILINE)


def test_every_benchmarks_row_has_an_id_of_a_row_with_a_command_and_back() -> None:
    ids = table_ids(BENCHMARKS_MD.read_text())
    assert len(ids) == len(set(ids)), "an id is used by two rows of BENCHMARKS.md"
    assert set(ids) == set(ROWS_BY_ID), f"only in BENCHMARKS.md: {set(ids) - set(ROWS_BY_ID)}; only in rows.py: {set(ROWS_BY_ID) - set(ids)}"
    table_lines = [line for line in BENCHMARKS_MD.read_text().split(reproduce.SUMMARY_BEGIN)[0].splitlines()
                   if line.startswith("| ") and not line.startswith("| id ")]
    assert len(table_lines) == len(ids), "a table row of BENCHMARKS.md has no id"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_a_row_has_every_declared_seed_recorded(row: Row) -> None:
    assert recorded_seeds(row) == list(row.seeds), f"{row.id}: figures missing from benchmarks/results for some of seeds {row.seeds}"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_a_claimed_row_meets_its_claim_on_every_recorded_seed(row: Row) -> None:
    missed = [(s.figure.name, s.values) for s in spreads(row) if not s.claim_held]
    assert not missed, f"{row.id}: a recorded seed misses the claim, so the row must not claim it: {missed}"


# Benchmark commands that train nothing, so threads cannot change their figures.
UNTIMED_TOOLS = ("python -m benchmarks.sr bicubic", "python -m benchmarks.sr random-vgg")


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_a_row_runs_its_benchmarks_with_its_own_thread_count(row: Row) -> None:
    # A benchmark's --threads (default 2) wins over OMP_NUM_THREADS: without it in
    # the command a one-thread row would run on two threads, and two such runs side
    # by side would fight over the cores.
    for command in row.commands:
        if command.startswith("python -m benchmarks.") and not command.startswith(UNTIMED_TOOLS):
            assert "--threads {threads}" in command, f"{row.id}: `{command}` does not pass the row's thread count"


def test_the_seeds_table_in_benchmarks_md_is_current() -> None:
    text = BENCHMARKS_MD.read_text()
    assert write_summary(text) == text, "run `python -m benchmarks.reproduce --summary --write`"


def test_lookup_fill_and_comparison() -> None:
    result = {"arms": {"spade": {"psnr": 11.5}}, "rows": [{"psnr": 28.4}], "runs": {"a": [{"acc": 0.9}, {"acc": 0.8}]}}
    assert lookup(result, "arms.spade.psnr") == 11.5
    assert lookup(result, "rows.0.psnr") == 28.4
    assert lookup(result, fill("runs.a.{seed}.acc", 1)) == 0.8
    with pytest.raises(KeyError):
        lookup(result, "arms.pix2pix.psnr")
    assert fill("defaults_wgan{suffix}.json", 0) == "defaults_wgan.json"
    assert fill("defaults_wgan{suffix}.json", 2) == "defaults_wgan_s2.json"
    psnr = Figure("PSNR", "psnr", tolerance=0.3, claim=28.0)
    assert not Comparison(psnr, 0, 28.2, 28.4).drifted
    assert Comparison(psnr, 0, 27.9, 28.4).drifted
    assert not Comparison(psnr, 0, 27.9, 28.4).meets_claim
    assert Comparison(psnr, 0, None, 28.4).drifted  # a figure the re-run did not produce
    fid = Figure("FID", "fid", tolerance=1.0, better="lower", claim=5.0)
    assert fid.worst([3.0, 4.5, 2.0]) == 4.5 and not fid.meets_claim(5.5)


def test_environment_names_versions_cpu_threads_and_commit() -> None:
    env = environment()
    for key in ("torch", "numpy", "python", "threads", "cpu_model", "commit", "date"):
        assert key in env, key
    assert env["threads"] >= 1
    assert env["commit"] is None or re.fullmatch(r"[0-9a-f]{40}(\+changes)?", env["commit"])


def test_a_printed_result_is_saved_with_its_environment_and_a_failing_command_is_reported(tmp_path: Path) -> None:
    script = 'import json, sys; print("log line"); print(json.dumps({"score": 0.5 + int(sys.argv[1])}))'
    row = Row("fake", "check", (f"python -c '{script}' {{seed}}",), "fake_seed{seed}.json", (Figure("score", "score", 0.1),),
              stdout_result=True, threads=1)
    run_seed(row, 2, 1, tmp_path / "results", tmp_path / "scratch")
    saved = json.loads((tmp_path / "results" / "fake_seed2.json").read_text())
    assert saved["score"] == 2.5 and saved["seed"] == 2
    assert saved["environment"]["threads"] == 1 and "cpu_model" in saved["environment"]
    failing = Row("fails", "check", (f"{sys.executable} -c 'raise SystemExit(3)'",), "none.json", ())
    with pytest.raises(ReproduceError, match="exit status 3"):
        run_seed(failing, 0, 1, tmp_path / "results", tmp_path / "scratch")


def test_a_time_budgeted_row_reports_its_steps_against_the_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = 'import json; print(json.dumps({"fid": 7.0, "steps": 800}))'
    row = Row("budgeted", "quality", (f"python -c '{script}' {{seed}}",), "budgeted_seed{seed}.json",
              (Figure("FID", "fid", 1.0, better="lower"),), stdout_result=True, threads=1, budget_steps="steps")
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    (recorded / "budgeted_seed1.json").write_text(json.dumps({"fid": 6.5, "steps": 1000}))
    monkeypatch.setattr(reproduce, "RECORDED", recorded)
    monkeypatch.setattr(reproduce, "SCRATCH", tmp_path / "scratch")
    [comparison] = reproduce.reproduce(row, [1], 1, record=False)
    assert comparison.new == 7.0 and comparison.recorded == 6.5 and not comparison.drifted
    out = capsys.readouterr().out
    assert "seed 1 is time-budgeted: it trained 800 steps, the record 1,000 (-20%)" in out
    assert "this machine's speed" in out
    assert reproduce.budget_note(1, 990, 1000) == "seed 1 is time-budgeted: it trained 990 steps, the record 1,000 (-1%)"
    # A row with a fixed step count says nothing about steps.
    assert reproduce.budget_steps(ROWS_BY_ID["ring-pack2"], 0, recorded) is None


def test_an_unknown_row_or_a_seed_a_row_cannot_run_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert reproduce.main(["no-such-row"]) == 2
    assert "no row 'no-such-row'" in capsys.readouterr().err
    unseeded = next(row for row in ROWS if not row.seeded)
    assert reproduce.main([unseeded.id, "--seeds", "7"]) == 2
    assert "no seed option" in capsys.readouterr().err


CI_ROWS = [row for row in ROWS if row.ci]


def test_two_short_rows_are_drift_checked() -> None:
    assert len(CI_ROWS) >= 2 and all(row.minutes <= 1 for row in CI_ROWS)


@pytest.mark.parametrize("row", CI_ROWS, ids=lambda row: row.id)
def test_drift_check_a_short_row_reproduces_within_tolerance(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if row.needs_data and not SHARED_DATA.is_dir():
        pytest.skip(f"row {row.id} reads ../shared/data, absent here")
    monkeypatch.setattr(reproduce, "SCRATCH", tmp_path)
    comparisons = reproduce.reproduce(row, list(row.seeds), row.threads, record=False)
    failed = [c.line() for c in comparisons if c.drifted or not c.meets_claim or c.recorded is None]
    assert not failed, f"row {row.id} drifted from its record:\n" + "\n".join(failed)
