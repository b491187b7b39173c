"""The `simcare` console script: Django's manage.py with the product's own commands.

`simcare import-numbers` runs the command import_numbers: hyphens on the
command line, underscores in Python. `--data-dir` (demo) and the environment
variable SIMCARE_DATA_DIR choose where the embedded database lives; it must be
known before settings load, so it is read here.
"""

from __future__ import annotations

import os
import sys


def _apply_data_dir(argv: list[str]) -> list[str]:
    remaining: list[str] = []
    iterator = iter(argv)
    for argument in iterator:
        if argument == "--data-dir":
            value = next(iterator, None)
            if value is None:
                sys.stderr.write("simcare: --data-dir needs a directory\n")
                raise SystemExit(2)
            os.environ["SIMCARE_DATA_DIR"] = os.path.abspath(value)
        elif argument.startswith("--data-dir="):
            os.environ["SIMCARE_DATA_DIR"] = os.path.abspath(argument.split("=", 1)[1])
        else:
            remaining.append(argument)
    return remaining


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    if len(argv) > 1:
        argv = [argv[0], argv[1].replace("-", "_"), *_apply_data_dir(argv[2:])]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
