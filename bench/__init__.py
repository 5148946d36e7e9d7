"""Benchmarks of Edge Assembler; run `python -m bench --help`."""
