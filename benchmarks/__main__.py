"""`python -m benchmarks <name> [options]`: run one benchmark as the management command it is
written as (BaseCommand gives it its options, --help and output), without registering it in an app."""

from __future__ import annotations

import importlib
import os
import sys

NAMES = ("segments_bench", "dnc_bench", "imports_bench", "xlsx_bench", "counts")
MODULES = {"counts": "counts_bench"}  # a name whose module is called otherwise


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in NAMES:
        sys.exit(f"usage: python -m benchmarks {{{'|'.join(NAMES)}}} [options]")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audience.settings")
    import django

    django.setup()
    command = importlib.import_module(f"benchmarks.{MODULES.get(argv[1], argv[1])}").Command()
    command.run_from_argv(["python -m benchmarks", *argv[1:]])


if __name__ == "__main__":
    main(sys.argv)
