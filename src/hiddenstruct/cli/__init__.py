"""Command-line interface: one module per command; :mod:`hiddenstruct.cli.main` registers them."""
