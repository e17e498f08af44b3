"""`make audit`: the locked dependencies (uv.lock, every group, not the local path packages)
checked against PyPI's vulnerability data (docs/operations.md, "Dependency audit").

1. `uv export --frozen` writes the lock's pinned versions to target/audit-requirements.txt.
2. `pip-audit -r … --disable-pip --no-deps` audits them with its default `pypi` service
   (PyPI's JSON API per version, `/pypi/<name>/<version>/json`); it installs and builds nothing.
3. A dependency pip-audit could not audit (its service did not answer for it) is looked up in
   PyPI's project JSON (`/pypi/<name>/json`), whose `vulnerabilities` are those of the latest
   release: when the locked version is that release, it is audited there; otherwise it is
   reported as not audited, never counted as clean.

Exit status: 1 when a known vulnerability is found that ALLOWED does not explain; 0 otherwise.
Whatever could not be audited (the service unreachable, a network blip) is printed as a
WARNING with its count, so a run that audited nothing says so instead of passing silently.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REQUIREMENTS = REPO / "target" / "audit-requirements.txt"
REPORT = REPO / "target" / "audit-report.json"

# Findings explained in docs/operations.md ("Dependency audit"): vulnerability id -> why it stays.
ALLOWED: dict[str, str] = {}


def export() -> dict[str, str]:
    REQUIREMENTS.parent.mkdir(exist_ok=True)
    subprocess.run(
        [
            str(BIN / "uv"),
            "export",
            "--frozen",
            "--all-groups",
            "--no-hashes",
            "--no-emit-project",
            "--no-emit-local",
            "--no-header",
            "--no-annotate",
            "--quiet",
            "-o",
            str(REQUIREMENTS),
        ],
        cwd=REPO,
        check=True,
    )
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        requirement = line.split(";")[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def pip_audit() -> list[dict] | None:
    """pip-audit's dependencies ({name, version, vulns} or {name, skip_reason}), None if it failed."""
    REPORT.unlink(missing_ok=True)
    result = subprocess.run(
        [
            str(BIN / "pip-audit"),
            "-r",
            str(REQUIREMENTS),
            "--disable-pip",
            "--no-deps",
            "--progress-spinner",
            "off",
            "-f",
            "json",
            "-o",
            str(REPORT),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if not REPORT.exists():  # it stopped before writing a report (e.g. no network at all)
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"WARNING: pip-audit failed (exit {result.returncode}): {last[:500]}", file=sys.stderr)
        return None
    return json.loads(REPORT.read_text())["dependencies"]


def latest_release_vulns(name: str, version: str) -> list[dict] | None:
    """The vulnerabilities PyPI lists for `name`'s latest release, when that is `version`; else None."""
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=20) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    if data.get("info", {}).get("version") != version or "vulnerabilities" not in data:
        return None
    return [
        {"id": v.get("id"), "fix_versions": v.get("fixed_in") or [], "aliases": v.get("aliases") or []}
        for v in data["vulnerabilities"]
        if not v.get("withdrawn")
    ]


def main() -> int:
    pins = export()
    found = {d["name"].lower(): d for d in (pip_audit() or [])}
    audited: dict[str, list[dict]] = {}
    for name, dependency in found.items():
        if "skip_reason" not in dependency:
            audited[name] = dependency.get("vulns", [])
    unaudited = [name for name in pins if name not in audited]
    with ThreadPoolExecutor(8) as pool:
        for name, vulns in zip(unaudited, pool.map(lambda n: latest_release_vulns(n, pins[n]), unaudited)):
            if vulns is not None:
                audited[name] = vulns
    not_audited = sorted(set(pins) - set(audited))

    findings = [(name, pins[name], v) for name, vulns in sorted(audited.items()) for v in vulns]
    failing = [f for f in findings if f[2]["id"] not in ALLOWED]
    for name, version, vuln in findings:
        why = ALLOWED.get(vuln["id"])
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
        print(
            f"{'explained' if why else 'VULNERABLE'}: {name} {version} {vuln['id']} (fixed in {fixed})"
            + (f": {why}" if why else "")
        )
    print(
        f"audit: {len(audited)} of {len(pins)} locked dependencies audited, {len(findings)} known "
        f"vulnerabilities ({len(findings) - len(failing)} explained)"
    )
    if not_audited:
        print(
            f"WARNING: {len(not_audited)} of {len(pins)} locked dependencies could not be audited (PyPI's "
            "vulnerability data did not answer for their locked version; they are NOT known to be clean): "
            + " ".join(f"{n}=={pins[n]}" for n in not_audited),
            file=sys.stderr,
        )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
