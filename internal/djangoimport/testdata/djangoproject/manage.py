#!/usr/bin/env python3
"""The fixture project's manage.py (djangoimport's tests run `migrate`)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fixture.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
