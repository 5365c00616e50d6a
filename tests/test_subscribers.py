"""Subscriber CSV files: a good file read and normalized, every kind of bad line reported."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.mail.reader_addresses import (
    check_address,
    clean_name,
    from_spreadsheet_safe,
    spreadsheet_safe,
)
from digest.mail.subscribers import (
    SubscriberRow,
    read_subscriber_csv,
    read_subscriber_file,
    subscriber_file_warnings,
)
from digest.zone_names import _neighbours


def write(tmp_path: Path, text: str, *, bom: bool = False) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


def problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        read_subscriber_csv(path)
    assert caught.value.source == str(path)
    return caught.value.problems


GOOD = (
    "email,name,timezone\r\n"
    "sam@Example.ORG,Sam Haddad,Asia/Dubai\r\n"
    "m.abdullah@example.org,محمد عبد الله,\r\n"
    "\r\n"
    "Rana.K@example.org,,Europe/London\r\n"
    '"dana@example.org","Haddad, Dana",\r\n'
    "lee@example.org\r\n"
)
EXPECTED = [
    SubscriberRow("sam@example.org", "Sam Haddad", "Asia/Dubai"),
    SubscriberRow("m.abdullah@example.org", "محمد عبد الله", None),
    SubscriberRow("Rana.K@example.org", None, "Europe/London"),
    SubscriberRow("dana@example.org", "Haddad, Dana", None),
    SubscriberRow("lee@example.org", None, None),
]


@pytest.mark.parametrize("bom", [False, True])
def test_good_file(tmp_path: Path, bom: bool) -> None:
    assert read_subscriber_csv(write(tmp_path, GOOD, bom=bom)) == EXPECTED


def test_columns_in_any_order_and_optional(tmp_path: Path) -> None:
    path = write(tmp_path, "Timezone, Email\nAsia/Riyadh,a@example.org\n,b@example.org\n")
    assert read_subscriber_csv(path) == [
        SubscriberRow("a@example.org", None, "Asia/Riyadh"),
        SubscriberRow("b@example.org", None, None),
    ]


def test_header_only_is_an_empty_list(tmp_path: Path) -> None:
    assert read_subscriber_csv(write(tmp_path, "email,name,timezone\n")) == []


def test_international_domain_is_encoded_and_lowercased(tmp_path: Path) -> None:
    path = write(tmp_path, "email\nsam@Bücher.Example\n")
    assert read_subscriber_csv(path) == [SubscriberRow("sam@xn--bcher-kva.example", None, None)]


def test_an_international_domain_is_the_one_typed_never_another() -> None:
    # IDNA 2003 (Python's "idna" codec) read "straße" as "strasse" and dropped a joiner: the
    # mail went to another domain, whoever owns it. IDNA 2008 keeps the letters as typed.
    assert check_address("leser@straße.de") == "leser@xn--strae-oqa.de"
    assert check_address("leser@Straße.DE") == "leser@xn--strae-oqa.de"
    # The composed and decomposed forms of one name are one domain.
    composed, decomposed = "sam@b\u00fccher.example", "sam@bu\u0308cher.example"
    assert check_address(composed) == check_address(decomposed) == "sam@xn--bcher-kva.example"
    for hidden in ("a@ex\u200dample.com", "a@ex\u200cample.com"):  # joiners in no script
        with pytest.raises(ValueError, match="invalid domain"):
            check_address(hidden)


def test_a_timezone_that_is_a_folder_of_the_database_costs_its_line_only(tmp_path: Path) -> None:
    # ZoneInfo("Asia") raises IsADirectoryError: the whole file failed to import.
    text = "email,timezone\na@example.org,Asia\nb@example.org,Asia/Dubai\nc@example.org,right/UTC\n"
    read = read_subscriber_file(write(tmp_path, text))
    assert read.rows == [SubscriberRow("b@example.org", None, "Asia/Dubai")]
    assert [line for line, _ in read.refused] == ["line 2", "line 4"]
    assert all("unknown timezone" in why for _, why in read.refused)


def test_a_timezone_typed_in_another_case_is_kept_as_the_database_spells_it(
    tmp_path: Path,
) -> None:
    # A spreadsheet's "Europe/london" or "utc" cost the reader their place on the list; the
    # names differ only in case, none of them from another, so nothing is guessed.
    text = (
        "email,timezone\n"
        "a@example.org,Europe/london\n"
        "b@example.org,utc\n"
        "c@example.org, ASIA/DUBAI \n"
        "d@example.org,GMT+3\n"
    )
    read = read_subscriber_file(write(tmp_path, text))
    assert read.rows == [
        SubscriberRow("a@example.org", None, "Europe/London"),
        SubscriberRow("b@example.org", None, "UTC"),
        SubscriberRow("c@example.org", None, "Asia/Dubai"),
    ]
    assert read.refused == [
        (
            "line 5",
            "unknown timezone 'GMT+3': use an IANA name such as 'Asia/Dubai'; for an offset, "
            "name a city in its zone: the database's 'Etc/GMT' zones have the sign reversed "
            "('Etc/GMT-3' is UTC+3)",
        )
    ]


@pytest.mark.parametrize(
    "header",
    ["E-mail Address;Name;Time Zone", "Email Address;NAME;time zone", " e-mail ; name ; timezone "],
)
def test_a_header_as_spreadsheets_and_mail_programs_name_the_columns_is_read(
    tmp_path: Path, header: str
) -> None:
    # Outlook's and Mailchimp's words for the address, and a timezone in two words, refused the
    # whole file as having no 'email' column.
    text = f"{header}\nsam@example.org;Sam;Asia/Dubai\nli@example.org;Li;\n"
    assert read_subscriber_csv(write(tmp_path, text)) == [
        SubscriberRow("sam@example.org", "Sam", "Asia/Dubai"),
        SubscriberRow("li@example.org", "Li", None),
    ]


def test_names_lose_control_characters(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,name\neve@example.org,"Eve\r\nBcc: x@example.net\x00\u2028 "\n')
    assert read_subscriber_csv(path) == [
        SubscriberRow("eve@example.org", "Eve Bcc: x@example.net", None)
    ]


def test_an_address_of_the_longest_length_mail_allows_is_taken_and_a_longer_one_refused() -> None:
    domain = ".".join(["b" * 63, "c" * 63, "d" * 57, "org"])
    longest = f"{'a' * 64}@{domain}"  # RFC 5321: 254 characters
    assert len(longest) == 254 and check_address(longest) == longest
    with pytest.raises(ValueError, match=r"^email of 255 characters: at most 254$"):
        check_address("a" + longest)


@pytest.mark.parametrize("address", ["@example.org", "sam@", "sam"])
def test_an_address_without_a_name_or_a_domain_is_refused_saying_what_one_looks_like(
    address: str,
) -> None:
    with pytest.raises(ValueError) as refused:
        check_address(address)
    assert str(refused.value) == f"{address!r} is not an email address (expected name@domain)"


@pytest.mark.parametrize(
    "address", [".sam@example.org", "sam.@example.org", "s..am@example.org", "sam@home@example.org"]
)
def test_a_dot_at_an_end_two_in_a_row_or_an_at_before_the_last_at_is_refused(address: str) -> None:
    # Outside RFC 5322's dot-atom: mail servers refuse them, and so each send would fail.
    with pytest.raises(ValueError) as refused:
        check_address(address)
    assert str(refused.value) == (
        f"{address!r} is not an email address we can send to (the part before @ must be plain "
        "ASCII letters, digits or . _ + -)"
    )
    assert check_address("s.am@example.org") == "s.am@example.org"


@pytest.mark.parametrize("address", ["علي@example.com", "josé@example.org", "דני@מבחן.ישראל"])
def test_an_address_with_other_letters_before_the_at_is_refused_saying_why(address: str) -> None:
    # An address by RFC 6531, which only SMTPUTF8 carries: "the part before @ must be plain
    # ASCII" read as if the operator had mistyped it.
    with pytest.raises(ValueError) as refused:
        check_address(address)
    assert str(refused.value) == (
        f"{address!r} has letters outside ASCII before the @: such an address needs SMTPUTF8 "
        "from every mail server on its way, which this mailer does not use; ask its owner for "
        "another address"
    )


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("sam@printer.local", "special-use or reserved name"),
        ("sam@example.123", "not within a valid top-level domain"),
    ],
)
def test_an_address_at_a_domain_mail_cannot_reach_is_refused_saying_why(
    address: str, problem: str
) -> None:
    with pytest.raises(ValueError) as refused:
        check_address(address)
    assert str(refused.value).startswith(f"{address!r} is not an email address we can send to: ")
    assert problem in str(refused.value)


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("'=x", "''=x"),  # its own "'" kept: read back, it is still "'=x"
        ("X-Ray Haddad", "X-Ray Haddad"),  # a formula's character after the start is text
        ("Sam O'Neil", "Sam O'Neil"),
    ],
)
def test_a_name_is_written_for_a_spreadsheet_as_text_and_read_back_as_itself(
    name: str, written: str
) -> None:
    assert spreadsheet_safe(name) == written
    assert from_spreadsheet_safe(written) == name


def test_clean_name_keeps_persian_zero_width_non_joiner() -> None:
    assert clean_name("می\u200cخواهم") == "می\u200cخواهم"
    assert clean_name("  Sam \t Haddad ") == "Sam Haddad"
    assert clean_name("\r\n") is None
    assert clean_name(None) is None


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,timezone\n"
        "sam@example.org,Sam,Asia/Dubai\n"  # 2 good
        ",No Address,\n"  # 3 missing email
        "not-an-address,Someone,\n"  # 4 no @
        "a b@example.org,,\n"  # 5 space in the local part
        "x@localhost,,\n"  # 6 domain without a dot
        "x@exa_mple.org,,\n"  # 7 bad domain label
        "rana@example.org,Rana,Mars/Olympus_Mons\n"  # 8 unknown timezone
        "SAM@EXAMPLE.ORG,Sam again,\n"  # 9 duplicate of line 2
        "lee@example.org,Lee,UTC,extra\n"  # 10 too many fields
        "ok@example.org,,../../etc/passwd\n",  # 11 a path is not a timezone
    )
    found = problems(path)
    assert [where for where, _ in found] == [f"line {n}" for n in range(3, 12)]
    reasons = dict(found)
    assert reasons["line 3"] == "missing email"
    assert "not an email address" in reasons["line 4"]
    assert "a b@example.org" in reasons["line 5"]
    assert "invalid domain" in reasons["line 6"]
    assert "invalid domain" in reasons["line 7"]
    assert "unknown timezone 'Mars/Olympus_Mons'" in reasons["line 8"]
    assert "duplicate email 'SAM@example.org' (first on line 2)" in reasons["line 9"]
    assert "4 fields" in reasons["line 10"]
    assert "unknown timezone" in reasons["line 11"]
    assert f"{path}: line 8: unknown timezone" in str(ConfigError(str(path), found))


def test_unknown_column_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "email,name,city\nsam@example.org,Sam,Dubai\n"))
    assert found == [("line 1", "unknown column 'city': the columns are email, name, timezone")]


def test_a_file_of_thousands_of_unknown_columns_is_one_problem(tmp_path: Path) -> None:
    # Each unknown column was a problem of its own: a wide file of another program gave the
    # operator a line for each of its 20,000 columns.
    header = ",".join(["email", *(f"field{n}" for n in range(20_000))])
    found = problems(write(tmp_path, header + "\nsam@example.org\n"))
    assert found == [
        (
            "line 1",
            "20000 unknown columns ('field0', 'field1', 'field2', 'field3', 'field4'…): "
            "the columns are email, name, timezone",
        )
    ]


def test_the_empty_column_a_spreadsheet_adds_at_the_end_is_left_out(tmp_path: Path) -> None:
    # A spreadsheet saves a column that was once formatted as an empty one, with no name: the
    # file was refused whole ("unknown column ''"), and rows with a trailing comma too.
    path = write(
        tmp_path,
        "email,name,timezone,\r\n"
        "sam@example.org,Sam,Asia/Dubai,\r\n"
        "rana@example.org,Rana,,,\r\n"  # one more empty field than the header
        "li@example.org,Li,,stray\r\n"  # a value under no name: only this row is refused
        "lee@example.org,Lee,,,x\r\n",  # and one past the header
    )
    read = read_subscriber_file(path)
    assert read.rows == [
        SubscriberRow("sam@example.org", "Sam", "Asia/Dubai"),
        SubscriberRow("rana@example.org", "Rana", None),
    ]
    assert read.refused == [
        ("line 4", "'stray' is in column 4, which the header row leaves unnamed"),
        ("line 5", "5 fields but the header names 4"),
    ]


def test_a_file_saved_with_semicolons_or_tabs_between_its_columns_is_read(tmp_path: Path) -> None:
    # A spreadsheet set to a language whose decimal mark is a comma saves "CSV" with semicolons
    # (and a byte order mark, and CRLF): the file was refused whole, its header read as one
    # unknown column "email;name;timezone".
    semicolons = write(
        tmp_path,
        "Email;Name;Timezone\r\n"
        'sam@example.org;"Haddad, Sam";Asia/Dubai\r\n'
        "rana@example.org;Rana, Y.;\r\n"
        "broken;x;\r\n",
        bom=True,
    )
    read = read_subscriber_file(semicolons)
    assert read.rows == [
        SubscriberRow("sam@example.org", "Haddad, Sam", "Asia/Dubai"),
        SubscriberRow("rana@example.org", "Rana, Y.", None),
    ]
    assert [where for where, _ in read.refused] == ["line 4"]
    tabs = tmp_path / "tabs.tsv"
    tabs.write_text("email\tname\nli@example.org\tLi; Wei\n")
    assert read_subscriber_file(tabs).rows == [SubscriberRow("li@example.org", "Li; Wei", None)]
    # A comma-separated file whose names hold semicolons is read by its commas, as before.
    commas = tmp_path / "commas.csv"
    commas.write_text("email,name\nlee@example.org,Lee; Jr\n")
    assert read_subscriber_file(commas).rows == [SubscriberRow("lee@example.org", "Lee; Jr", None)]


def test_an_address_pasted_with_its_name_or_brackets_is_refused_saying_what_to_write(
    tmp_path: Path,
) -> None:
    # Copied from a mail program's "To:" field: the refusal spoke of the part before the @,
    # which had nothing to do with what was wrong.
    path = write(
        tmp_path,
        "email,name\n"
        '"Jane Doe <jane@example.org>",Jane\n'
        "<sam@example.org>,Sam\n"
        "li@example.org,Li\n",
    )
    read = read_subscriber_file(path)
    assert read.rows == [SubscriberRow("li@example.org", "Li", None)]
    assert read.refused == [
        (
            "line 2",
            "'Jane Doe <jane@example.org>' is written as a mail program shows it: write the "
            "address alone, 'jane@example.org'",
        ),
        (
            "line 3",
            "'<sam@example.org>' is written as a mail program shows it: write the address "
            "alone, 'sam@example.org'",
        ),
    ]


def test_missing_email_column_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "name,timezone\nSam,Asia/Dubai\n"))
    assert [where for where, _ in found] == ["line 1"]
    assert "no 'email' column" in found[0][1]


def test_repeated_column_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "email,email\na@example.org,b@example.org\n"))
    assert found == [("line 1", "column 'email' appears twice")]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    assert "empty file" in problems(write(tmp_path, ""))[0][1]


def test_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("email,name\nj@example.org,Jos\xe9\n".encode("latin-1"))
    assert "not UTF-8" in problems(path)[0][1]


def test_a_file_with_one_name_in_another_encoding_is_refused_naming_its_line(
    tmp_path: Path,
) -> None:
    # One name typed on a machine set to Windows-1252, the rest ASCII: "byte 62" alone left
    # the operator to count bytes in a spreadsheet.
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"email,name\r\nsam@example.org,Sam\r\njose@example.org,Jos\xe9\r\nli@example.org,Li\r\n"
    )
    assert problems(path) == [("line 3", "not UTF-8 text (byte 53): save the file as UTF-8")]


@pytest.mark.parametrize(
    ("encoding", "byte_order_mark"),
    [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)],
)
def test_a_unicode_text_file_as_excel_saves_it_is_read(
    tmp_path: Path, encoding: str, byte_order_mark: bytes
) -> None:
    # Excel's "Unicode Text" is UTF-16 behind a byte order mark, its columns tab separated: the
    # mark says what the bytes are, and the Arabic and accented names come through whole.
    text = (
        "email\tname\ttimezone\r\n"
        "sam@example.org\tSiobhán D'Arcy\tEurope/Dublin\r\n"
        "sara@example.org\tسارة النعيمي\t\r\n"
        "not-an-address\tNobody\t\r\n"
    )
    path = tmp_path / "unicode-text.csv"
    path.write_bytes(byte_order_mark + text.encode(encoding))
    read = read_subscriber_file(path)
    assert read.rows == [
        SubscriberRow("sam@example.org", "Siobhán D'Arcy", "Europe/Dublin"),
        SubscriberRow("sara@example.org", "سارة النعيمي", None),
    ]
    assert [line for line, _ in read.refused] == ["line 4"]


def test_a_unicode_text_file_cut_in_the_middle_of_a_character_names_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "email\r\na@example.org\r\nb".encode("utf-16-le")[:-1])
    assert problems(path) == [("line 3", "not UTF-16 text (byte 46): save the file as UTF-8")]


def _xlsx_bytes(tmp_path: Path) -> bytes:
    """What a workbook's file holds: a ZIP archive of XML parts (.xlsx, .ods)."""
    workbook = tmp_path / "workbook.zip"
    with zipfile.ZipFile(workbook, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>" * 50)
        archive.writestr("xl/worksheets/sheet1.xml", "<sheetData>sam@example.org</sheetData>")
    return workbook.read_bytes()


@pytest.mark.parametrize("kind", ["xlsx", "xls"])
def test_a_workbook_renamed_csv_is_refused_as_a_workbook(tmp_path: Path, kind: str) -> None:
    # Renamed, not saved as CSV: "line 2: not UTF-8 text (byte 142)" sent the operator to look
    # for a name typed in another encoding on a line the file does not have.
    path = tmp_path / "readers.csv"
    if kind == "xlsx":
        path.write_bytes(_xlsx_bytes(tmp_path))
    else:  # the OLE2 compound file of Excel 97-2003
        path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4)
    assert problems(path) == [
        (
            "",
            "a spreadsheet workbook (.xlsx, .xls or .ods), not CSV text: save it from the "
            "spreadsheet as CSV UTF-8",
        )
    ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_unicode_text_file_without_its_byte_order_mark_is_refused_as_such(
    tmp_path: Path, encoding: str
) -> None:
    # Every other byte NUL is valid UTF-8: the header read as "e\x00m\x00a\x00i\x00l\x00",
    # refused as an unknown column with no word of the encoding.
    path = tmp_path / "no-mark.csv"
    path.write_bytes("email,name\r\nsam@example.org,Sam\r\n".encode(encoding))
    assert problems(path) == [
        (
            "line 1",
            "NUL bytes in the header row, as in UTF-16 text without its byte order mark: "
            "save the file as UTF-8",
        )
    ]


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.csv") == [("", "subscriber file not found")]


def test_broken_csv_quoting_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, 'email,name\na@example.org,"Sam "Quoted" Haddad\n'))
    assert "not valid CSV" in found[0][1]


