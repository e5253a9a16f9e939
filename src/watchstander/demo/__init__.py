"""The demo: a sample service with fault injection and a load generator.

Kept import-free so that `python -m watchstander.demo.service` starts in milliseconds.
"""
