#!/usr/bin/env sh
# Record a conversion with curl (by the event that completed it), repeat it (200, same id),
# then read it back with its current credits.
#   MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... sh conversions.sh
set -eu
API="${MBUZZ_API_URL:-http://127.0.0.1:8000}"

# the visitor's landing from paid search, then the purchase event
curl -sS --fail-with-body "$API/api/v1/events" \
  -H "Authorization: Bearer $MBUZZ_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "events": [
      {"event_type": "page_view", "visitor_id": "vis_curl_conv", "event_id": "curl-conv-1",
       "properties": {"url": "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=black_friday"}},
      {"event_type": "purchase", "visitor_id": "vis_curl_conv", "event_id": "curl-conv-2"}
    ]
  }'
echo

# 201 the first time (200 with the same conversion_id on a repeat)
curl -sS --fail-with-body "$API/api/v1/conversions" \
  -H "Authorization: Bearer $MBUZZ_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{"event_id": "curl-conv-2", "conversion_type": "purchase", "revenue": 149.90, "currency": "EUR"}' \
  -o conversion.json -w "%{http_code}\n"
cat conversion.json
echo

# by visitor and time, for a conversion that happened elsewhere (a CRM deal)
curl -sS --fail-with-body "$API/api/v1/conversions" \
  -H "Authorization: Bearer $MBUZZ_API_KEY" \
  -H "Content-Type: application/json" \
  -d "{\"visitor_id\": \"vis_curl_conv\", \"timestamp\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"conversion_type\": \"deal_won\"}"
echo

ID=$(sed -n 's/^{"conversion_id":"\([^"]*\)".*/\1/p' conversion.json)
curl -sS --fail-with-body "$API/api/v1/conversions/$ID" -H "Authorization: Bearer $MBUZZ_API_KEY"
echo
