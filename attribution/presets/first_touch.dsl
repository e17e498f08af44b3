# All credit to the first touch of the journey.
model "first_touch"
  credit first_touch with 1.0
end
