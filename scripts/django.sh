#!/usr/bin/env bash
# Installs Debian's Django and django-allauth (and the drivers and hashers
# Django's password hashers use) for the `hallpass import django` tests
# (internal/djangoimport: they build the source database with Django's own
# migrate and create_user), if they are not installed yet. Idempotent;
# `make test` runs it. The tests run Debian's /usr/bin/python3, whatever
# python3 comes first on PATH.
set -euo pipefail

PACKAGES=(python3-django python3-django-allauth python3-psycopg2 python3-argon2 python3-bcrypt)
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import django, allauth, psycopg2, argon2, bcrypt' >/dev/null 2>&1; then
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "django.sh: Django is missing and installing it needs root (apt-get install ${PACKAGES[*]})" >&2
		exit 1
	fi
fi

echo ">> installing ${PACKAGES[*]} (Debian packages) for the Django import tests"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
/usr/bin/python3 -c 'import django, allauth, psycopg2, argon2, bcrypt' || { echo "django.sh: Django still not importable after install" >&2; exit 1; }
echo ">> Django $(/usr/bin/python3 -c 'import django; print(django.get_version())')"
