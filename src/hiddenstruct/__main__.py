"""`python -m hiddenstruct` behaves exactly like the `hiddenstruct` console script."""

from hiddenstruct.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
