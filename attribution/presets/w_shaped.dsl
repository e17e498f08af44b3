# 30% each to the first touch, the touch that created the lead (mql) and the
# last touch; 10% shared by the others.
model "w_shaped"
  credit first_touch with 0.3
  credit milestone_touch("mql") with 0.3
  credit last_touch with 0.3
  credit other_touches with 0.1 equally
end
