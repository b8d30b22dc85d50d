"""Course tooling: run every notebook, record results, write the report, generate and check the labs, check set-up and the machine."""
