"""Record a conversion and print its provisional credits per model (standard library only).

    MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... python conversions.py

Conversions are idempotent: the same event_id (or visitor + type + timestamp) again answers
200 with the existing conversion, so retrying after a timeout, 429 or 503 is safe.
"""

import json
import os
import time
import urllib.error
import urllib.request
import uuid

API = os.environ.get("MBUZZ_API_URL", "http://127.0.0.1:8000")
KEY = os.environ["MBUZZ_API_KEY"]


def call(method, path, body=None, attempts=5):
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(attempts):
        request = urllib.request.Request(
            f"{API}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            if error.code not in (429, 503) or attempt == attempts - 1:
                return error.code, json.load(error)
            time.sleep(int(error.headers.get("Retry-After", "1")))
    raise SystemExit("gave up")


visitor = f"vis_{uuid.uuid4().hex[:10]}"
purchase = str(uuid.uuid4())
call(
    "POST",
    "/api/v1/events",
    {
        "events": [
            {
                "event_type": "page_view",
                "visitor_id": visitor,
                "event_id": str(uuid.uuid4()),
                "properties": {"url": "https://shop.example.com/?gclid=EAIaIQobChMI"},
            },
            {"event_type": "purchase", "visitor_id": visitor, "event_id": purchase},
        ]
    },
)

status, answer = call(
    "POST",
    "/api/v1/conversions",
    {"event_id": purchase, "conversion_type": "purchase", "revenue": 149.90, "currency": "EUR"},
)
print(status, answer["conversion_id"], answer["credits_status"])
for model, touches in answer["attribution_credits"].items():
    split = ", ".join(f"{t['channel']} {t['credit']:.2f}" for t in touches)
    print(f"  {model:<16} {split}")

again, repeat = call(
    "POST",
    "/api/v1/conversions",
    {"event_id": purchase, "conversion_type": "purchase", "revenue": 149.90, "currency": "EUR"},
)
assert again == 200 and repeat["conversion_id"] == answer["conversion_id"]

status, report = call("GET", "/api/v1/attribution?model=linear&from=2026-01-01&to=2026-12-31&group_by=channel")
print(status, report["rows"] or report["hint"])
