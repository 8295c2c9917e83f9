"""Check reports: JSON (schema-validated), JUnit XML for CI, Markdown for a PR comment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from zpa.render import atomic_write


def validate(report: dict[str, Any]) -> None:
    import jsonschema

    from zpa.team import load_schema

    jsonschema.validate(report, load_schema("check"))


def write_json(report: dict[str, Any], path: Path) -> None:
    validate(report)
    atomic_write(path, json.dumps(report, indent=2) + "\n")


def junit_xml(report: dict[str, Any]) -> str:
    """One testcase per role x probe; a failure lists every failed run's reasons."""
    suites = ET.Element("testsuites", name="zpa check", time=f"{report['wall_s']:.3f}")
    total = fails = errors = 0
    for role, r in report["roles"].items():
        suite = ET.SubElement(suites, "testsuite", name=f"zpa.check.{role}", tests=str(len(r["probes"])))
        s_fail = s_err = 0
        for p in r["probes"]:
            case = ET.SubElement(suite, "testcase", classname=f"zpa.check.{role}", name=p["id"])
            ET.SubElement(case, "properties")
            props = case.find("properties")
            for k in ("kind", "must_not", "runs", "passes", "pass_rate", "ci_low", "ci_high"):
                ET.SubElement(props, "property", name=k, value="" if p[k] is None else str(p[k]))
            failed = [f for f in p["failures"] if f["assertion"] not in ("error", "skipped")]
            errored = [f for f in p["failures"] if f["assertion"] in ("error", "skipped")]
            if p["runs"] and p["passes"] < p["runs"]:
                s_fail += 1
                text = "\n".join(f"repeat {f['repeat']}: {f['assertion']}"
                                 + (f" [{f['must_not']}]" if f["must_not"] else "") + f": {f['reason']}" for f in failed)
                el = ET.SubElement(case, "failure", message=f"{p['passes']}/{p['runs']} runs passed", type="boundary")
                el.text = text
            elif errored and not p["runs"]:
                s_err += 1
                el = ET.SubElement(case, "error", message=errored[0]["reason"][:200], type="api")
                el.text = "\n".join(f"repeat {f['repeat']}: {f['reason']}" for f in errored)
        suite.set("failures", str(s_fail))
        suite.set("errors", str(s_err))
        total += len(r["probes"])
        fails += s_fail
        errors += s_err
    suites.set("tests", str(total))
    suites.set("failures", str(fails))
    suites.set("errors", str(errors))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def markdown(report: dict[str, Any]) -> str:
    icon = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}
    u = report["usage"]
    cost = "unknown" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}"
    lines = [f"## zpa check: {icon[report['verdict']]} {report['verdict']}", "",
             f"{report['repeat']} repeat(s) per probe · judge: "
             f"{report['judge']['model'] if report['judge']['enabled'] else 'off'} · cost {cost} · "
             f"{report['wall_s']:.1f} s" + (" · **interrupted**" if report["interrupted"] else ""), "",
             "| role | model | verdict | pass rate | 95 % CI | threshold |", "|---|---|---|---|---|---|"]
    for role, r in report["roles"].items():
        rate = "-" if r["pass_rate"] is None else f"{r['pass_rate']:.0%}"
        lines.append(f"| {role} | `{r['model']}` | {icon[r['verdict']]} {r['verdict']} | {rate} ({r['passes']}/{r['runs']})"
                     f" | {r['ci_low']:.0%}–{r['ci_high']:.0%} | {r['threshold']:.0%} |")
    failing = [(role, p) for role, r in report["roles"].items() for p in r["probes"] if p["failures"]]
    if failing:
        lines += ["", "### Failures", ""]
        for role, p in failing:
            tag = f" (`{p['must_not']}`)" if p["must_not"] else ""
            lines.append(f"- **{role} / {p['id']}**{tag}: {p['passes']}/{p['runs']} passed")
            for f in p["failures"][:5]:
                lines.append(f"  - repeat {f['repeat']}, {f['assertion']}: {f['reason']}")
    return "\n".join(lines) + "\n"


def print_summary(report: dict[str, Any]) -> None:
    from rich.table import Table

    from zpa.report import _console, _esc

    console = _console()
    table = Table(title=f"zpa check — {report['run_id']}")
    for col in ("role", "model", "verdict", "pass rate", "95 % CI", "threshold", "errors"):
        table.add_column(col)
    colour = {"pass": "green", "fail": "red", "incomplete": "yellow"}
    for role, r in report["roles"].items():
        rate = "-" if r["pass_rate"] is None else f"{r['pass_rate']:.0%} ({r['passes']}/{r['runs']})"
        table.add_row(role, r["model"], f"[{colour[r['verdict']]}]{r['verdict']}[/]", rate,
                      f"{r['ci_low']:.0%}–{r['ci_high']:.0%}", f"{r['threshold']:.0%}", str(r["errors"]))
    console.print(table)
    for role, r in report["roles"].items():
        for p in r["probes"]:
            for f in p["failures"][:3]:
                tag = f" [{f['must_not']}]" if f["must_not"] else ""
                console.print("  [red]✗[/] " + _esc(f"{role}/{p['id']} repeat {f['repeat']} {f['assertion']}{tag}: "
                                                      f"{f['reason']}"), highlight=False)
    u = report["usage"]
    cost = "unknown (a model has no price)" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}"
    console.print(f"tokens: {u['input']} in, {u['output']} out, {u['cache_write']} cache write, "
                  f"{u['cache_read']} cache read · cost {cost} · {report['wall_s']:.1f} s")
    console.print(f"verdict: {report['verdict']}" + (" (interrupted: finished results kept)" if report["interrupted"] else ""))
