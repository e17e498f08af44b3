#!/usr/bin/env sh
# Send two events to mbuzz with curl, then check the key.
#   MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... sh send_events.sh
set -eu
API="${MBUZZ_API_URL:-http://127.0.0.1:8000}"

curl -sS --fail-with-body "$API/api/v1/validate" \
  -H "Authorization: Bearer $MBUZZ_API_KEY"
echo

curl -sS --fail-with-body "$API/api/v1/events" \
  -H "Authorization: Bearer $MBUZZ_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "events": [
      {
        "event_type": "page_view",
        "visitor_id": "vis_curl_example",
        "session_id": "sess_curl_1",
        "event_id": "curl-example-1",
        "properties": {
          "url": "https://shop.example.com/pricing?utm_source=google&utm_medium=cpc",
          "referrer": "https://www.google.com/",
          "utm_source": "google",
          "utm_medium": "cpc",
          "utm_campaign": "black_friday",
          "gclid": "EAIaIQobChMI"
        }
      },
      {
        "event_type": "signup",
        "visitor_id": "vis_curl_example",
        "user_id": "user_curl_1",
        "event_id": "curl-example-2"
      }
    ]
  }'
echo
