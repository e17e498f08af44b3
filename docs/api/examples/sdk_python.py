"""Send calls to mbuzz with its Python SDK (clients/python, `pip install ./clients/python`).

    MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... python sdk_python.py

The calls return at once; the SDK batches and retries them in the background.
flush() waits until they are delivered (a web app needs no flush: the queue is
sent continuously, and at exit).
"""

import json
import os

from mbuzz_sdk import Client

mbuzz = Client(os.environ["MBUZZ_API_KEY"], host=os.environ.get("MBUZZ_API_URL", "http://127.0.0.1:8000"))

visitor = "vis_sdk_example"
mbuzz.page(
    visitor,
    "https://shop.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=november",
    referrer="https://mail.example.com/",
)
checkout = mbuzz.track(visitor, "Checkout Completed", {"cart_size": 2}, user_id="user_sdk_1")
mbuzz.identify("user_sdk_1", {"email": "ada@example.com"}, visitor_id=visitor)
mbuzz.conversion("purchase", event_id=checkout, revenue=49.0, currency="EUR", properties={"order_id": "A-1"})

mbuzz.flush()
stats = mbuzz.stats
print(json.dumps({"sent": stats.sent, "failed": stats.failed, "rejected": stats.rejected}))
