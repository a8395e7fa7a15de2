"""``python -m bench``: data generators and benchmarks (see bench/README.md)."""

from bench.cli import main

main()
