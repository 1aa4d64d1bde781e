"""Connection strings: URLs and libpq key=value strings, checked, shown without secrets."""

import pytest

from exporters.database import connection_parameters, redact
from exporters.health.connection import database_name


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://monitor:S3cret@db.example:5433/thoth?sslmode=require",
        "host=db.example port=5433 dbname=thoth user=monitor password=S3cret sslmode=require",
    ],
)
def test_urls_and_key_value_strings_show_only_where_they_point(url: str) -> None:
    assert redact(url) == "host=db.example port=5433 dbname=thoth user=monitor"
    assert database_name(url) == "thoth"


def test_database_name_defaults_like_libpq() -> None:
    assert database_name("postgresql://monitor@db") == "monitor"
    assert database_name("host=db") == "postgres"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://m:S3cret@db:notaport/thoth", "port 'notaport' is not a number"),
        ("postgresql://m:S3cret@db:70000/thoth", "port '70000' is not a number"),
        ("postgresql://m:S3cret@[::1/thoth", 'looking for matching "]" in IPv6 host address'),
        ("mysql://m:S3cret@db/thoth", "mysql:// is not a PostgreSQL URL"),
        ("host=db password=S3cret nonsense", 'missing "=" after "nonsense"'),
    ],
)
def test_malformed_connection_strings_are_explained_without_the_input(
    url: str, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        connection_parameters(url)
    assert message in str(caught.value)
    assert "S3cret" not in str(caught.value)
