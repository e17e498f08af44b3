"""The docs site: /docs/ renders the guides in docs/api/*.md and the runnable examples in docs/api/examples/.

    GET /docs/                       index: every guide with its summary, the examples, the API reference
    GET /docs/<guide>                one guide (docs/api/<guide>.md), with a sidebar of all of them
    GET /docs/examples/<file>        one example, highlighted
    GET /docs/project/<path>         a page of the project's own docs the guides link to (docs/*.md,
                                     clients/*/README.md), rendered the same way
    GET /docs/highlight.css          Pygments' colours for the code blocks

Markdown is rendered by markdown-it-py (CommonMark plus tables, raw HTML off, so
whatever a guide contains is escaped), with GitHub-style heading anchors
(mdit-py-plugins) and Pygments highlighting. Relative links work as they do on
GitHub: `events.md#idempotency` → /docs/events#idempotency, `examples/x.sh` →
/docs/examples/x.sh, `openapi.yml` → /api/v1/openapi.yml, `../attribution.md`
→ /docs/project/docs/attribution.md.

For a reader signed in to the dashboard, these placeholders of the guides and
examples (plain text on GitHub) are replaced by their account's own values:

    http://127.0.0.1:8000    this host (request.host_url); so is https://mbuzz.example.com
    acct_…                   the account id
    pk_live_… / pk_test_…    the account's newest active publishable key of that environment
    key_…                    the id of the account's newest active secret key (test keys first)

Secret keys (`sk_…`) are never shown: a secret key's plaintext is not stored.
A reader who is signed out, or whose account has no such key, sees the
placeholders. The values are checked (a host name, base62 ids) before they go
into the Markdown, and the pages carry the dashboard's security headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, render_template, request, url_for
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from mdit_py_plugins.anchors import anchors_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.util import ClassNotFound

from ingest_api.dashboard import SECURITY_HEADERS, copy
from ingest_api.dashboard.base import load_user, scoped
from mbuzz.paths import GUIDES_DIR

bp = Blueprint("guides", __name__, url_prefix="/docs")

# The sidebar's order; guides not named here follow, by title.
ORDER = (
    "getting_started",
    "authentication",
    "install",
    "mbuzz_js",
    "segment",
    "events",
    "python_sdk",
    "sdk",
    "conversions",
    "attribution_models",
    "spend",
    "rate_limits",
    "errors",
)
_GUIDE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_EXAMPLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_HOST = re.compile(r"https?://(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")
_TOKEN = re.compile(r"[A-Za-z0-9_]+\Z")
EXAMPLE_HOST = "http://127.0.0.1:8000"
_PLACEHOLDERS = re.compile(
    r"(http://127\.0\.0\.1:8000|https://mbuzz\.example\.com)|(?<!\w)(acct|key|pk_live|pk_test)_(?:…|\.\.\.)"
)
_FORMATTER = HtmlFormatter(nowrap=True)


@dataclass(frozen=True)
class Guide:
    name: str
    title: str
    summary: str
    source: str


@dataclass(frozen=True)
class Reader:
    """What a signed-in reader's pages show instead of the placeholders (None: keep the placeholder)."""

    account_name: str
    host: str | None
    account_id: str
    publishable: tuple[tuple[str, str], ...]  # (environment, key)
    secret_key_id: str | None

    def values(self) -> dict[str, str]:
        found = {
            "acct": self.account_id,
            "key": self.secret_key_id,
            EXAMPLE_HOST: self.host,
            **{f"pk_{env}": key for env, key in self.publishable},
        }
        return {name: value for name, value in found.items() if value}


def docs_dir() -> Path:
    return Path(current_app.config.get("GUIDES_PATH") or GUIDES_DIR)


# -- reading the guides ------------------------------------------------------------------------------------------


def _plain(inline) -> str:
    return "".join(
        c.content if c.type != "softbreak" else " "
        for c in inline.children or ()
        if c.type in ("text", "code_inline", "softbreak")
    ).strip()


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int) -> Guide:
    """A guide's source, its title (the first heading) and summary (the first sentence of the first paragraph)."""
    source = path.read_text(encoding="utf-8")
    title = summary = ""
    tokens = _parser().parse(source)
    for opening, inline in zip(tokens, tokens[1:]):
        if opening.type == "heading_open" and not title:
            title = _plain(inline)
        elif opening.type == "paragraph_open" and not summary:
            summary = _plain(inline)
    first, dot, _ = summary.partition(". ")
    return Guide(path.stem, title or path.stem.replace("_", " ").capitalize(), first + (dot and "."), source)


def guides() -> list[Guide]:
    found = [
        _read(path, path.stat().st_mtime_ns) for path in sorted(docs_dir().glob("*.md")) if _GUIDE.match(path.stem)
    ]
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(found, key=lambda guide: (rank.get(guide.name, len(ORDER)), guide.title.lower()))


def project_pages() -> dict[str, Path]:
    """The project's own Markdown the guides link to, by path from the repository's root:
    docs/*.md (the model, the channels, operations) and each client's README (clients/*/README.md)."""
    root = docs_dir().resolve().parent.parent
    found = sorted((root / "docs").glob("*.md")) + sorted((root / "clients").glob("*/README.md"))
    return {path.relative_to(root).as_posix(): path for path in found}


def examples() -> list[str]:
    folder = docs_dir() / "examples"
    return sorted(p.name for p in folder.iterdir() if p.is_file() and _EXAMPLE.match(p.name)) if folder.is_dir() else []


# -- rendering ---------------------------------------------------------------------------------------------------


