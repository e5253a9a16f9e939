"""The `watchstander` command line: parse, wire, print. No decisions live here."""
