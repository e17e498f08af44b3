# Full path: 22.5% each to first touch, lead creation (mql), opportunity
# creation (sql) and last touch; 10% shared by the others.
model "z_shaped"
  credit first_touch with 0.225
  credit milestone_touch("mql") with 0.225
  credit milestone_touch("sql") with 0.225
  credit last_touch with 0.225
  credit other_touches with 0.1 equally
end