def test_a_row_with_line_breaks_in_a_quoted_field_is_named_by_the_line_it_starts_on(
    tmp_path: Path,
) -> None:
    # An address book exports a note or a postal address with its line breaks, quoted.
    path = write(
        tmp_path,
        "email,name\n"  # 1
        'sam@example.org,"Sam\nHaddad"\n'  # 2-3
        "\n"  # 4 blank
        'not-an-address,"Rana\n\nYousef"\n'  # 5-7
        "li@example.org,Li\n"  # 8
        'SAM@example.org,"Sam\nagain"\n',  # 9-10
    )
    found = problems(path)
    assert [where for where, _ in found] == ["line 5", "line 9"]
    assert "(first on line 2)" in found[1][1]


def test_an_unclosed_quote_is_named_by_the_line_it_opens_on(tmp_path: Path) -> None:
    path = write(tmp_path, 'email,name\nsam@example.org,"Sam\nli@example.org,Li\nx@example.org,X\n')
    [(where, why)] = problems(path)
    assert (where, why) == ("line 2", "not valid CSV: unexpected end of data")


def test_a_bad_line_costs_that_line_only(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,timezone\n"
        "sam@example.org,Sam,Asia/Dubai\n"
        "not-an-address,Someone,\n"
        "rana@example.org,Rana,Mars/Olympus_Mons\n"
        "SAM@EXAMPLE.ORG,Sam again,\n"
        "lee@example.org,Lee,\n",
    )
    read = read_subscriber_file(path)
    assert read.rows == [
        SubscriberRow("sam@example.org", "Sam", "Asia/Dubai"),
        SubscriberRow("lee@example.org", "Lee", None),
    ]
    assert [where for where, _ in read.refused] == ["line 3", "line 4", "line 5"]
    [warning, *_] = subscriber_file_warnings(path, read.refused, "daily")
    assert warning.startswith(f"{path}: line 3: 'not-an-address' is not an email address")
    assert warning.endswith("(this row is left out; list 'daily' goes to the others)")


