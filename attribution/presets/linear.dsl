# Every touch gets the same credit.
model "linear"
  credit all_touches with 1.0 equally
end
