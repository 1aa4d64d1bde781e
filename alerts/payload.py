"""Alertmanager's webhook payload (version 4), tolerant of optional fields newer releases add."""

from pydantic import BaseModel, ConfigDict, Field


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = ""
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""


class Notification(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str = Field(pattern="^4$")
    groupKey: str = Field(min_length=1)
    status: str = Field(pattern="^(firing|resolved)$")
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)
    truncatedAlerts: int = 0