def test_a_file_that_cannot_be_read_as_a_whole_still_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown column 'mail'"):
        read_subscriber_file(write(tmp_path, "mail,name\nsam@example.org,Sam\n"))


@pytest.mark.parametrize(
    "above",
    ["\r\n", "\r\n  \r\n", ";;\r\n", '"";"";""\r\n'],
    ids=["blank", "spaces", "seps", "quotes"],
)
def test_blank_rows_above_the_header_are_skipped(tmp_path: Path, above: str) -> None:
    # A sheet whose first row was left empty is saved with a line of separators (or nothing)
    # above the header: the blank line was taken for the header, and the file refused whole as
    # having "no 'email' column" while its header was right below.
    path = write(tmp_path, f"{above}Email;Name\r\nsam@example.org;Sam\r\nbroken;Rana\r\n")
    read = read_subscriber_file(path)
    assert read.rows == [SubscriberRow("sam@example.org", "Sam", None)]
    header_line = above.count("\n") + 1
    assert [where for where, _ in read.refused] == [f"line {header_line + 2}"]
    assert read.rows[0].line == header_line + 1
    # The header's own problems are named by its line, not by the blank one above it.
    unknown = write(tmp_path, f"{above}Email;City\r\nsam@example.org;Dubai\r\n")
    assert problems(unknown) == [
        (f"line {header_line}", "unknown column 'city': the columns are email, name, timezone")
    ]


