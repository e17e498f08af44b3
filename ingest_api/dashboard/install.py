"""The Install page: the snippets a site or backend pastes, filled in with this host and a publishable key.

- mbuzz.js, the first-party tracker `mbuzz serve` serves at /mbuzz.js;
- analytics.js 2.0 (`@segment/analytics-next` from npm) with `cdnURL` pointed at mbuzz, which serves
  the settings document it loads (`/v1/projects/<writeKey>/settings`);
- the server-side Python SDK (`mbuzz_sdk`), with a placeholder for the secret key: secret keys are
  shown once, at creation, and never again.

The key is one of the account's active publishable keys (`?key=<id>` picks another; live first, then
the newest). Without one, the page links to the keys page to create it, and shows the placeholder.
"""

from __future__ import annotations

import re

from flask import g, request

from ingest_api.dashboard.base import bp, login_required, render, scoped
from mbuzz import accounts

_HOST = re.compile(r"https?://(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")
HOST_PLACEHOLDER = "https://mbuzz.example.com"
KEY_PLACEHOLDER = "pk_live_…"
SECRET_PLACEHOLDER = "sk_live_…"


def this_host() -> str:
    """This server's base URL as the browser reached it (request.host_url), if it looks like one."""
    host = request.host_url.rstrip("/")
    return host if _HOST.match(host) else HOST_PLACEHOLDER


def snippets(host: str, key: str) -> dict[str, str]:
    """The three snippets; `host` and `key` are checked values (a base URL, a base62 key)."""
    return {
        "mbuzz_js": f'<script src="{host}/mbuzz.js" data-key="{key}" async></script>',
        "analytics_js": (
            "// npm install @segment/analytics-next\n"
            "import { AnalyticsBrowser } from '@segment/analytics-next'\n\n"
            "export const analytics = AnalyticsBrowser.load({\n"
            f"  writeKey: '{key}',\n"
            f"  cdnURL: '{host}',  // mbuzz serves analytics.js's settings and receives its calls\n"
            "})\n\n"
            "analytics.page()\n"
            "analytics.track('Signed Up', { plan: 'pro' })\n"
        ),
        "python": (
            "# pip install mbuzz-sdk\n"
            "from mbuzz_sdk import Client\n\n"
            f'client = Client(api_key="{SECRET_PLACEHOLDER}", host="{host}")  # a secret key: keep it on the server\n'
        ),
    }


def _choose(keys: list[accounts.ApiKey]) -> accounts.ApiKey | None:
    wanted = request.args.get("key")
    for key in keys:
        if key.id == wanted:
            return key
    return keys[0] if keys else None


@bp.get("/install")
@login_required
def install():
    with scoped() as conn:
        keys = [k for k in accounts.list_keys(conn, g.account_id) if k.publishable and k.active and k.public_key]
    keys.sort(key=lambda k: (k.environment != "live", -k.created_at.timestamp()))
    key = _choose(keys)
    host = this_host()
    return render(
        "install.html",
        keys=keys,
        key=key,
        host=host,
        snippets=snippets(host, key.public_key if key else KEY_PLACEHOLDER),
    )
