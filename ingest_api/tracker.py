"""GET /mbuzz.js: the first-party website tracker (ingest_api/static/mbuzz.js), no auth.

The file is read once per app: its ETag is a digest of its bytes, it is answered gzipped to
clients that accept it (`Vary: Accept-Encoding`), cached for a few minutes by browsers and
CDNs (a new version reaches every site within `TRACKER_MAX_AGE` seconds; revalidation with
If-None-Match answers 304), and readable from any origin (`Access-Control-Allow-Origin: *`,
`Cross-Origin-Resource-Policy: cross-origin`), so pages with COEP or `<script crossorigin>`
and Subresource Integrity can load it. How a site installs it: docs/api/browser.md.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, current_app, request

SOURCE = Path(__file__).resolve().parent / "static" / "mbuzz.js"
MIMETYPE = "text/javascript"  # RFC 9239 (application/javascript is its obsolete alias)

bp = Blueprint("tracker", __name__)


@dataclass(frozen=True)
class Script:
    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def load(cls, path: Path = SOURCE) -> "Script":
        body = path.read_bytes()
        return cls(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:32])


@bp.get("/mbuzz.js")
def script():
    tracker: Script = current_app.extensions["mbuzz.tracker"]
    max_age = int(current_app.config["TRACKER_MAX_AGE"])
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    gzipped = "gzip" in request.accept_encodings
    etag = tracker.etag + ("-gz" if gzipped else "")  # one tag per encoding of the bytes
    response = Response(mimetype=MIMETYPE, headers=headers)
    response.set_etag(etag)
    if request.if_none_match.contains(etag):
        response.status_code = 304
        return response
    if gzipped:
        response.set_data(tracker.gzipped)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response.set_data(tracker.body)
    return response


def init_app(app) -> None:
    app.extensions["mbuzz.tracker"] = Script.load()
    app.register_blueprint(bp)