@pytest.mark.parametrize("declaration", ["sep=;", '"sep=;"', "sep=;;"])
def test_the_separator_line_excel_reads_is_taken_as_the_separator(
    tmp_path: Path, declaration: str
) -> None:
    # Files written for Excel start with "sep=;", which Excel reads as the separator and does
    # not show: the file was refused whole, its header taken for an unknown column 'sep=;'.
    path = write(
        tmp_path,
        f"{declaration}\r\nEmail;Name\r\nsam@example.org;Haddad, Sam\r\nbroken;Rana\r\n",
    )
    read = read_subscriber_file(path)
    assert read.rows == [SubscriberRow("sam@example.org", "Haddad, Sam", None)]
    assert read.rows[0].line == 3
    assert [where for where, _ in read.refused] == ["line 4"]


def test_a_timezone_typed_with_spaces_for_underscores_is_read(tmp_path: Path) -> None:
    # The database writes "New_York" and "Buenos_Aires" with underscores; people type what
    # they say. A reader in New York cost their row for a space no zone name can hold.
    text = "email,timezone\na@example.org,America/New York\nb@example.org, america/buenos  aires\n"
    read = read_subscriber_file(write(tmp_path, text))
    assert read.rows == [
        SubscriberRow("a@example.org", None, "America/New_York"),
        SubscriberRow("b@example.org", None, "America/Buenos_Aires"),
    ]
    assert read.refused == []


