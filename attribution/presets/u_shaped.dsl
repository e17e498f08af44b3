# Position based: 40% first, 40% last, 20% shared by the touches in between.
model "u_shaped"
  credit first_touch with 0.4
  credit last_touch with 0.4
  credit middle_touches with 0.2 equally
end
