"""No patient values in the node's logs: the real highdicom and pydicom warnings, pynetdicom's
levels, and the redaction of the node's own records."""

from __future__ import annotations

import io
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

sys.path.append(str(Path(__file__).parents[1] / "encode"))  # the encode tests' CT series

from encode_synthetic_ct import SHAPE, Geometry, write_series

from dicomnode.logs import LOG_FORMAT, REDACTED, WITHHELD, PhiFilter, redact
from pipeline.encode.content import AlgorithmInfo, QualityFlag, RejectionContent
from pipeline.encode.sr import build_rejection_sr


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """Everything logged (warnings included) at any level through a handler with the
    filter, as the node's handlers have it; call it for the text so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(PhiFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.captureWarnings(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            yield stream.getvalue
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(level)


def test_highdicom_single_component_patient_name_stays_out(
    log_text: Callable[[], str], tmp_path: Path
) -> None:
    _, headers = write_series(tmp_path, SHAPE, Geometry())
    source = headers[0]
    source.PatientName = "Doe"
    rejection = RejectionContent((QualityFlag("NO_PORTAL_PHASE", "No portal-venous series"),))
    build_rejection_sr([source], rejection, AlgorithmInfo("demo", "1", is_demo=True))
    text = log_text()
    assert "UserWarning from highdicom/" in text and WITHHELD in text  # it did warn
    assert "Doe" not in text


@pytest.mark.lenient_dicom
def test_pydicom_invalid_value_stays_out(log_text: Callable[[], str]) -> None:
    dataset = Dataset()
    dataset.PatientBirthDate = "Doe1960"
    text = log_text()
    assert "pydicom at pydicom/misc.py:" in text  # the logged copy, withheld
    assert "UserWarning from pydicom/valuerep.py:" in text  # the warned copy, withheld
    assert "Doe1960" not in text


def test_pynetdicom_keeps_its_protocol_warnings_but_not_its_dumps(
    log_text: Callable[[], str],
) -> None:
    logger = logging.getLogger("pynetdicom.acse")
    logger.warning("Association Rejected by %s", "PACS")
    logger.debug("(0010,0010) Patient's Name PN: 'Doe^John'")
    logger.info("Patient Name: %s", "Roe^Jane")
    logger.error(ValueError("Invalid value for VR PN: 'Poe^Ann'"))
    logging.getLogger("highdicom.base").info("copying %s", "Moe^Max")
    text = log_text()
    assert "Association Rejected by PACS" in text
    assert "pynetdicom.acse at " in text and WITHHELD in text  # the error, withheld
    assert not [name for name in ("Doe", "Roe", "Poe", "Moe") if name in text]
    assert len(text.splitlines()) == 2  # INFO and DEBUG of the DICOM libraries dropped


def test_own_records_are_redacted_traceback_included(log_text: Callable[[], str]) -> None:
    logger = logging.getLogger("dicomnode.test")
    logger.info("job %d of %s done", 7, "Doe^John")
    try:
        raise ValueError("Invalid value for VR DA: 'Doe1960'.")
    except ValueError:
        logger.exception("could not read PatientID=%s", "PAT-0042")
    text = log_text()
    assert "job 7 of <withheld> done" in text
    assert "could not read PatientID=<withheld>" in text
    assert "ValueError: Invalid value for VR DA: <withheld>" in text
    assert "Doe" not in text and "PAT-0042" not in text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("from Doe^John^^Dr", REDACTED),
        ("from " + "Müller-Lüdenscheidt^Hans", REDACTED),
        ("PatientName='van der Berg^Jan' missing", f"PatientName={REDACTED} missing"),
        ('PatientID: "X 1", series 3', f"PatientID: {REDACTED}, series 3"),
        ("(0010,0030) Patient's Birth Date DA: '19600101'", f"(0010,0030) {REDACTED}"),
        ("AccessionNumber=A77 study 1.2.3", f"AccessionNumber={REDACTED} study 1.2.3"),
        ("job 12 succeeded in 3.2 s (series 1.2.840.1)", None),
        ("OtherPatientIDs = 5", f"OtherPatientIDs = {REDACTED}"),
    ],
)
def test_redact(message: str, expected: str | None) -> None:
    redacted = redact(message)
    if expected is None:
        assert redacted == message
    else:
        assert redacted.endswith(expected)
