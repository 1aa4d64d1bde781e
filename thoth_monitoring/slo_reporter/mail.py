"""The report as a MIME message, and its delivery over SMTP.

Structure: multipart/alternative of text/plain and multipart/related (text/html plus each chart
as an inline image/png with a Content-ID), so clients without HTML show the text and the others
show the charts without fetching anything.
"""

import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from thoth_monitoring.core.config import Duration
from thoth_monitoring.core.retry import Backoff
from thoth_monitoring.slo_reporter.report import Report

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
Address = Annotated[str, Field(pattern=r"^[^@\s<>,]+@[^@\s<>,]+$")]


class MailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int | None = Field(None, description="default: 465 for ssl, 587 for starttls, 25")
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: Address
    to: list[Address] = Field(min_length=1)
    cc: list[Address] = Field(default_factory=list)
    ca_file: Path | None = None
    timeout: Duration = 30.0
    attempts: int = Field(4, ge=1, le=10)
    backoff: Duration = 2.0

    @model_validator(mode="after")
    def _password_needs_user(self) -> "MailSettings":
        if (self.password or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]

    def password_value(self) -> str | None:
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        return None if self.password is None else self.password.get_secret_value()


def build_message(
    report: Report, settings: MailSettings, subject: str, text: str, html: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    if settings.cc:
        message["Cc"] = ", ".join(settings.cc)
    message["Date"] = format_datetime(report.generated)
    message["Message-ID"] = make_msgid(f"slo-report.{report.week.label}")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = next(part for part in message.iter_parts() if part.get_content_subtype() == "html")
    assert isinstance(html_part, EmailMessage)
    for pair in report.charts.values():
        for chart in pair:
            html_part.add_related(
                chart.png, "image", "png", cid=f"<{chart.cid}>", filename=f"{chart.cid}.png",
                disposition="inline",
            )  # fmt: skip
    return message


def send(message: EmailMessage, settings: MailSettings) -> None:
    """Deliver to every To and Cc; retries transient failures with exponential backoff, raises
    ``smtplib.SMTPException`` or ``OSError`` after the last attempt."""
    backoff = Backoff(initial=settings.backoff, maximum=MAX_BACKOFF_SECONDS)
    for attempt in range(1, settings.attempts + 1):
        delay = backoff.delay(attempt)
        try:
            _send_once(message, settings)
            log.info(
                "report_sent",
                extra={"recipients": len(settings.to) + len(settings.cc), "attempt": attempt},
            )
            return
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused):
            raise
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500 or attempt == settings.attempts:
                raise
            log.warning(
                "send_failed",
                extra={"attempt": attempt, "code": error.smtp_code, "retry_in": round(delay, 0)},
            )
        except (smtplib.SMTPException, OSError) as error:
            if attempt == settings.attempts:
                raise
            log.warning(
                "send_failed",
                extra={"attempt": attempt, "error": repr(error), "retry_in": round(delay, 0)},
            )
        time.sleep(delay)


def _send_once(message: EmailMessage, settings: MailSettings) -> None:
    context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
    port = settings.effective_port
    smtp: smtplib.SMTP
    if settings.security == "ssl":
        smtp = smtplib.SMTP_SSL(settings.host, port, timeout=settings.timeout, context=context)
    else:
        smtp = smtplib.SMTP(settings.host, port, timeout=settings.timeout)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        password = settings.password_value()
        if settings.username and password is not None:
            smtp.login(settings.username, password)
        smtp.send_message(message)
