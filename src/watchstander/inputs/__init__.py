"""Readers for the files users hand to the gates: JUnit XML, SARIF and JSON findings,
checksum files, detached signatures. Each returns watchstander.gates.models data or raises
InputError naming the file (and line or field)."""
