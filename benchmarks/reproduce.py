"""Re-run a row of BENCHMARKS.md and print its new figures beside the recorded ones.

    python -m benchmarks.reproduce --list                       # the rows: id, seeds, cost, command
    python -m benchmarks.reproduce ring-pack2                   # its recorded seeds, afresh
    python -m benchmarks.reproduce ring-pack2 --seeds 0,1,2,3,4
    make reproduce ROW=ring-pack2 SEEDS=0,1,2,3,4               # the same
    python -m benchmarks.reproduce --summary                    # mean, spread, worst seed of every row
    python -m benchmarks.reproduce --summary --write            # ... into BENCHMARKS.md

Each seed runs the row's command(s) from benchmarks/rows.py with the row's
thread count (OMP_NUM_THREADS and --threads), its run folders and result
file in a fresh scratch folder (runs/reproduce/ID/seedK/), so that nothing
recorded is overwritten and no old run is resumed. Then, per figure: the
new value, the recorded one of the same seed, whether the difference is
within the row's tolerance, and whether the seed meets the row's claim;
the exit status is 1 when a figure drifted or a seed missed the claim.
`--record` makes the new results the record (benchmarks/results/).

Like is compared with like where it matters: each row runs with the thread
count it was recorded with (`--threads` overrides it, and the difference is
printed), and a CPU model or torch version other than the record's is
printed beside the figures, since either can move a figure by more than
rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, environment
from benchmarks.rows import ROWS, ROWS_BY_ID, Figure, Row, fill

RECORDED = ROOT / "benchmarks" / "results"
SCRATCH = ROOT / "runs" / "reproduce"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
SUMMARY_BEGIN = "<!-- seeds:begin (python -m benchmarks.reproduce --summary --write) -->"
SUMMARY_END = "<!-- seeds:end -->"


class ReproduceError(Exception):
    """A row that cannot be re-run or read as asked, with what to do."""


# -- reading results ------------------------------------------------------------------------


def lookup(result: Any, key: str) -> float:
    """The number at a dotted path of a result (list items by index)."""
    value = result
    for part in key.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise KeyError(key)
    return float(value)


def read_result(row: Row, seed: int, results: Path) -> dict[str, Any]:
    """The row's result JSON for `seed` in `results` ({} when not there)."""
    path = results / row.result_file(seed)
    result: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return result


def read_figures(row: Row, seed: int, results: Path) -> dict[str, float]:
    """The row's figures for `seed` from the result files in `results` (missing ones left out)."""
    result = read_result(row, seed, results)
    figures: dict[str, float] = {}
    for figure in row.figures:
        try:
            figures[figure.name] = lookup(result, fill(figure.key, seed))
        except KeyError:
            continue
    return figures


def recorded_environment(row: Row, seed: int) -> dict[str, Any]:
    environment_record: dict[str, Any] = read_result(row, seed, RECORDED).get("environment", {})
    return environment_record


def budget_steps(row: Row, seed: int, results: Path) -> float | None:
    """How many steps a time-budgeted row's run trained (None: not time-budgeted, or not recorded)."""
    if not row.budget_steps:
        return None
    try:
        return lookup(read_result(row, seed, results), row.budget_steps)
    except KeyError:
        return None


def budget_note(seed: int, new: float | None, recorded: float | None) -> str | None:
    """A time-budgeted run's steps against the record's: the machine's speed is part of its figures."""
    if new is None or recorded is None or recorded <= 0:
        return None
    change = 100 * (new - recorded) / recorded
    return (f"seed {seed} is time-budgeted: it trained {new:,.0f} steps, the record {recorded:,.0f} ({change:+.0f}%)"
            + ("; a figure that moved may be this machine's speed" if abs(change) >= 10 else ""))


def recorded_seeds(row: Row) -> list[int]:
    """The seeds of the row that have every figure recorded."""
    return [seed for seed in row.seeds if len(read_figures(row, seed, RECORDED)) == len(row.figures)]


# -- running ----------------------------------------------------------------------------------


def command_argv(command: str, seed: int, threads: int, runs: Path, results: Path) -> list[str]:
    """One command of a row as argv: this interpreter for `python`, ganforge's module for `ganforge`."""
    argv = shlex.split(fill(command, seed, threads=str(threads), runs=str(runs), results=str(results)))
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "ganforge":
        return [sys.executable, "-m", "ganforge", *argv[1:]]
    return argv


