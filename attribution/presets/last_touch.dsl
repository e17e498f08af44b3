# All credit to the last touch before the conversion.
model "last_touch"
  credit last_touch with 1.0
end
