"""The central store: validate inputs, schedule payouts, publish signed snapshots, enroll devices."""
