"""mbuzz-sdk: send tracking calls from a Python backend to an mbuzz server.

    from mbuzz_sdk import Client

    mbuzz = Client("sk_live_…", host="https://mbuzz.example.com")
    mbuzz.page("vis_1", "https://shop.example.com/?utm_source=google&utm_medium=cpc")
    mbuzz.track("vis_1", "Signed Up", {"plan": "pro"}, user_id="user_42")
    mbuzz.conversion("purchase", visitor_id="vis_1", revenue=49.0, currency="EUR")

Calls return at once; a background thread batches and retries them (see
`mbuzz_sdk._delivery`), and never raises into your application.
`mbuzz_sdk.wsgi.TrackingMiddleware` gives any WSGI app (Flask, Django) a
first-party visitor cookie and a page view per HTML page.
"""

from __future__ import annotations

__version__ = "0.1.0"

from mbuzz_sdk._delivery import DeliveryError, Response, Stats  # noqa: E402
from mbuzz_sdk.client import Client, new_event_id, slug, utm_parameters  # noqa: E402

__all__ = ["Client", "DeliveryError", "Response", "Stats", "new_event_id", "slug", "utm_parameters", "__version__"]
