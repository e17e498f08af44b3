# Touches closer to the conversion get more: weight halves every 7 days.
model "time_decay"
  credit all_touches with 1.0 by time_decay(half_life 7 days)
end
