"""Scheduled usage reports: which period is due, what a report says, and sending it once.

A report is a view of the dashboard for a whole past period: it enters at the service layer
as the /usage page does, with the tenant's own scope (services.tenancy), and says its numbers
in the page's words (presenters). `send_due` is what the queue runs every day.
"""

from .content import Report, ReportUnavailable, build_report, report_link
from .periods import GRACE_DAYS, Period, due_period, last_whole, parse_period_key
from .sending import record_send, report_addresses, send_due, send_now

__all__ = [
    "GRACE_DAYS",
    "Period",
    "Report",
    "ReportUnavailable",
    "build_report",
    "due_period",
    "last_whole",
    "parse_period_key",
    "record_send",
    "report_addresses",
    "report_link",
    "send_due",
    "send_now",
]
