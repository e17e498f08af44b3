#!/usr/bin/env sh
# List the models, create a custom DSL model, deactivate it, and read a report.
#   MBUZZ_API_URL=http://127.0.0.1:8000 MBUZZ_API_KEY=sk_test_... sh attribution_models.sh
set -eu
API="${MBUZZ_API_URL:-http://127.0.0.1:8000}"
AUTH="Authorization: Bearer $MBUZZ_API_KEY"

curl -sS --fail-with-body "$API/api/v1/attribution_models" -H "$AUTH"
echo

# 201; a second run answers 409 (the name is taken)
curl -sS "$API/api/v1/attribution_models" -H "$AUTH" -H "Content-Type: application/json" \
  -d '{"source": "model \"Channel Weighted\"\n  weight channel(\"paid_search\") by 1.5\n  weight channel(\"email\") by 1.2\n  distribute proportionally\nend\n"}' \
  -o model.json -w "%{http_code}\n"
cat model.json
echo

# an invalid program: 422 with line and column in details
curl -sS "$API/api/v1/attribution_models" -H "$AUTH" -H "Content-Type: application/json" \
  -d '{"source": "model \"Broken\"\n  credit first_touch with 0.4\n  credit last_touch with 0.4\nend\n"}'
echo

ID=$(sed -n 's/^{"id":"\(amod_[^"]*\)".*/\1/p' model.json)
if [ -n "$ID" ]; then
  curl -sS --fail-with-body -X PATCH "$API/api/v1/attribution_models/$ID" -H "$AUTH" \
    -H "Content-Type: application/json" -d '{"is_active": false}'
  echo
fi

# presets are read-only: 405
curl -sS -X DELETE "$API/api/v1/attribution_models/linear" -H "$AUTH"
echo

# the report, from the aggregates the pipeline builds (empty with a hint before it ran)
curl -sS --fail-with-body -G "$API/api/v1/attribution" -H "$AUTH" \
  --data-urlencode "model=linear" --data-urlencode "from=$(date -u +%Y-%m-01)" \
  --data-urlencode "to=$(date -u +%Y-%m-%d)" --data-urlencode "group_by=channel"
echo

# every model side by side per channel, where they disagree and why (notes)
curl -sS --fail-with-body -G "$API/api/v1/attribution/comparison" -H "$AUTH" \
  --data-urlencode "from=$(date -u +%Y-%m-01)" --data-urlencode "to=$(date -u +%Y-%m-%d)"
echo

# one model's credited conversions and revenue per channel per week
curl -sS --fail-with-body -G "$API/api/v1/attribution/trend" -H "$AUTH" \
  --data-urlencode "model=linear" --data-urlencode "from=$(date -u +%Y-%m-01)" \
  --data-urlencode "to=$(date -u +%Y-%m-%d)" --data-urlencode "bucket=week"
echo
