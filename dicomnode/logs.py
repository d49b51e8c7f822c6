"""The node's logging: one line format, and no patient values in any log line.

pydicom and highdicom put element values in their messages (pydicom's "Invalid value for VR
PN: 'Doe'", highdicom's warning about a single-component patient name quotes the name), and
pynetdicom dumps data sets at DEBUG. :class:`PhiFilter`, attached to every handler of the
node's processes (:func:`protect_logs`), therefore

- drops the INFO and DEBUG records of pydicom, highdicom and pynetdicom (with their values
  withheld nothing would be left of them; pynetdicom's dump whole data sets);
- replaces their warnings and errors (but pynetdicom's, which are its own protocol text) by
  a fixed text naming the logger and the place it logged from, keeping no value;
- replaces every Python warning (routed through logging by :func:`protect_logs`; libraries
  often quote values in them) by its category and the place it was raised from;
- redacts, in every other record and its traceback, what looks like a patient value: DICOM
  person names (``Family^Given``), the value after a patient keyword (``PatientID=...``,
  ``Patient's Name: ...``), after a patient-module tag (``(0010,0010) ...``) and after
  pydicom's "Invalid value for VR XX:".
"""

from __future__ import annotations

import logging
import re

LOG_FORMAT = "%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s"
"""The line format of the node's processes."""
WITHHELD = "text withheld: it may hold patient data"
"""Said in place of a message that was dropped."""
REDACTED = "<withheld>"
"""Put in place of a redacted value."""
DICOM_LOGGERS = ("pydicom", "highdicom", "pynetdicom")
"""Libraries that log element values."""
OWN_TEXT_LOGGERS = ("pynetdicom",)
"""Of those, the ones whose WARNING and higher messages are their own (protocol) text."""
WARNINGS_LOGGER = "py.warnings"
"""Logger of the warnings routed through logging (:func:`logging.captureWarnings`)."""

_PHI_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientSex",
    "PatientAge", "PatientAddress", "PatientTelephoneNumbers", "OtherPatientIDs",
    "OtherPatientNames", "PatientMotherBirthName", "IssuerOfPatientID", "AccessionNumber",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
    "RequestingPhysician", "InstitutionName", "InstitutionAddress", "StudyID",
    "Patient's Name", "Patient ID", "Patient's Birth Date", "Patient's Sex", "Patient's Age",
    "Accession Number", "Referring Physician's Name", "Institution Name",
)
_PHI_TAGS = r"0010,[0-9A-Fa-f]{4}|0008,(?:0050|0080|0081|0090|1048|1050|1060|1070)|0020,0010"
_PATTERNS = (
    # pydicom's validation message and element repr: the value runs to the end of the line
    (re.compile(r"(Invalid value for VR [A-Z]{2}: ).*"), rf"\1{REDACTED}"),
    (re.compile(rf"(\((?:{_PHI_TAGS})\)).*"), rf"\1 {REDACTED}"),
    # keyword = value, keyword: value (quoted or up to a separator)
    (
        re.compile(
            r"((?<![A-Za-z])(?:" + "|".join(re.escape(k) for k in _PHI_KEYWORDS) + r")"
            r"['\"]?\s*(?:[A-Z]{2}\s*)?[=:]\s*)(?:'[^']*'|\"[^\"]*\"|[^\s,;)\]}]+)"
        ),
        rf"\1{REDACTED}",
    ),
    # DICOM person names: components joined by carets
    (re.compile(r"[^\s'\"=:,;()\[\]{}<>]*\^[^\s'\",;()\[\]{}<>]*"), REDACTED),
)
_WARNING_LINE = re.compile(r"(?P<path>.+?):(?P<line>\d+): (?P<category>\w+): ")


def redact(text: str) -> str:
    """``text`` with everything that looks like a patient value replaced by ``<withheld>``.

    Parameters
    ----------
    text : str
        A log message or traceback.

    Returns
    -------
    str
    """
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _short_path(path: str) -> str:
    """A source path from its package on (``highdicom/base.py``), else as it is."""
    _, found, tail = path.rpartition("site-packages/")
    return tail if found else path


def _from(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class PhiFilter(logging.Filter):
    """Keeps patient values out of the records passing a handler (see the module notes).

    Records are changed in place; a withheld warning or error still says where it came from.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Withhold or redact the record's message and traceback; ``False`` (drop) for the
        INFO and DEBUG records of the DICOM libraries."""
        if record.name == WARNINGS_LOGGER:
            self._withhold_warning(record)
        elif not _from(record.name, DICOM_LOGGERS):
            self._redact(record)
        elif record.levelno < logging.WARNING:
            return False
        elif _from(record.name, OWN_TEXT_LOGGERS) and isinstance(record.msg, str):
            self._redact(record)
        else:
            self._withhold(record)
        return True

    @staticmethod
    def _withhold(record: logging.LogRecord) -> None:
        where = f"{record.name} at {_short_path(record.pathname)}:{record.lineno}"
        if record.exc_info is not None and record.exc_info[0] is not None:
            where += f", {record.exc_info[0].__name__}"
        record.msg, record.args = f"{where} ({WITHHELD})", None
        record.exc_info = record.exc_text = record.stack_info = None

    @staticmethod
    def _withhold_warning(record: logging.LogRecord) -> None:
        found = _WARNING_LINE.match(str(record.getMessage()))
        where = (
            f"{found['category']} from {_short_path(found['path'])}:{found['line']}"
            if found is not None else "warning"
        )
        record.msg, record.args = f"{where} ({WITHHELD})", None

    @staticmethod
    def _redact(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it, as without the filter
            return
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)


def protect_logs(logger: logging.Logger | None = None) -> None:
    """Attach a :class:`PhiFilter` to every handler of ``logger`` (default: the root
    logger) that has none, and route Python warnings through logging so they pass it.

    Parameters
    ----------
    logger : logging.Logger, optional
        The logger whose handlers write the log.
    """
    logging.captureWarnings(True)
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, PhiFilter) for f in handler.filters):
            handler.addFilter(PhiFilter())


def configure_logging(level: int | str) -> None:
    """Log to standard error in :data:`LOG_FORMAT` at ``level``, without patient values.

    Parameters
    ----------
    level : int or str
        Logging level (``logging.INFO`` or ``"INFO"``).
    """
    logging.basicConfig(level=level, format=LOG_FORMAT)
    protect_logs()