def last_json_line(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
    raise ReproduceError("the row's last command printed no JSON result line")


def run_seed(row: Row, seed: int, threads: int, results: Path, scratch: Path) -> float:
    """Run the row's commands for one seed; its result file lands in `results`. Returns wall seconds."""
    runs = scratch / "runs"
    shutil.rmtree(scratch, ignore_errors=True)
    runs.mkdir(parents=True)
    results.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "GANFORGE_BENCH_RUNS": str(runs), "GANFORGE_BENCH_RESULTS": str(results),
        "GANFORGE_BENCH_PICTURES": str(scratch / "pictures"),
    }
    start = time.perf_counter()
    output = ""
    for command in row.commands:
        argv = command_argv(command, seed, threads, runs, results)
        print(f"$ {shlex.join(argv)}", flush=True)
        done = subprocess.run(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE)
        output = done.stdout
        sys.stdout.write(output[-2000:])
        if done.returncode != 0:
            raise ReproduceError(f"row {row.id}, seed {seed}: `{shlex.join(argv)}` failed with exit status {done.returncode}")
    seconds = time.perf_counter() - start
    if row.stdout_result or row.timed:
        printed = last_json_line(output) if row.stdout_result else {}
        record = {**printed, "seed": seed, "seconds": round(seconds, 1),
                  "environment": {**environment(), "threads": threads,
                                  "command": " ; ".join(fill(c, seed, threads=str(threads)) for c in row.commands)}}
        (results / row.result_file(seed)).write_text(json.dumps(record, indent=2) + "\n")
    return seconds


# -- comparing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    figure: Figure
    seed: int
    new: float | None
    recorded: float | None

    @property
    def drifted(self) -> bool:
        if self.new is None:
            return True
        if self.recorded is None:
            return False
        return abs(self.new - self.recorded) > self.figure.tolerance + 1e-12

    @property
    def meets_claim(self) -> bool:
        return self.new is not None and self.figure.meets_claim(self.new)

    def line(self) -> str:
        fmt = self.figure.format
        new = "missing" if self.new is None else fmt(self.new)
        recorded = "not recorded" if self.recorded is None else fmt(self.recorded)
        verdict = "DRIFT" if self.drifted else "ok"
        if self.recorded is not None and self.new is not None:
            verdict += f" (difference {fmt(abs(self.new - self.recorded))}, tolerance {fmt(self.figure.tolerance)})"
        claim = ""
        if self.figure.claim is not None:
            sign = ">=" if self.figure.better == "higher" else "<="
            claim = f"; claim {sign} {fmt(self.figure.claim)}: " + ("met" if self.meets_claim else "MISSED")
        return f"  seed {self.seed}  {self.figure.name}: {new}  recorded {recorded}  {verdict}{claim}"


def compare(row: Row, seed: int, results: Path, recorded: dict[str, float]) -> list[Comparison]:
    new = read_figures(row, seed, results)
    return [Comparison(f, seed, new.get(f.name), recorded.get(f.name)) for f in row.figures]


def environment_notes(before: dict[str, Any], seed: int, threads: int) -> list[str]:
    """What differs between the record's machine (`before`) and this one, where it can change the figures."""
    now = environment()
    if not before:
        return [f"seed {seed} has no recorded environment to compare with"]
    notes = []
    if before.get("threads") not in (None, threads):
        notes.append(f"recorded with {before['threads']} threads, re-run with {threads}: float sums change order")
    if "cpu_model" not in before:
        notes.append(f"the record does not name its CPU model (this one: {now['cpu_model']}); a figure can differ on another CPU")
    elif before["cpu_model"] != now["cpu_model"]:
        notes.append(f"recorded on {before['cpu_model']}, re-run on {now['cpu_model']}: other kernels, other rounding")
    if before.get("torch") not in (None, now["torch"]):
        notes.append(f"recorded with torch {before['torch']}, re-run with {now['torch']}")
    return notes


def reproduce(row: Row, seeds: list[int], threads: int, record: bool) -> list[Comparison]:
    """Run the row for `seeds`, print the comparison, return it."""
    if not row.seeded and seeds != list(row.seeds):
        raise ReproduceError(f"row {row.id} has no seed option: its command runs seeds {','.join(map(str, row.seeds))} only")
    comparisons: list[Comparison] = []
    # Read before running: with --record the new results replace these.
    recorded = {seed: read_figures(row, seed, RECORDED) for seed in seeds}
    environments = {seed: recorded_environment(row, seed) for seed in seeds}
    recorded_steps = {seed: budget_steps(row, seed, RECORDED) for seed in seeds}
    notes: list[str] = []
    # A command without {seed} produces every seed's figures at once.
    runs_of = seeds if row.seeded else seeds[:1]
    for seed in runs_of:
        scratch = SCRATCH / row.id / f"seed{seed}"
        results = RECORDED if record else scratch / "results"
        seconds = run_seed(row, seed, threads, results, scratch)
        print(f"row {row.id}, seed {seed}: {seconds:.0f} s")
        for each in (seeds if not row.seeded else [seed]):
            comparisons += compare(row, each, results, recorded[each])
            note = budget_note(each, budget_steps(row, each, results), recorded_steps[each])
            notes += [note] if note else []
    print(f"\n{row.id}: {len(seeds)} seed(s), {threads} thread(s)" + (" (now the record)" if record else ""))
    for note in environment_notes(environments[seeds[0]], seeds[0], threads) + notes:
        print(f"  note: {note}")
    for comparison in comparisons:
        print(comparison.line())
    return comparisons


