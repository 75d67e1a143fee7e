"""`python -m ganforge` (and `torchrun -m ganforge`) run the CLI."""

from ganforge.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
