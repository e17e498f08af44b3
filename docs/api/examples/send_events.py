"""Send events to mbuzz from Python (standard library only), retrying safely.

    MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... python send_events.py

Every event carries its own event_id, so retrying a batch after a timeout or a
429/503 can never store an event twice: the retry reports it as a duplicate.
"""

import json
import os
import time
import urllib.error
import urllib.request
import uuid

API = os.environ.get("MBUZZ_API_URL", "http://127.0.0.1:8000")
KEY = os.environ["MBUZZ_API_KEY"]


def send(events, attempts=5):
    body = json.dumps({"events": events}).encode()
    for attempt in range(attempts):
        request = urllib.request.Request(
            f"{API}/api/v1/events",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code not in (429, 503) or attempt == attempts - 1:
                raise SystemExit(f"{error.code}: {error.read().decode()}")
            time.sleep(int(error.headers.get("Retry-After", "1")))  # the server says how long
    raise SystemExit("gave up")


events = [
    {
        "event_type": "page_view",
        "visitor_id": "vis_python_example",
        "event_id": str(uuid.uuid4()),
        "properties": {
            "url": "https://shop.example.com/?utm_source=newsletter&utm_medium=email",
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "november",
        },
    },
    {
        "event_type": "mql",
        "visitor_id": "vis_python_example",
        "user_id": "user_python_1",
        "event_id": str(uuid.uuid4()),
    },
]
result = send(events)
print(json.dumps(result))
again = send(events)  # a retry of the same batch stores nothing new
print(json.dumps(again))