# -- summary ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """A figure over the recorded seeds."""

    figure: Figure
    values: tuple[float, ...]

    def text(self) -> str:
        fmt = self.figure.format
        if len(self.values) == 1:
            return f"{self.figure.name} {fmt(self.values[0])} (1 seed)"
        mean, sd = statistics.mean(self.values), statistics.stdev(self.values)
        spread = f"{100 * sd:.1f}%" if self.figure.percent else f"{sd:.2g}"
        return f"{self.figure.name} {fmt(mean)} ± {spread}, worst {fmt(self.figure.worst(list(self.values)))}"

    @property
    def claim_held(self) -> bool:
        return all(self.figure.meets_claim(v) for v in self.values)


def spreads(row: Row) -> list[Spread]:
    seeds = recorded_seeds(row)
    per_seed = [read_figures(row, seed, RECORDED) for seed in seeds]
    return [Spread(f, tuple(figures[f.name] for figures in per_seed)) for f in row.figures if per_seed]


def summary_table() -> str:
    lines = [
        "| id | kind | seeds | figures: mean ± sd over seeds, worst seed | claim on every seed |",
        "|---|---|---|---|---|",
    ]
    for row in ROWS:
        seeds = recorded_seeds(row)
        figures = spreads(row)
        claims = [s for s in figures if s.figure.claim is not None]
        held = "—" if not claims else ("yes" if all(s.claim_held for s in claims) else "**no**")
        text = "; ".join(s.text() for s in figures) or "not recorded"
        lines.append(f"| `{row.id}` | {row.kind} | {','.join(map(str, seeds)) or '—'} | {text} | {held} |")
    return "\n".join(lines) + "\n"


def write_summary(markdown: str) -> str:
    """BENCHMARKS.md's text with its generated seeds table replaced by the current one."""
    if SUMMARY_BEGIN not in markdown or SUMMARY_END not in markdown:
        raise ReproduceError(f"BENCHMARKS.md has no {SUMMARY_BEGIN} ... {SUMMARY_END} block to fill")
    head, rest = markdown.split(SUMMARY_BEGIN, 1)
    _, tail = rest.split(SUMMARY_END, 1)
    return head + SUMMARY_BEGIN + "\n" + summary_table() + SUMMARY_END + tail


def list_rows() -> None:
    for row in ROWS:
        seeds = ",".join(map(str, row.seeds))
        print(f"{row.id:30s} {row.kind:8s} seeds {seeds:10s} ~{row.minutes:g} min/seed, {row.threads} thread(s)"
              + (" [ci]" if row.ci else "") + (" [time-budgeted]" if row.budget_steps else "")
              + ("" if row.seeded else " (one command for its seeds)"))
        for command in row.commands:
            print(f"    {command}")
        if row.notes:
            print(f"    ({row.notes})")


def parse_seeds(text: str | None, row: Row) -> list[int]:
    if text is None:
        return list(row.seeds)
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ReproduceError(f"--seeds takes comma-separated integers, not '{text}'") from None
    if not seeds:
        raise ReproduceError("--seeds is empty")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("row", nargs="?", help="a row id (see --list)")
    parser.add_argument("--seeds", help="comma-separated seeds (default: the row's recorded seeds)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: the row's; another count is flagged)")
    parser.add_argument("--record", action="store_true", help="write the new results into benchmarks/results as the record")
    parser.add_argument("--list", action="store_true", help="list the rows")
    parser.add_argument("--summary", action="store_true", help="print mean, spread and worst seed of every row's record")
    parser.add_argument("--write", action="store_true", help="with --summary: write the table into BENCHMARKS.md")
    args = parser.parse_args(argv)
    try:
        if args.list:
            list_rows()
            return 0
        if args.summary:
            if args.write:
                BENCHMARKS_MD.write_text(write_summary(BENCHMARKS_MD.read_text()))
                print(f"wrote the seeds table into {BENCHMARKS_MD}")
            else:
                print(summary_table())
            return 0
        if args.row is None:
            parser.error("give a row id, --list or --summary")
        if args.row not in ROWS_BY_ID:
            raise ReproduceError(f"no row '{args.row}'; the rows: {', '.join(ROWS_BY_ID)}")
        row = ROWS_BY_ID[args.row]
        threads = args.threads or row.threads
        comparisons = reproduce(row, parse_seeds(args.seeds, row), threads, args.record)
    except ReproduceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = [c for c in comparisons if c.drifted or not c.meets_claim]
    print(f"\n{row.id}: " + ("every figure within tolerance and claim" if not failed else f"{len(failed)} figure(s) drifted or missed the claim"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
