"""Send to mbuzz with Segment's own Python library, unchanged: only the host and the write key differ.

MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... python segment_python.py
"""

import os

import segment.analytics as analytics

analytics.write_key = os.environ["MBUZZ_API_KEY"]  # an mbuzz API key is the write key
analytics.host = os.environ.get("MBUZZ_API_URL", "http://127.0.0.1:8000")
analytics.sync_mode = True

analytics.page(
    anonymous_id="anon_segment_example",
    name="Pricing",
    properties={"url": "https://shop.example.com/pricing"},
    context={"campaign": {"source": "google", "medium": "cpc", "name": "black_friday"}},
)
analytics.track(user_id="user_segment_example", event="Trial Started", properties={"plan": "pro"})
analytics.flush()
print("sent")
