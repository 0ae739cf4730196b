"""The one list of standard profile fields agrees with the model, and the lists derived from it
(import mapping, exports, API, rule catalog, profile form) name the same fields."""

from __future__ import annotations

from audience import api_persons, forms
from audience.fields import PROFILE_FIELDS
from audience.models import Profile
from imports import exports, mapping
from segments.rules import catalog


def test_each_field_is_a_profile_column_of_its_type():
    for f in PROFILE_FIELDS:
        column = Profile._meta.get_field(f.name)
        if f.type == "date":
            assert column.get_internal_type() == "DateField"
        else:
            assert column.get_internal_type() == "CharField"
            assert (f.type == "choice") == bool(column.choices)
            if f.choices:
                assert list(f.choices) == list(column.choices)


def test_derived_lists_name_every_field():
    names = [f.name for f in PROFILE_FIELDS]
    assert names == forms.STANDARD_FIELDS
    assert [key for key, _ in exports.PEOPLE_COLUMNS[1 : 1 + len(names)]] == names
    assert set(api_persons.FIELDS.values()) >= set(names)
    assert {spec.key for spec in catalog.STANDARD} >= set(names)
    importable = [f.name for f in PROFILE_FIELDS if f.importable]
    assert [k for k in mapping.PEOPLE_STANDARD if k in names] == importable
    assert importable == [n for n in names if n != "type"]


def test_an_export_header_maps_back_to_its_field(account):
    header = [label for key, label in exports.PEOPLE_COLUMNS if key in {f.name for f in PROFILE_FIELDS}]
    suggested = mapping.mapping_suggest(account=account, kind="people", headers=header)
    assert suggested == [f.name if f.importable else "" for f in PROFILE_FIELDS]
