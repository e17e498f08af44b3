"""tools/audit.py (`make audit`) decides on what pip-audit and PyPI answered, without the network:
a known vulnerability fails, one explained in ALLOWED does not, and what could not be audited is
a warning (counted, never reported clean), including a run that audited nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

AUDIT = Path(__file__).resolve().parents[2] / "tools" / "audit.py"


@pytest.fixture
def audit(monkeypatch):
    spec = importlib.util.spec_from_file_location("mbuzz_audit", AUDIT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "export", lambda: {"flask": "3.1.0", "jinja2": "3.1.6", "old": "1.0"})
    return module


VULN = {"id": "GHSA-xxxx", "fix_versions": ["3.1.1"], "aliases": []}


def test_a_known_vulnerability_fails(audit, monkeypatch, capsys):
    monkeypatch.setattr(
        audit,
        "pip_audit",
        lambda: [
            {"name": "flask", "version": "3.1.0", "vulns": [VULN]},
            {"name": "jinja2", "version": "3.1.6", "vulns": []},
            {"name": "old", "skip_reason": "Dependency not found on PyPI"},
        ],
    )
    monkeypatch.setattr(audit, "latest_release_vulns", lambda name, version: None)
    assert audit.main() == 1
    out, err = capsys.readouterr()
    assert "VULNERABLE: flask 3.1.0 GHSA-xxxx (fixed in 3.1.1)" in out
    assert "2 of 3 locked dependencies audited" in out
    assert "1 of 3 locked dependencies could not be audited" in err and "old==1.0" in err


def test_an_explained_vulnerability_passes(audit, monkeypatch, capsys):
    monkeypatch.setattr(audit, "pip_audit", lambda: [{"name": "flask", "version": "3.1.0", "vulns": [VULN]}])
    monkeypatch.setattr(audit, "latest_release_vulns", lambda name, version: [])
    monkeypatch.setitem(audit.ALLOWED, "GHSA-xxxx", "not reachable from mbuzz")
    assert audit.main() == 0
    assert "explained: flask 3.1.0 GHSA-xxxx" in capsys.readouterr().out


def test_the_project_json_audits_what_pip_audit_could_not(audit, monkeypatch, capsys):
    monkeypatch.setattr(
        audit,
        "pip_audit",
        lambda: [{"name": n, "skip_reason": "Dependency not found on PyPI"} for n in ("flask", "jinja2", "old")],
    )
    latest = {"flask": [VULN], "jinja2": []}  # "old" is not its project's latest release
    monkeypatch.setattr(audit, "latest_release_vulns", lambda name, version: latest.get(name))
    assert audit.main() == 1
    out, err = capsys.readouterr()
    assert "VULNERABLE: flask" in out and "2 of 3 locked dependencies audited" in out and "old==1.0" in err


def test_nothing_reachable_warns_and_passes(audit, monkeypatch, capsys):
    monkeypatch.setattr(audit, "pip_audit", lambda: None)  # pip-audit failed: no network
    monkeypatch.setattr(audit, "latest_release_vulns", lambda name, version: None)
    assert audit.main() == 0
    out, err = capsys.readouterr()
    assert "0 of 3 locked dependencies audited" in out
    assert "WARNING: 3 of 3 locked dependencies could not be audited" in err
