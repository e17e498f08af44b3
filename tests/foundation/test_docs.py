"""The docs stand on their own: citations resolve inside the repository, and the tables of
docs/channels.md say what the channel seeds say."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SEEDS = ROOT / "dbt_project" / "seeds"
SPEC_NAMES = re.compile(r"\b(ATTRIBUTION|CHANNELS|PRODUCT|STYLE)\.md\b|shared/spec")
# `docs/x.md, "Section"` or `docs/x.md ("Section", "Other")` in code and docs
CITATION = re.compile(r'docs/((?:api/)?[a-z_]+\.md)(?:,\s*|\s*\()((?:"[^"]+"(?:,\s*)?)+)')


def tracked_text_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = [ROOT / line for line in out.splitlines()]
    return [
        f
        for f in files
        if f.suffix in {".py", ".sql", ".yml", ".yaml", ".toml", ".md", ".dsl", ".cfg"}
        and f.is_file()
        and f != Path(__file__).resolve()
    ]


def headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line in path.read_text().splitlines() if line.startswith("#")]


def markdown_table(path: Path, first_header: str) -> list[list[str]]:
    """The body rows of the table whose first header cell is `first_header`, cells unquoted."""
    rows, inside = [], False
    for line in path.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if not inside:
            inside = line.startswith("|") and cells[0] == first_header
            continue
        if not line.startswith("|"):
            break
        if set(line) <= set("|-: "):
            continue
        rows.append(cells)
    assert rows, f"no table headed {first_header!r} in {path}"
    return rows


def seed(name: str) -> list[dict]:
    with open(SEEDS / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_nothing_cites_files_outside_the_repository():
    offenders = [
        f"{f.relative_to(ROOT)}:{n}"
        for f in tracked_text_files()
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1)
        if SPEC_NAMES.search(line)
    ]
    assert offenders == [], "cite docs/ instead: " + ", ".join(offenders)


def test_cited_doc_sections_exist():
    cited = 0
    for f in tracked_text_files():
        for match in CITATION.finditer(f.read_text(errors="replace")):
            target = DOCS / match.group(1)
            assert target.is_file(), f"{f.relative_to(ROOT)} cites {target.relative_to(ROOT)}, which does not exist"
            for section in re.findall(r'"([^"]+)"', match.group(2)):
                cited += 1
                assert any(section.lower() in h.lower() for h in headings(target)), (
                    f'{f.relative_to(ROOT)} cites {match.group(1)} "{section}": no such heading'
                )
    assert cited >= 10


@pytest.mark.parametrize("doc", ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md"))])
def test_relative_links_between_docs_resolve(doc):
    path = ROOT / doc
    for target, anchor in re.findall(r"\]\(([^)#:\s]*\.md)?(?:#([^)\s]+))?\)", path.read_text()):
        linked = (path.parent / target).resolve() if target else path
        assert linked.is_file(), f"{doc} links to {target}, which does not exist"
        if anchor:
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings(linked)}
            assert anchor in slugs, f"{doc} links to {target or doc}#{anchor}: no such heading"


def test_channel_rules_table_is_the_seed():
    rows = markdown_table(DOCS / "channels.md", "priority")
    documented = [(int(r[0]), r[1]) for r in rows]
    assert documented == [(int(r["priority"]), r["channel"]) for r in seed("channel_rules.csv")]


def test_click_id_table_is_the_seed():
    rows = markdown_table(DOCS / "channels.md", "click id")
    documented = [tuple(r[:5]) for r in rows]
    assert documented == [
        (r["click_id"], r["source"], r["medium"], r["priority"], r["platform"]) for r in seed("click_ids.csv")
    ]


def test_paid_and_shop_patterns_are_the_seeds():
    text = (DOCS / "channels.md").read_text()
    rules = {r["channel"]: r for r in seed("channel_rules.csv")}
    assert f"`{rules['paid_other']['and_medium_pattern']}`" in text
    assert f"`{rules['organic_shopping']['campaign_pattern']}`" in text