def test_an_unknown_timezone_is_answered_with_the_zone_it_was_meant_to_be(
    tmp_path: Path,
) -> None:
    # "Use an IANA name" left the operator to find the typo, and for an offset sent them to the
    # database's "Etc/GMT+3", which is three hours behind UTC: the readers' mail came six hours
    # off, without a word.
    text = (
        "email,timezone\na@example.org,Europe/Londn\nb@example.org,GMT+3\nc@example.org,Nowhere\n"
    )
    read = read_subscriber_file(write(tmp_path, text))
    assert read.rows == []
    assert read.refused == [
        (
            "line 2",
            "unknown timezone 'Europe/Londn': use an IANA name such as 'Asia/Dubai'; "
            "did you mean 'Europe/London'?",
        ),
        (
            "line 3",
            "unknown timezone 'GMT+3': use an IANA name such as 'Asia/Dubai'; for an offset, "
            "name a city in its zone: the database's 'Etc/GMT' zones have the sign reversed "
            "('Etc/GMT-3' is UTC+3)",
        ),
        ("line 4", "unknown timezone 'Nowhere': use an IANA name such as 'Asia/Dubai'"),
    ]


def test_a_column_of_other_data_under_timezone_costs_no_search_of_every_zone() -> None:
    # A street or a city on each row under the header "timezone" was compared with every zone
    # whose name starts with its letter, 200 for an "A": a millisecond and more a row, minutes
    # for a file of 200,000. A typo is looked for among the zone's neighbours only.
    assert len(_neighbours("amsterdam, keizersgracht 12")) < 60
    assert "europe/london" in _neighbours("europe/londn")
    assert "europe/london" in _neighbours("eurpe/london")
    assert all(
        name.startswith("europe/") or name.endswith("/londn")
        for name in _neighbours("europe/londn")
    )


