#!/usr/bin/env sh
# Offline and CRM conversions with curl: an identify that carries the person's e-mail (mbuzz
# hashes it and never stores the address), then a batch of CRM deals matched by user id and by
# hashed e-mail (one unmatched, kept), then the same batch again (duplicates, nothing new).
#   MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... sh offline_conversions.sh
set -eu
API="${MBUZZ_API_URL:-http://127.0.0.1:8000}"

# the laptop's visit and identify (a plain traits.email is hashed on arrival)
curl -sS --fail-with-body "$API/api/v1/events" \
  -H "Authorization: Bearer $MBUZZ_API_KEY" \
  -H "Content-Type: application/json" \
  -d '{"events": [
        {"event_type": "page_view", "visitor_id": "vis_curl_laptop", "event_id": "curl-offline-1",
         "properties": {"url": "https://shop.example.com/?utm_source=newsletter&utm_medium=email"}},
        {"event_type": "identify", "visitor_id": "vis_curl_laptop", "user_id": "user_curl_ada",
         "event_id": "curl-offline-2", "properties": {"traits": {"email": "Ada@Example.com"}}}
      ]}'
echo

# the SHA-256 of the trimmed, lower-cased address: what ad platforms' offline uploads use
HASH=$(printf '%s' 'ada@example.com' | sha256sum | cut -d' ' -f1)
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
BODY="{\"conversions\": [
  {\"external_id\": \"curl-deal-1\", \"conversion_type\": \"closed_won\", \"timestamp\": \"$NOW\",
   \"user_id\": \"user_curl_ada\", \"revenue\": 12000, \"currency\": \"EUR\"},
  {\"external_id\": \"curl-deal-2\", \"conversion_type\": \"closed_won\", \"timestamp\": \"$NOW\",
   \"email_sha256\": \"$HASH\", \"revenue\": 4800, \"currency\": \"EUR\"},
  {\"external_id\": \"curl-deal-3\", \"conversion_type\": \"store_purchase\", \"timestamp\": \"$NOW\",
   \"email\": \"someone.new@example.com\"}
]}"
for attempt in first again; do
  curl -sS --fail-with-body "$API/api/v1/conversions/batch" \
    -H "Authorization: Bearer $MBUZZ_API_KEY" \
    -H "Content-Type: application/json" \
    -d "$BODY"
  echo
done