def _highlight(code: str, lang: str, _attrs) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    return highlight(code, lexer, _FORMATTER) if lexer is not None else ""  # "": markdown-it escapes it itself


def _site_href(href: str, env: dict) -> str:
    """A link of a guide as it works on GitHub → the same target on this site.

    The path is resolved from the folder of the page that holds it (env["base"]); a target that the
    site does not serve keeps its link as written.
    """
    if not href or href.startswith(("#", "/")) or urlsplit(href).scheme:
        return href
    path, hash_, fragment = href.partition("#")
    tail = hash_ + fragment
    target = (env["base"] / path).resolve()
    guides_dir = docs_dir().resolve()
    if target == guides_dir / "openapi.yml":
        return env["openapi"] + tail
    if target.parent == guides_dir and target.suffix == ".md" and target.stem in env["guides"]:
        return env["guide_url"].replace("__name__", target.stem) + tail
    if target.parent == guides_dir / "examples" and target.name in env["examples"]:
        return env["example_url"].replace("__name__", target.name) + tail
    for name, page in project_pages().items():
        if page.resolve() == target:
            return env["project_url"].replace("__name__", name) + tail
    return href


def _rewrite_links(state: StateCore) -> None:
    if "guides" not in state.env:
        return
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("href", _site_href(str(child.attrGet("href") or ""), state.env))


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable("table")
    md.use(anchors_plugin, min_level=1, max_level=3, permalink=True, permalinkSymbol="#")
    md.core.ruler.push("mbuzz_links", _rewrite_links)
    return md


def substitute(text: str, reader: Reader | None) -> str:
    """The placeholders replaced by the reader's values (each checked to be inert in Markdown and code)."""
    if reader is None:
        return text
    values = reader.values()
    return _PLACEHOLDERS.sub(lambda m: values.get(EXAMPLE_HOST if m.group(1) else m.group(2), m.group(0)), text)


def _links_env() -> dict:
    return {
        "guides": frozenset(g.name for g in guides()),
        "examples": frozenset(examples()),
        "openapi": url_for("docs.document"),
        "guide_url": url_for("guides.guide", name="__name__"),
        "example_url": url_for("guides.example", filename="__name__"),
        "project_url": url_for("guides.project", name="__name__"),
    }


def render_markdown(source: str, reader: Reader | None, base: Path | None = None) -> str:
    """A page's HTML; relative links are resolved from `base`, its folder (default: the guides' folder)."""
    return _parser().render(substitute(source, reader), {**_links_env(), "base": base or docs_dir()})


def _highlight_file(filename: str, text: str) -> str:
    try:
        lexer = get_lexer_for_filename(filename, text)
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(text, lexer, _FORMATTER)


# -- who reads ---------------------------------------------------------------------------------------------------


def current_reader() -> Reader | None:
    """The signed-in dashboard user's values, or None (signed out)."""
    from mbuzz import accounts

    load_user()
    if g.user is None:
        return None
    host = request.host_url.rstrip("/")
    with scoped() as conn:  # row-level security: the account's own keys only
        keys = [k for k in accounts.list_keys(conn, g.account_id) if k.active]
    keys.sort(key=lambda k: k.created_at, reverse=True)
    publishable: dict[str, str] = {}
    for key in keys:
        if key.publishable and key.public_key and _TOKEN.match(key.public_key):
            publishable.setdefault(key.environment, key.public_key)
    secret = sorted((k for k in keys if not k.publishable), key=lambda k: k.environment != "test")
    return Reader(
        account_name=g.account.name,
        host=host if _HOST.match(host) else None,
        account_id=g.account_id,
        publishable=tuple(sorted(publishable.items())),
        secret_key_id=secret[0].id if secret and _TOKEN.match(secret[0].id) else None,
    )


# -- views -------------------------------------------------------------------------------------------------------


def _page(template: str, reader: Reader | None, status: int = 200, **context):
    body = render_template(
        f"guides/{template}",
        guides=guides(),
        examples=examples(),
        reader=reader,
        copy=copy,
        signed_in=g.get("user") is not None,
        **context,
    )
    return body, status


@bp.get("/")
def index():
    return _page("index.html", current_reader(), current=None)


@bp.get("/<name>")
def guide(name: str):
    item = next((guide for guide in guides() if guide.name == name), None)
    if item is None:
        return not_found()
    reader = current_reader()
    return _page("guide.html", reader, current=name, guide=item, html=render_markdown(item.source, reader))


@bp.get("/examples/<filename>")
def example(filename: str):
    if filename not in examples():
        return not_found()
    reader = current_reader()
    text = (docs_dir() / "examples" / filename).read_text(encoding="utf-8")
    return _page(
        "example.html",
        reader,
        current=f"examples/{filename}",
        filename=filename,
        code=_highlight_file(filename, substitute(text, reader)),
    )


@bp.get("/project/<path:name>")
def project(name: str):
    path = project_pages().get(name)
    if path is None:
        return not_found()
    reader = current_reader()
    item = _read(path, path.stat().st_mtime_ns)
    return _page(
        "guide.html", reader, current=None, guide=item, html=render_markdown(item.source, reader, base=path.parent)
    )


@bp.get("/highlight.css")
def highlight_css():
    return Response(
        _FORMATTER.get_style_defs(".doc pre"), mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


@bp.get("/<path:rest>")
def anything_else(rest: str):
    return not_found()


def not_found():
    return _page("not_found.html", current_reader(), 404, current=None)


@bp.after_request
def _headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "private, no-cache")  # a signed-in reader's pages hold their keys
    response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
