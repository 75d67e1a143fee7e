"""ganforge test suite. A regular package, so that `tests.conftest` never
resolves to the top-level `tests` package another distribution installs
(torch-fidelity ships one)."""
