"""Fills the fixture project's database after `manage.py migrate`: users
made by Django's own create_user and make_password (so their hashes are
Django's), allauth's email addresses and social accounts through its
models, and — Debian's allauth 0.51 predating allauth.mfa — the
mfa_authenticator table and rows in allauth 65's format, by SQL.

Every user's password is "<username>-pw-lètmein" unless said otherwise."""
import base64
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fixture.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection  # noqa: E402
from allauth.account.models import EmailAddress  # noqa: E402
from allauth.socialaccount.models import SocialAccount  # noqa: E402

User = get_user_model()
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
RC_SEED = "5f0b1e2d3c4a59687f6e5d4c3b2a19080706050403020100ffeeddccbbaa99887766554433221100aabb"


def pw(name):
    return name + "-pw-lètmein"


def user(name, hasher=None, email="", first="", last="", **kw):
    u = User.objects.create_user(name, email=email, password=pw(name), first_name=first, last_name=last, **kw)
    if hasher:
        u.password = make_password(pw(name), hasher=hasher)
        u.save(update_fields=["password"])
    return u


ann = user("ann", email="ann@example.com", first="Ann", last="Lee")
EmailAddress.objects.create(user=ann, email="ann@example.com", verified=True, primary=True)
EmailAddress.objects.create(user=ann, email="ann.alt@example.com", verified=False, primary=False)
SocialAccount.objects.create(user=ann, provider="google", uid="g-1001", extra_data={"name": "Ann Lee", "email": "ann@example.com"})
ben = user("ben", "pbkdf2_sha1", email="ben@example.com")
EmailAddress.objects.create(user=ben, email="ben@example.com", verified=True, primary=True)
user("cat", "argon2")
user("dan", "bcrypt_sha256")
user("eve", "bcrypt")
user("fay", "md5")
user("gus", "unsalted_md5")
user("hal", "sha1")
# Django 4's ScryptPasswordHasher format (Django 3.2 has none): N, salt, r,
# p and the base64 of a 64-byte key, computed with hashlib as that hasher does.
ivy = user("ivy")
key = hashlib.scrypt(pw("ivy").encode(), salt=b"fixturesalt", n=16384, r=8, p=1, dklen=64, maxmem=0)
ivy.password = "scrypt$16384$fixturesalt$8$1$" + base64.b64encode(key).decode()
ivy.save(update_fields=["password"])
jay = user("jay", is_active=False)
jay.set_unusable_password()
jay.save(update_fields=["password"])
SocialAccount.objects.create(user=jay, provider="github", uid="77", extra_data={"login": "jay"})
kim = user("kim")
kim.password = "crypt$$abN0vsHcaaaaa"  # a format the importer does not take
kim.save(update_fields=["password"])
# lou's address is ann's: reported and skipped.
user("lou", email="ANN@example.com")

with connection.cursor() as c:
    # allauth 65's mfa_authenticator (allauth/mfa/migrations 0001-0003).
    c.execute("""CREATE TABLE mfa_authenticator (
        id bigserial PRIMARY KEY, type varchar(20) NOT NULL, data jsonb NOT NULL,
        user_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
        created_at timestamptz NOT NULL DEFAULT now(), last_used_at timestamptz)""")
    c.execute("CREATE INDEX mfa_authenticator_user_id ON mfa_authenticator (user_id)")
    c.execute("INSERT INTO mfa_authenticator (type, data, user_id) VALUES (%s, %s, %s)",
              ["totp", json.dumps({"secret": TOTP_SECRET}), ann.id])
    # Codes 0 and 2 were used in Django.
    c.execute("INSERT INTO mfa_authenticator (type, data, user_id) VALUES (%s, %s, %s)",
              ["recovery_codes", json.dumps({"seed": RC_SEED, "used_mask": 5}), ann.id])
print(json.dumps({u.username: u.password.split("$")[0] for u in User.objects.order_by("id")}))
