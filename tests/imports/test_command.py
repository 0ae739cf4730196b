from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from audience.models import Profile
from dnc.models import DncEntryAccount
from tags.models import Tag

pytestmark = pytest.mark.django_db


def _file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_it_imports_people_from_the_command_line(account, tmp_path, capsys):
    path = _file(tmp_path, "p.csv", b"Mobile,Name,Town\n+385912345678,Ana,Zagreb\n099,Bad,Split\n")
    call_command(
        "import_file",
        path,
        "--kind",
        "people",
        "--account",
        "Acme",
        "--map",
        "Mobile=phone",
        "--map",
        "Name=first_name",
        "--type",
        "customer",
        "--tag",
        "Fair",
        "--no-default-tag",
    )
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "created=1 updated=0 unchanged=0 rejected=1"
    assert Profile.objects.get(account=account).type == "customer"
    assert list(Tag.objects.filter(account=account).values_list("name", flat=True)) == ["Fair"]


def test_it_changes_nothing_on_a_dry_run(account, tmp_path, capsys):
    path = _file(tmp_path, "p.csv", b"Email\na@example.com\n")
    call_command("import_file", path, "--kind", "people", "--account", "Acme", "--dry-run")
    assert capsys.readouterr().out.strip().splitlines()[-1] == "created=1 updated=0 unchanged=0 rejected=0"
    assert not Profile.objects.exists()


def test_it_imports_do_not_contact_entries_into_several_accounts(account, other_account, tmp_path, capsys):
    path = _file(tmp_path, "d.csv", b"contact,channel\n+385912345678,SMS\n")
    call_command(
        "import_file",
        path,
        "--kind",
        "dnc",
        "--account",
        "Acme",
        "--accounts",
        "Acme,Globex",
        "--skip-rows",
        "0",
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == "created=1 updated=0 unchanged=0 rejected=0"
    assert DncEntryAccount.objects.filter(account=other_account).exists()


@pytest.mark.parametrize(
    ("name", "data", "args", "reason"),
    [
        ("p.pdf", b"%PDF", [], "can't be imported"),
        ("p.csv", b"", [], "is empty"),
        ("p.csv", b"City\nZagreb\n", [], "Map at least one column"),
        ("p.csv", b"Email\na@example.com\n", ["--map", "Nope=email"], "There is no column"),
        ("p.csv", b"Email\na@example.com\n", ["--skip-rows", "-3"], "--skip-rows -3: skip 0 rows or more"),
        (
            "p.csv",
            b"Email,City\na@example.com,Pula\n",
            ["--no-suggest", "--map", "City=city"],
            "Map at least one",
        ),
    ],
)
def test_it_exits_2_with_a_reason_when_the_file_is_refused(account, tmp_path, name, data, args, reason):
    path = _file(tmp_path, name, data)
    with pytest.raises(CommandError, match=reason) as error:
        call_command("import_file", path, "--kind", "people", "--account", "Acme", *args)
    assert error.value.returncode == 2


PEOPLE = b"Email,First name,Phone,Town\na@example.com,Ana,+385912345678,Pula\nb@example.com,Ivo,,Split\n"


def test_it_adds_map_to_the_suggested_mapping_as_the_screen_does(account, tmp_path, capsys):
    """--map Town=city adds to the suggestions (email, first name, phone), as the browser
    starts from them: the same file gives the same counts in both."""
    path = _file(tmp_path, "p.csv", PEOPLE)
    call_command("import_file", path, "--kind", "people", "--account", "Acme", "--map", "Town=city")
    assert capsys.readouterr().out.strip().splitlines()[-1] == "created=2 updated=0 unchanged=0 rejected=0"
    ana = Profile.objects.get(account=account, first_name="Ana")
    assert ana.city == "Pula" and ana.contacts.filter(value="+385912345678").exists()


def test_it_overrides_or_skips_a_suggested_column_with_map(account, tmp_path, capsys):
    path = _file(tmp_path, "p.csv", PEOPLE)
    args = ["--kind", "people", "--account", "Acme", "--map", "First name=last_name", "--map", "Phone="]
    call_command("import_file", path, *args)
    ana = Profile.objects.get(account=account, last_name="Ana")
    assert ana.first_name == "" and not ana.contacts.filter(kind="phone").exists()


def test_it_maps_only_the_map_columns_with_no_suggest(account, tmp_path, capsys):
    path = _file(tmp_path, "p.csv", PEOPLE)
    call_command(
        "import_file", path, "--kind", "people", "--account", "Acme", "--no-suggest", "--map", "Email=email"
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == "created=2 updated=0 unchanged=0 rejected=0"
    assert list(Profile.objects.filter(account=account).values_list("first_name", flat=True)) == ["", ""]


@pytest.mark.parametrize("args", [[], ["--no-header"]])
def test_it_keeps_the_first_number_of_a_file_without_header(account, tmp_path, capsys, args):
    path = _file(tmp_path, "numbers.txt", b"+385912345678\n+385912345679\n")
    call_command("import_file", path, "--kind", "dnc", "--account", "Acme", *args)
    assert capsys.readouterr().out.strip().splitlines()[-1] == "created=2 updated=0 unchanged=0 rejected=0"
    assert DncEntryAccount.objects.filter(account=account, value="+385912345678").exists()


def test_it_reads_a_header_declared_on_the_command_line(account, tmp_path, capsys):
    path = _file(tmp_path, "numbers.txt", b"385912345678\n+385912345679\n")
    call_command(
        "import_file", path, "--kind", "dnc", "--account", "Acme", "--header", "--map", "385912345678=contact"
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == "created=1 updated=0 unchanged=0 rejected=0"
