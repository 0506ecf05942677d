"""report.py OUTDIR: the GPU kit's report, from what run.sh left in OUTDIR.

Writes OUTDIR/report.md (the tables in BENCHMARKS.md's style, with the
machine) and OUTDIR/report.json (the same figures). Standard library only.
"""

import json
import os
import re
import statistics
import sys


def read(out, name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read()
    except OSError:
        return ""


def keyvals(text):
    kv = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            kv[k.strip()] = v.strip()
    return kv


def tests(text):
    """Each top-level and subtest result: (name, PASS/FAIL/SKIP, seconds)."""
    rows = []
    for m in re.finditer(r"^\s*--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)", text, re.M):
        rows.append({"test": m.group(2), "result": m.group(1), "seconds": float(m.group(3))})
    return rows


def benchmarks(text):
    """Benchmark lines: name, iterations and every metric (value unit pairs)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("Benchmark"):
            continue
        f = line.split()
        row = {"name": re.sub(r"-\d+$", "", f[0]), "iterations": int(f[1]), "metrics": {}}
        for v, unit in zip(f[2::2], f[3::2]):
            try:
                row["metrics"][unit] = float(v)
            except ValueError:
                pass
        rows.append(row)
    return rows


def epochs(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def peers(recs):
    """Per program: the median epoch time over the rounds, leaving out each
    run's first epoch (set-up: graph capture, cuBLAS warm-up)."""
    by = {}
    for r in recs:
        by.setdefault(r["program"], []).append(r)
    rows = []
    for prog, rs in by.items():
        steady = [r["seconds"] for r in rs if r["epoch"] > 0] or [r["seconds"] for r in rs]
        first = [r["seconds"] for r in rs if r["epoch"] == 0]
        best = max((r.get("accuracy", 0) for r in rs), default=0)
        rows.append({"program": prog, "median_seconds": statistics.median(steady),
                     "first_epoch_seconds": statistics.median(first) if first else None,
                     "best_accuracy": best, "epochs_timed": len(steady)})
    base = next((r["median_seconds"] for r in rows if r["program"] == "gputrain"), None)
    for r in rows:
        r["ratio_to_gputrain"] = r["median_seconds"] / base if base else None
    return rows


def ch6(out):
    """Issue 24's part: per network and seed, network3's report from the
    run's JSON summary (stderr) and its seconds per epoch; an ensemble's
    vote from gputrain eval."""
    rows = []
    for name in sorted(os.listdir(out)):
        m = re.match(r"ch6-(.+)-(\d+)\.err$", name)
        if not m:
            continue
        summary = next((e["summary"] for e in epochs(read(out, name)) if "summary" in e), {})
        secs = [e["seconds"] for e in epochs(read(out, name[:-4] + ".jsonl")) if "seconds" in e]
        best = summary.get("best_validation") or {}
        rows.append({"network": m.group(1), "seed": int(m.group(2)), "epochs": len(secs),
                     "median_seconds": statistics.median(secs) if secs else None,
                     "best_validation_epoch": best.get("epoch"),
                     "test_accuracy": best["test_correct"] / best["test_total"] if best else None})
    for name in sorted(os.listdir(out)):
        m = re.match(r"ch6-(.+)-vote\.json$", name)
        if m:
            vote = (epochs(read(out, name)) or [{}])[0]
            rows.append({"network": m.group(1) + " (vote)", "seed": None, "epochs": None, "median_seconds": None,
                         "best_validation_epoch": None, "test_accuracy": vote.get("accuracy")})
    return rows


def parts(text):
    """parts.tsv: each part's name, status, seconds, limit and command."""
    rows = []
    for line in text.splitlines():
        f = line.split("\t")
        if len(f) == 5:
            rows.append({"part": f[0], "status": f[1], "seconds": int(f[2] or 0), "limit": int(f[3] or 0), "command": f[4]})
    return rows


def block(md, title, text, limit=40):
    """A section holding text as it was written, its first limit lines."""
    lines = text.rstrip().splitlines()
    if not lines:
        return
    md += ["", title, "", "```"] + lines[:limit] + (["… (%d more lines)" % (len(lines) - limit)] if len(lines) > limit else []) + ["```"]


def main():
    out = sys.argv[1]
    runs = parts(read(out, "parts.tsv"))
    status = {p["part"]: p["status"] for p in runs}
    command = {p["part"]: p["command"] for p in runs}
    doctor = read(out, "doctor.txt")
    rep = {
        "machine": keyvals(read(out, "machine.txt")),
        "parts": runs,
        "status": status,
        "doctor": doctor.splitlines(),
        "stopped": read(out, "stop.txt").strip(),
        "clocks_before": read(out, "clocks-before.csv").splitlines(),
        "clocks_after": read(out, "clocks-after.csv").splitlines(),
        "tests": tests(read(out, "tests.log")),
        "benchmarks": benchmarks(read(out, "bench.log")),
        "train": epochs(read(out, "train.jsonl")),
        "train_ch3": epochs(read(out, "train-ch3.jsonl")),
        "peers": peers(epochs(read(out, "peers.jsonl"))),
        "sweep": epochs(read(out, "sweep-summary.jsonl")),
        "sweep_one": epochs(read(out, "sweep-one.jsonl")),
        "torch_ensemble": epochs(read(out, "torch-ensemble.jsonl")),
        "ch6": ch6(out),
    }
    dev = re.search(r"^device: (.*)$", read(out, "train.err"), re.M)
    rep["machine"]["device_line"] = dev.group(1) if dev else ""
    blas = re.search(r"^ok cuBLAS: (\S+) from (\S+)", doctor, re.M)
    if blas:
        rep["machine"]["cublas_version"], rep["machine"]["cublas_path"] = blas.group(1), blas.group(2)

    md = ["# gputrain GPU kit report", ""]
    if rep["stopped"]:
        md += ["**The run stopped at the preflight:** " + rep["stopped"], ""]
    m = rep["machine"]
    md += ["| machine | |", "| --- | --- |"]
    for k in ("device_line", "cublas_version", "cublas_path", "cublas_dir", "compute_cap", "kernel", "budget"):
        if m.get(k):
            md.append("| %s | %s |" % (k, m[k]))
    md += ["", "## Parts", "", "Each under its own limit within BUDGET; a part killed or failed is named here, and the next still ran.", "",
           "| part | status | seconds | limit (s) | command |", "| --- | --- | ---: | ---: | --- |"]
    for p in runs:
        md.append("| %s | %s | %d | %d | `%s` |" % (p["part"], p["status"], p["seconds"], p["limit"], p["command"].replace("|", "\\|")))
    block(md, "## Preflight: gputrain-cuda doctor", doctor)
    block(md, "## Preflight: the machine's ptxas on kernels.ptx", read(out, "ptxas.log"))
    block(md, "## Clocks before (nvidia-smi --query-gpu=... --format=csv)", read(out, "clocks-before.csv"))
    block(md, "## Clocks after", read(out, "clocks-after.csv"))
    md.append("")

    md += ["## GPU tests", "", "Command: `%s`" % command.get("tests", ""), "", "| test | result | seconds |", "| --- | --- | ---: |"]
    for t in rep["tests"]:
        md.append("| %s | %s | %.2f |" % (t["test"], t["result"], t["seconds"]))
    if not rep["tests"]:
        first = (read(out, "tests.log").strip().splitlines() or ["tests.log is empty"])[0]
        md.append("| none ran: %s | | |" % first.replace("|", "/"))

    md += ["", "## Benchmarks", "", "Command: `%s`" % command.get("bench", ""), "",
           "| benchmark | s/epoch | µs/step | matmul-GFLOP/s | GFLOP/s | replays/epoch | event-ms/replay | wall-ms/replay |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def cell(row, unit, fmt):
        v = row["metrics"].get(unit)
        return fmt % v if v is not None else ""
    for b in rep["benchmarks"]:
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            b["name"], cell(b, "s/epoch", "%.4f"), cell(b, "µs/step", "%.1f"), cell(b, "matmul-GFLOP/s", "%.0f"),
            cell(b, "GFLOP/s", "%.0f"), cell(b, "replays/epoch", "%.0f"), cell(b, "event-ms/replay", "%.4f"),
            cell(b, "wall-ms/replay", "%.4f")))
    big = next((b for b in rep["benchmarks"] if "784_1024_1024_10" in b["name"]), None)
    # cuBLAS at the batch-256 step's own shapes, combined as the step runs
    # them: total work over total time.
    work = time = 0.0
    for b in rep["benchmarks"]:
        dims = re.search(r"SGEMM/\w+-(\d+)x(\d+)x(\d+)$", b["name"])
        if dims and "256" in dims.groups() and "GFLOP/s" in b["metrics"]:
            f = 2.0 * int(dims.group(1)) * int(dims.group(2)) * int(dims.group(3))
            work, time = work + f, time + f / b["metrics"]["GFLOP/s"]
    if big and time and "matmul-GFLOP/s" in big["metrics"]:
        sgemm = work / time
        ratio = big["metrics"]["matmul-GFLOP/s"] / sgemm
        rep["matmul_to_sgemm"] = ratio
        md += ["", "[784,1024,1024,10] at batch 256: matmul %.0f GFLOP/s, %.0f%% of cuBLAS SGEMM at the same shapes "
               "(%.0f GFLOP/s; target ≥ 50%%)." % (big["metrics"]["matmul-GFLOP/s"], 100 * ratio, sgemm)]

    for key, part, title in (("train", "train", "the book's run (gputrain-cuda train --device cuda)"),
                             ("train_ch3", "train-ch3", "chapter 3's run (--sizes 784,100,10 --eta 0.5 --cost cross-entropy --lambda 5 --weight-init scaled)")):
        md += ["", "## Training, " + title, "", "Command: `%s`" % command.get(part, ""), "",
               "| epoch | correct | seconds |", "| ---: | ---: | ---: |"]
        for e in rep[key]:
            md.append("| %d | %d / %d | %.3f |" % (e.get("epoch", 0), e.get("correct", 0), e.get("total", 0), e.get("seconds", 0)))

    md += ["", "## Side by side: [784,30,10], batch 10, η 3.0, float32, same initial network", "",
           "Command: `%s`" % command.get("peers", ""), ""]
    if rep["peers"]:
        md += ["| program | epoch (s, median, first epoch left out) | first epoch (s) | × gputrain | best accuracy |",
               "| --- | ---: | ---: | ---: | ---: |"]
        for p in rep["peers"]:
            md.append("| %s | %.4f | %s | %s | %.2f%% |" % (
                p["program"], p["median_seconds"],
                "%.3f" % p["first_epoch_seconds"] if p["first_epoch_seconds"] is not None else "",
                "%.1f×" % p["ratio_to_gputrain"] if p["ratio_to_gputrain"] else "", 100 * p["best_accuracy"]))
        rule = epochs(read(out, "rule.jsonl"))
        rep["rule"] = rule
        if rule:
            md += ["", "Same rule: after 100 steps in file order from the same network, each program's parameters "
                   "differ from gputrain's by at most " + ", ".join("%s %.1e" % (r["program"], r["max_rel_diff"]) for r in rule)
                   + " (relative, float32)."]
    else:
        md.append("Not run: " + status.get("peers", "no record"))
    md += ["", "## Many networks at once: book networks, one epoch each (issue 23)", "",
           "Command: `%s`" % command.get("sweep", ""), ""]
    sw, one, te = rep["sweep"], rep["sweep_one"], [e for e in rep["torch_ensemble"] if "seconds" in e]
    if sw:
        wall, n = sw[0]["wall_seconds"], sw[0]["networks"]
        md += ["| program | seconds | networks per second |", "| --- | ---: | ---: |",
               "| gputrain sweep of %d networks (wall, start and data included) | %.2f | %.1f |" % (n, wall, n / wall)]
        if one:
            md.append("| gputrain train, one network (its epoch) | %.3f | %.1f |" % (one[0]["seconds"], 1 / one[0]["seconds"]))
            md.append("")
            md.append("The sweep takes %.1f× one network's epoch (target ≤ 3×)." % (wall / one[0]["seconds"]))
        if te:
            md.append("PyTorch torch.func, the same networks (its epoch): %.2f s, %.1f networks per second; "
                      "gputrain sweep is %.2f× as fast (target ≥ 3×)." % (te[0]["seconds"], te[0]["networks_per_second"], te[0]["seconds"] / wall))
    else:
        md.append("Not run: " + status.get("sweep", "no record"))
    md += ["", "## Chapter 6's networks (issue 24): test accuracy at the epoch of best validation accuracy", "",
           "Command: `%s`" % command.get("ch6", ""), ""]
    if rep["ch6"]:
        md += ["| network | seed | epochs | s/epoch (median) | best validation at epoch | test accuracy there |",
               "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in rep["ch6"]:
            md.append("| %s | %s | %s | %s | %s | %s |" % (
                r["network"], r["seed"] or "", r["epochs"] or "",
                "%.3f" % r["median_seconds"] if r["median_seconds"] else "",
                "" if r["best_validation_epoch"] is None else r["best_validation_epoch"],
                "%.2f%%" % (100 * r["test_accuracy"]) if r["test_accuracy"] is not None else ""))
    else:
        md.append("Not run: " + status.get("ch6", "no record"))
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)


if __name__ == "__main__":
    main()
