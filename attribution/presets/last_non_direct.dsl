# All credit to the last touch that was not direct traffic; a journey of only
# direct touches is credited linearly (the rule drops out).
model "last_non_direct"
  credit last_touch where channel not in ("direct") with 1.0
end
