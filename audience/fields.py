"""The standard profile fields: the `Profile` columns a person fills in, defined once. The profile
form, the demo data, imports (mapping and writing), exports, the REST API and the rule catalog
derive their lists from `PROFILE_FIELDS`; adding a standard field starts here (and in the model).

Each field has:
- `name`: the `Profile` column, and the key rules, import mappings and merge fields use;
- `label`: on screens and in the rule editor;
- `type`: "text", "choice" (with `choices`) or "date";
- `api_name`: in the REST API (`/people/2/persons`);
- `export_column`: the header of People exports, and the field's name on the import screen;
- `aliases`: import headers that name it, normalised (lowercase letters and digits); a field
  with none is not importable (`type`: an import's options say whether rows are leads or
  customers).
"""

from __future__ import annotations

from dataclasses import dataclass

from audience.models import Gender, ProfileType


@dataclass(frozen=True)
class StandardField:
    name: str
    label: str
    type: str
    api_name: str
    export_column: str
    aliases: tuple[str, ...] = ()
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def importable(self) -> bool:
        return bool(self.aliases)

    @property
    def empty(self) -> str | None:
        """The stored value of an empty field: "" (text is never NULL), None for a date."""
        return None if self.type == "date" else ""


# In the order of the profile form and of the People export's columns.
PROFILE_FIELDS: tuple[StandardField, ...] = (
    StandardField(
        "external_id",
        "External ID",
        "text",
        "externalId",
        "External id",
        ("externalid", "externalpersonid", "customerid", "clientid", "personid", "id", "userid"),
    ),
    StandardField("type", "Type", "choice", "type", "Type", choices=tuple(ProfileType.choices)),
    StandardField(
        "first_name",
        "First name",
        "text",
        "firstName",
        "First name",
        ("firstname", "givenname", "first", "forename", "name"),
    ),
    StandardField(
        "middle_name", "Middle name", "text", "middleName", "Middle name", ("middlename", "middle")
    ),
    StandardField(
        "last_name",
        "Last name",
        "text",
        "lastName",
        "Last name",
        ("lastname", "surname", "familyname", "last"),
    ),
    StandardField(
        "gender", "Gender", "choice", "gender", "Gender", ("gender", "sex"), choices=tuple(Gender.choices)
    ),
    StandardField(
        "birth_date",
        "Birth date",
        "date",
        "birthDate",
        "Birth date",
        ("birthdate", "dateofbirth", "dob", "birthday", "born"),
    ),
    StandardField("city", "City", "text", "city", "City", ("city", "town")),
    StandardField("country", "Country", "text", "country", "Country", ("country", "countrycode")),
    StandardField("address", "Address", "text", "address", "Address", ("address", "street", "streetaddress")),
    StandardField(
        "preferred_language",
        "Preferred language",
        "text",
        "preferredLanguage",
        "Preferred language",
        ("preferredlanguage", "language", "lang", "locale"),
    ),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in PROFILE_FIELDS)
BY_NAME: dict[str, StandardField] = {f.name: f for f in PROFILE_FIELDS}
IMPORTABLE: tuple[StandardField, ...] = tuple(f for f in PROFILE_FIELDS if f.importable)
TEXT_NAMES: tuple[str, ...] = tuple(f.name for f in PROFILE_FIELDS if f.type == "text")
# A person's name parts: the rule editor lists them first.
NAME_FIELDS: tuple[str, ...] = ("first_name", "middle_name", "last_name")
