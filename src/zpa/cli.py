"""The `zpa` command: a thin layer over the library. Heavy modules load inside
the commands that need them, so `zpa --help` and `zpa render` start fast."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from zpa import __version__
from zpa.errors import ZpaError, redact

root_option = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Project root holding team.toml and roles/.",
)


def api_options(f):
    """The flags every command that calls the API shares, with the same meaning."""
    options = [
        click.option("--base-url", envvar="ANTHROPIC_BASE_URL", show_envvar=True,
                     help="Anthropic-compatible endpoint (e.g. Ollama at http://localhost:11434)."),
        click.option("--model", "models", multiple=True, metavar="ROLE=ID",
                     help="Model for a role, or '*=ID' for every role (repeatable)."),
        click.option("--concurrency", type=click.IntRange(1, 512), default=8, show_default=True,
                     help="Calls in flight at once."),
        click.option("--timeout", type=click.FloatRange(0.1), default=300.0, show_default=True,
                     help="Per-call timeout, seconds."),
        click.option("--budget", type=click.FloatRange(0), default=None, metavar="USD",
                     help="Stop before starting a call that could take the run past this cost."),
        click.option("--record", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Save every exchange (no credentials) to this folder."),
        click.option("--replay", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Serve every call from recorded exchanges; no network."),
        click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Run store [default: .zpa/runs.db under --root, or $ZPA_RUNS_DB]."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def llm_config(base_url, models, concurrency, timeout, budget, record, replay):
    from zpa.llm import LLMConfig
    from zpa.llm.models import parse_model_overrides

    return LLMConfig(base_url=base_url or None, model_overrides=parse_model_overrides(models),
                     concurrency=concurrency, timeout=timeout, budget_usd=budget, record_dir=record, replay_dir=replay)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="zpa")
def cli() -> None:
    """zed-parallel-agents: one set of role definitions (roles/*.md + team.toml)
    drives Zed threads, headless boundary checks and API agent pipelines.

    \b
    Typical use:
      zpa init DIR          bring the kit's roles into a project (keeps its AGENTS.md & co.)
      zpa render            regenerate .rules, thread-rules/, rules-library/, zed-settings/
      zpa render --check    exit 1 when generated files are stale (CI, pre-commit)
      zpa install           profiles into Zed's settings, skills into ~/.agents/skills
      zpa doctor            why a thread does not behave
      zpa check             prove each role stays in its lane (Anthropic API)
      zpa run software --task TEXT    Architect -> (Developer || Reviewer) as API agents
      zpa compare train.py  a training script against baseline/train.py, sandboxed

    \b
    Exit codes: 0 ok, 1 a check or run failed, 2 usage or configuration error.
    """


@cli.command()
@root_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 naming every stale, missing or orphaned file.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print a unified diff of what would change (exit 1 if any).")
def render(root: Path, check: bool, show_diff: bool) -> None:
    """Regenerate every Zed artefact from roles/*.md and team.toml.

    Output is deterministic (sorted, LF, final newline). Only files the kit
    generated (listed in .zpa/manifest.json) are ever removed.
    """
    from zpa.render import render as do_render

    result = do_render(root, check=check, diff=show_diff)
    if check or show_diff:
        for text in result.diffs:
            click.echo(text, nl=False)
        if result.drift:
            for label, paths in (("stale", result.stale), ("missing", result.missing), ("orphaned", result.orphaned)):
                for p in paths:
                    click.echo(f"{label}: {p}")
            click.echo("generated files are out of date: run `zpa render`", err=True)
            sys.exit(1)
        click.echo("generated files are up to date")
        return
    if result.fast_path or not (result.written or result.removed):
        click.echo("up to date")
        return
    for p in result.written:
        click.echo(f"wrote {p}")
    for p in result.removed:
        click.echo(f"removed {p}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--no-render", is_flag=True, help="Only copy the sources; do not render.")
@click.option("--no-include", is_flag=True,
              help="Do not carry existing AGENTS.md, CLAUDE.md, .cursorrules, ... into the generated .rules.")
def init(directory: Path, no_render: bool, no_include: bool) -> None:
    """Scaffold team.toml, roles/ and probes/ into DIRECTORY, then render there.

    Existing files are never overwritten; they are listed as kept. Zed reads
    only the first rules file it finds (.rules first), so instruction files
    the project already has (AGENTS.md, CLAUDE.md, .cursorrules, ...) are
    included in the generated .rules; a hand-written .rules keeps its text
    below the kit's delimited block.
    """
    from zpa.kit import init as do_init

    result = do_init(directory, include_existing=not no_include)
    for p in result.created:
        click.echo(f"created {p}")
    for p in result.kept:
        click.echo(f"kept    {p} (exists)")
    for note in result.notes:
        click.echo(f"note: {note}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not no_render:
        from zpa.render import render as do_render

        rendered = do_render(directory)
        for p in rendered.written:
            click.echo(f"wrote   {p}")
    click.echo(f"next: edit {directory / 'roles'}/*.md, then `zpa render --root {directory}`")


@cli.group()
def runs() -> None:
    """Inspect the run store: every check and pipeline run, its calls and verdicts."""


db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                         help="Run store [default: .zpa/runs.db, or $ZPA_RUNS_DB].")
json_flag = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _open_store(db: Path | None):
    from zpa.runs import RunStore, default_db_path

    path = db or default_db_path(".")
    if not path.exists():
        raise ZpaError("no run store yet", file=str(path), hint="run `zpa check` or `zpa run` first, or pass --db")
    return RunStore(path)


@runs.command("list")
@db_option
@json_flag
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
def runs_list(db: Path | None, as_json: bool, limit: int) -> None:
    """The most recent runs, newest first."""
    from zpa.report import print_runs

    rows = _open_store(db).list_runs(limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_runs(rows)


@runs.command("show")
@click.argument("run_id")
@db_option
@json_flag
def runs_show(run_id: str, db: Path | None, as_json: bool) -> None:
    """One run: its summary, calls (tokens, cost, latency, retries) and verdicts. RUN_ID may be a prefix."""
    from zpa.report import print_run

    run = _open_store(db).get_run(run_id)
    if as_json:
        click.echo(json.dumps(run, indent=2))
    else:
        print_run(run)


@runs.command("diff")
@click.argument("a")
@click.argument("b")
@db_option
@json_flag
def runs_diff(a: str, b: str, db: Path | None, as_json: bool) -> None:
    """Compare two runs: pass rate, cost and latency per role and probe (B minus A)."""
    from zpa.report import print_runs_diff

    diff = _open_store(db).diff(a, b)
    if as_json:
        click.echo(json.dumps(diff, indent=2))
    else:
        print_runs_diff(diff)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exits with 0, 1 (a check failed) or 2 (usage or configuration)."""
    try:
        cli.main(args=argv, prog_name="zpa", standalone_mode=False)
    except ZpaError as exc:
        click.echo(redact(f"error: {exc}"), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        click.echo(redact(f"error: {where}{exc.strerror or exc}"), err=True)
        sys.exit(2)
    except Exception as exc:  # a bug: say so briefly; ZPA_DEBUG=1 shows the traceback
        if os.environ.get("ZPA_DEBUG"):
            raise
        click.echo(redact(f"internal error: {type(exc).__name__}: {exc}") +
                   "\n  set ZPA_DEBUG=1 to see the traceback, and please report it", err=True)
        sys.exit(70)


@cli.command()
@root_option
@click.option("--role", "roles", multiple=True, help="Check only this role (repeatable) [default: the thread roles].")
@click.option("--repeat", type=click.IntRange(1, 100), default=None, help="Samples per probe [default: team.toml, else 3].")
@click.option("--static", "static", is_flag=True, help="Only the checks that need no API: lanes, ownership, probe coverage, sync, cacheability.")
@click.option("--with-tools", is_flag=True, help="Offer Zed's native tools and check each role calls only the ones its profile enables.")
@click.option("--no-judge", is_flag=True, help="Deterministic assertions only; no grader model.")
@click.option("--batch", is_flag=True, help="Submit every request as one Message Batch (50 % cheaper; may take a while).")
@click.option("--poll", type=click.FloatRange(0.01), default=10.0, show_default=True, help="Seconds between batch polls.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JSON.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML (one testcase per role x probe).")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path), help="Write a Markdown summary (for a PR comment).")
@click.option("--no-progress", is_flag=True, help="No live progress on the terminal.")
@api_options
def check(root: Path, roles: tuple[str, ...], repeat: int | None, static: bool, with_tools: bool, no_judge: bool,
          batch: bool, poll: float, json_path: Path | None, junit: Path | None, markdown: Path | None,
          no_progress: bool, base_url, models, concurrency, timeout, budget, record, replay, db) -> None:
    """Prove the personas stay in their lanes.

    Replays each role's prompt (the project's .rules + the role's skill, as
    Zed sends them) through the Anthropic API against the probes in
    probes/<role>.yaml — tasks and temptations — and reports pass rates with
    95 % Wilson intervals per probe and a verdict per role against the
    threshold in team.toml.

    \b
    Exit codes: 0 every role passes; 1 a role fails (or the run is
    incomplete); 2 usage or configuration error.

    \b
    Without a key: --base-url http://localhost:11434 --model '*=qwen3:8b'
    (any Anthropic-compatible endpoint), or --replay DIR (recorded with --record DIR).
    """
    from zpa.check import session

    role_list = list(roles) or None
    if static:
        code, findings, sizes = session.static_only(root, role_list)
        from zpa.report import print_static

        print_static(findings, sizes)
        if json_path:
            from zpa.render import atomic_write

            atomic_write(json_path, json.dumps({"findings": findings, "personas": sizes}, indent=2) + "\n")
        sys.exit(code)
    from zpa.check.runner import CheckOptions
    from zpa.team import load_team

    cfg = llm_config(base_url, models, concurrency, timeout, budget, record, replay)
    if replay is None and not cfg.has_credentials():
        from zpa.llm import NO_CREDENTIALS_HINT

        click.echo("error: no Anthropic API key and no base URL\n  hint: " + NO_CREDENTIALS_HINT, err=True)
        click.echo("running the static layer instead:", err=True)
        _, findings, sizes = session.static_only(root, role_list)
        from zpa.report import print_static

        print_static(findings, sizes)
        sys.exit(2)
    team_repeat = load_team(root).config.get("check", {}).get("repeat", 3)
    opts = CheckOptions(repeat=repeat or int(team_repeat), with_tools=with_tools, judge=not no_judge, batch=batch,
                        poll_interval=poll)
    code, report = session.run(root, role_list, cfg, opts, session.Outputs(json_path, junit, markdown), db,
                               show_progress=not no_progress)
    from zpa.check.reports import print_summary

    print_summary(report)
    sys.exit(code)


@cli.command("run")
@root_option
@click.argument("pipeline")
@click.option("--task", help="What the team should work on.")
@click.option("--tasks", "tasks_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Run one pipeline per line of this file, all concurrently under --concurrency.")
@click.option("--review-code", is_flag=True, help="software: add a final phase where the Reviewer reviews the Developer's code.")
@click.option("--with", "enable", multiple=True, metavar="NAME", help="Enable an optional node group of the pipeline.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for run folders [default: runs/ under --root].")
@click.option("--resume", metavar="RUN", help="Re-run only the failed or skipped nodes of RUN (and those whose inputs changed).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the run record(s) as JSON.")
@click.option("--compare/--no-compare", "do_compare", default=True, show_default=True,
              help="ml: run `zpa compare` on the generated train.py (needs torch).")
@click.option("--compare-seeds", type=click.IntRange(1, 20), default=1, show_default=True)
@click.option("--no-progress", is_flag=True, help="No live progress on the terminal.")
@api_options
def run_cmd(root: Path, pipeline: str, task: str | None, tasks_file: Path | None, review_code: bool,
            enable: tuple[str, ...], out: Path | None, resume: str | None, json_path: Path | None, do_compare: bool,
            compare_seeds: int, no_progress: bool, base_url, models, concurrency, timeout, budget, record, replay,
            db) -> None:
    """Run a pipeline of API agents from team.toml: `software` (Architect ->
    Developer || Reviewer) or `ml` (Data Engineer || Model Architect -> ML
    Engineer), or your own.

    Each node starts as soon as its own needs finish. Artefacts go to
    runs/<run-id>/<node>/ (prompt.md, response.md, handoff.json, files/ from
    labelled code blocks) with run.json recording timing, tokens and cost.

    \b
    In the software pipeline the Reviewer works in parallel with the
    Developer: it reviews the Architect's spec for risks and prepares the
    checklist it will apply. --review-code adds a final node in which it
    reviews the Developer's code against that checklist.

    \b
    Exit codes: 0 every node finished; 1 a node failed (finished nodes are
    kept; --resume RUN continues); 2 usage or configuration error; 130 Ctrl-C.
    """
    from zpa.pipeline import optional_names
    from zpa.pipeline.session import compare_training_script, execute, read_tasks
    from zpa.report import print_pipeline_runs, PipelineProgress
    from zpa.team import load_team

    if resume is None and (task is None) == (tasks_file is None):
        raise click.UsageError("give --task TEXT or --tasks FILE (or --resume RUN)")
    if resume and tasks_file:
        raise click.UsageError("--resume continues one run: drop --tasks")
    groups = set(enable) | ({"review-code"} if review_code else set())
    team = load_team(root)
    unknown = sorted(groups - set(optional_names(team, pipeline))) if pipeline in team.pipelines else []
    if unknown:
        raise ZpaError(f"pipeline {pipeline!r} has no optional group {unknown[0]!r}",
                       hint="optional groups: " + (", ".join(optional_names(team, pipeline)) or "none"))
    tasks = read_tasks(tasks_file) if tasks_file else [task or ""]
    cfg = llm_config(base_url, models, concurrency, timeout, budget, record, replay)
    progress = PipelineProgress(enabled=not no_progress)
    with progress:
        records, interrupted = execute(root, pipeline, tasks, cfg, groups, out, resume, db, progress.event)
    runs_root = out or (root / "runs")
    if do_compare and not interrupted:
        for rec in records:
            if any(n["role"] == "ml-engineer" and n["status"] in ("ok", "reused") for n in rec["nodes"].values()):
                click.echo(f"comparing {rec['run_id']}'s train.py with the baseline ...", err=True)
                compare_training_script(rec, runs_root, compare_seeds)
    if json_path:
        from zpa.render import atomic_write

        atomic_write(json_path, json.dumps(records[0] if len(records) == 1 else records, indent=2) + "\n")
    print_pipeline_runs(records, runs_root)
    if interrupted:
        sys.exit(130)
    if any(r["status"] != "ok" for r in records):
        sys.exit(1)


zed_dir_option = click.option("--zed-config-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                              help="Zed's config folder [default: $ZED_CONFIG_DIR, else ~/.config/zed].")
skills_dir_option = click.option("--skills-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                                 help="Where skills go [default: ~/.agents/skills, or <project>/.agents/skills with --project].")


@cli.command()
@root_option
@zed_dir_option
@skills_dir_option
@click.option("--user", "scope", flag_value="user", default=True, help="Skills for every project (~/.agents/skills). [default]")
@click.option("--project", "scope", flag_value="project", help="Skills for this project only (<project>/.agents/skills).")
@click.option("--dry-run", is_flag=True, help="Print the diff of every file it would change; write nothing.")
@click.option("--force", is_flag=True, help="Replace a same-named profile or skill that zpa did not install.")
def install(root: Path, zed_config_dir: Path | None, skills_dir: Path | None, scope: str, dry_run: bool,
            force: bool) -> None:
    """Put the team into Zed: profiles into settings.json, skills into place.

    The thread roles' agent profiles are merged into Zed's USER settings file
    (Zed does not honour `agent` in a project's .zed/settings.json) by
    splicing text: your comments, formatting, key order, tabs, CRLF and BOM
    stay as they were. A backup (settings.json.zpa-backup) is written before
    the first change. What was installed is recorded so `zpa uninstall`
    removes exactly that.
    """
    from zpa.render import render
    from zpa.zed.install import plan_install, skills_dir as default_skills, zed_config_dir as default_config

    drift = render(root, check=True)
    if drift.drift:
        raise ZpaError("generated files are out of date", file=str(root / (drift.stale + drift.missing + drift.orphaned)[0]),
                       hint="run `zpa render` first, so Zed gets what your roles say")
    config_dir = default_config(zed_config_dir)
    target = default_skills(scope, root.resolve(), skills_dir)
    plan = plan_install(root, config_dir, target, scope, force)
    _show_plan(plan, dry_run, "install")


def _show_plan(plan, dry_run: bool, verb: str) -> None:
    for c in plan.changes:
        if dry_run:
            click.echo(c.diff(), nl=False)
        else:
            click.echo(("removed " if c.after is None else "created " if c.before is None else "updated ") + str(c.path))
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
    if dry_run:
        click.echo(f"dry run: {len(plan.changes)} file(s) would change; nothing written", err=True)
        return
    plan.apply()
    if not plan.changes:
        click.echo("nothing to change" if verb == "install" else "nothing to remove")


@cli.command()
@root_option
@zed_dir_option
@click.option("--project", "project_only", is_flag=True,
              help="Remove only this project's skills, block and generated files (see `zpa init`).")
@click.option("--dry-run", is_flag=True, help="Print the diff of every file it would change; write nothing.")
def uninstall(root: Path, zed_config_dir: Path | None, project_only: bool, dry_run: bool) -> None:
    """Remove exactly what `zpa install` added.

    If settings.json was not edited since, it is restored byte for byte;
    otherwise only zpa's profiles go and your edits stay. Installed skills are
    removed only if unchanged since install.
    """
    from zpa.zed.install import plan_uninstall, zed_config_dir as default_config

    if project_only:
        from zpa.adopt import plan_project_removal

        plan = plan_uninstall(default_config(zed_config_dir), project=root)
        plan_project_removal(root, plan)
    else:
        plan = plan_uninstall(default_config(zed_config_dir))
    _show_plan(plan, dry_run, "uninstall")


@cli.command()
@root_option
@zed_dir_option
@skills_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor(root: Path, zed_config_dir: Path | None, skills_dir: Path | None, as_json: bool) -> None:
    """Tell why a thread does not behave: which rules file Zed reads and what
    it shadows, generated files in sync, skills and profiles installed and
    matching, API access, the zed CLI. Exit 1 when anything is wrong."""
    from zpa.zed.doctor import diagnose
    from zpa.zed.install import skills_dir as default_skills, zed_config_dir as default_config

    dirs = [skills_dir] if skills_dir else [default_skills("project", root.resolve()), default_skills("user", root)]
    findings = diagnose(root, default_config(zed_config_dir), dirs)
    bad = [f for f in findings if f.status == "error"]
    if as_json:
        click.echo(json.dumps({"ok": not bad, "findings": [f.as_dict() for f in findings]}, indent=2))
    else:
        mark = {"ok": "✓", "warning": "!", "error": "✗"}
        for f in findings:
            click.echo(f"{mark[f.status]} [{f.check}] {f.message}")
            if f.fix and f.status != "ok":
                click.echo(f"    fix: {f.fix}")
        click.echo("all good" if not bad else f"{len(bad)} problem(s)")
    if bad:
        sys.exit(1)


@cli.command("open")
@root_option
@click.option("--task", default="", help="Text to put after the skill command in each thread's prompt.")
@click.option("--launch", is_flag=True, help="Open the threads with the zed CLI.")
def open_cmd(root: Path, task: str, launch: bool) -> None:
    """Print, per thread role, the zed:// link that opens a new Agent Panel
    thread with `/<role> <task>` pre-filled, and the profile to pick (Zed
    sets model and profile only in its UI)."""
    import shutil
    import subprocess
    from urllib.parse import quote

    from zpa.team import load_team

    team = load_team(root)
    links = []
    for name in team.threads:
        role = team.roles[name]
        prompt = f"/{team.skill_slug(name)}" + (f" {task}" if task else "")
        url = "zed://agent?prompt=" + quote(prompt, safe="")
        links.append(url)
        click.echo(f"{role.title}: pick profile '{role.title} (zpa)' ({role.model})\n  {url}")
    if launch:
        zed = shutil.which("zed") or shutil.which("zeditor")
        if not zed:
            raise ZpaError("the zed CLI is not on PATH", hint="in Zed: command palette → 'cli: install'; or open the links above")
        for url in links:
            subprocess.run([zed, url], check=False)


@cli.command()
@click.argument("candidate", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Baseline script [default: baseline/train.py, else the kit's copy].")
@click.option("--seeds", type=click.IntRange(1, 100), default=3, show_default=True, help="Run each script with seeds 0..N-1.")
@click.option("--timeout", type=click.FloatRange(1), default=120.0, show_default=True, help="Wall-clock limit per run, seconds.")
@click.option("--memory-mb", type=click.IntRange(64), default=4096, show_default=True, help="Address-space limit per run.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="CPU threads for both scripts.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Pass --epochs to both [default: each script's own].")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JSON.")
def compare(candidate: Path, baseline: Path | None, seeds: int, timeout: float, memory_mb: int, threads: int,
            epochs: int | None, device: str, json_path: Path | None) -> None:
    """Run CANDIDATE.py and the baseline under the same sandboxed harness.

    Both get the same data file (X_train, y_train, X_test; the test labels
    stay with the harness, which scores predictions.npy), seeds, threads,
    timeout and memory limit, with no network and no writes outside their
    temp directory. Exit 0 when both ran cleanly, 1 otherwise.
    """
    import os

    from zpa.compare import HarnessConfig, compare as do_compare, default_baseline
    from zpa.report import print_compare

    cwd = Path.cwd()
    deny = [str(p) for p in {cwd.resolve(), Path(os.path.expanduser("~")).resolve()} if str(p) != "/"]
    cfg = HarnessConfig(seeds=list(range(seeds)), timeout_s=timeout, memory_mb=memory_mb, threads=threads,
                        device=device, epochs=epochs, deny_read=deny)

    def progress(label: str, seed: int, run) -> None:
        acc = f"{run.test_accuracy:.4f}" if run.test_accuracy is not None else "-"
        click.echo(f"  {label:<9} seed {seed}: {run.status:<8} accuracy {acc}  {run.wall_seconds:.1f} s"
                   + (f"  ({run.reason})" if run.reason else ""), err=True)

    report = do_compare(candidate, baseline or default_baseline(cwd), cfg, progress)
    if json_path:
        from zpa.render import atomic_write

        atomic_write(json_path, json.dumps(report, indent=2) + "\n")
    print_compare(report)
    if report["verdict"] != "ok":
        sys.exit(1)
