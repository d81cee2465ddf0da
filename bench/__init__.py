"""`make bench`: throughput and scale measurements, written to bench/RESULTS.md."""