def test_a_header_behind_a_second_byte_order_mark_is_read(tmp_path: Path) -> None:
    # A file saved with a byte order mark by one program and given another by the next (a
    # script that writes the mark before text that has one): the header's first name was
    # "\ufeffemail", an unknown column, and the file was refused for having no 'email' column.
    path = tmp_path / "twice.csv"
    path.write_bytes(codecs.BOM_UTF8 * 2 + b"email,name\r\nsam@example.org,Sam\r\n")
    assert read_subscriber_csv(path) == [SubscriberRow("sam@example.org", "Sam", None)]
    # A spreadsheet set to Arabic or Hebrew marks a cell's direction with an invisible mark.
    marked = write(tmp_path, "\u200fEmail,\u200fName\nsam@example.org,Sam\n")
    assert read_subscriber_csv(marked) == [SubscriberRow("sam@example.org", "Sam", None)]


def test_invisible_marks_around_a_cell_of_a_right_to_left_sheet_are_left_out(
    tmp_path: Path,
) -> None:
    # A sheet set to Arabic or Hebrew keeps a left-to-right mark around a cell of Latin text,
    # an address or a zone: the reader's row was refused ("not an email address we can send
    # to", "unknown timezone") for a character no one can see. One inside an address still
    # refuses it: that is no address.
    text = (
        "email,name,timezone\n"
        "\u200esam@example.org\u200e,سارة,\u200eAsia/Dubai\u200e\n"
        "\ufeffli@example.org,Li,\n"
        "ra\u200bna@example.org,Rana,\n"
    )
    read = read_subscriber_file(write(tmp_path, text))
    assert read.rows == [
        SubscriberRow("sam@example.org", "سارة", "Asia/Dubai"),
        SubscriberRow("li@example.org", "Li", None),
    ]
    assert [where for where, _ in read.refused] == ["line 4"]


def test_the_end_of_file_mark_of_old_dos_programs_is_no_row(tmp_path: Path) -> None:
    # "copy /a" and old DOS exports end a text file with Ctrl-Z (U+001A): its last line was
    # refused ("'\x1a' is not an email address") at every import and every cycle's warnings.
    path = write(tmp_path, "email,name\r\nsam@example.org,Sam\r\n\x1a")
    read = read_subscriber_file(path)
    assert read.rows == [SubscriberRow("sam@example.org", "Sam", None)]
    assert read.refused == []
