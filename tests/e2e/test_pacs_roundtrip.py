"""End to end with real peers: Orthanc (the PACS) pushes a synthetic multi-phase study to a
running ``dicomnode serve``; the node picks the thin portal-venous series, segments it with
the bundled demo model and sends SEG + SR + PDF back to Orthanc, into the same study. The
audit database (SQLite and PostgreSQL) holds the whole chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_node import (
    DEMO_NOTICE,
    DESTINATION,
    Study,
    algorithm_parameters,
    cfind_series,
    orthanc_instance,
    pdf_text,
    push_to_node,
    sr_texts,
    store_in_pacs,
    wait_for_job,
)
from loopback_peers import OrthancPeer
from pydicom.uid import Comprehensive3DSRStorage, EncapsulatedPDFStorage, SegmentationStorage
from served_node import ServedNode

from dicomnode.audit.log import AuditLog
from dicomnode.audit.rows import DeliveryState, JobState, OutputKind

pytestmark = [pytest.mark.peers, pytest.mark.slow]

LIVER_VOLUME_TOLERANCE = 0.15
"""Relative liver volume error allowed. The demo model (0.5.0) reaches -0.6 % [-1.2, +0.0]
on six held-out studies (docs/demo-model.md; 0.4.0: -3.3 %, 0.3.0: -6.1 %, and -7.2 % on
this case, synthetic seed 1, small profile). 15 % bounds that with a wide margin and still
fails a grossly wrong liver."""
METASTASIS_VOLUME_TOLERANCE = 0.15
"""Relative total tumour volume error allowed: -3.8 % [-10.9, 3.4] on the held-out studies
with 0.5.0 (0.4.0: +0.2 %; 0.3.0: -3.2 % on this case, -4.0 % on the held-out studies)."""
COUINAUD = [f"couinaud_{n}" for n in range(1, 9)]
"""Couinaud segment Dice is 0.85 on held-out studies, but single segment volumes are off by
up to 50 % on this case (segment IV with 0.2.0): they are checked for consistency, not
against truth."""
OUTPUT_SOP_CLASSES = {
    OutputKind.SEG: SegmentationStorage,
    OutputKind.SR: Comprehensive3DSRStorage,
    OutputKind.PDF: EncapsulatedPDFStorage,
}


def test_pacs_to_node_to_pacs(
    multiphase_study: Study, pacs: OrthancPeer, node: ServedNode, audit_url: str, tmp_path: Path
) -> None:
    study = multiphase_study
    expected = study.expected_series_uid
    assert expected is not None
    push_to_node(pacs, store_in_pacs(pacs, study))
    audit = AuditLog.from_url(audit_url)
    try:
        detail = wait_for_job(audit, study.study_instance_uid, node)
    finally:
        audit.dispose()
    job = detail.job
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.calling_ae == pacs.aet
    result = job.result
    assert result is not None

    # the chosen series is the one the study's truth expects, among every series received
    assert result["series"]["chosen_series_instance_uid"] == expected
    ranked = {r["series_instance_uid"] for r in result["series"]["ranking"]}
    assert expected in ranked and len(ranked) > 1

    # every stage is timed in the audit DB
    timed = {e.stage: e.duration_s for e in detail.events if e.duration_s is not None}
    assert {"select", "segment", "coverage", "quantify", "encode"} <= set(timed)

    # the warm job worker loaded the model at service start, not for this job
    (start,) = [e for e in detail.events if e.stage == "worker start"]
    assert "before this job was sent" in start.message
    assert "model load" not in timed and result["segmentation"]["timings_s"]["load"] == 0.0

    # inputs: every instance Orthanc sent, all stored and linked to the job
    assert {i.sop_instance_uid for i in detail.instances} == study.sop_instance_uids
    assert set(job.series_instance_uids) == {s["series_instance_uid"] for s in study.series}

    # outputs: SEG, SR and PDF of this job, each delivered to Orthanc, acknowledged
    assert sorted(o.kind for o in detail.outputs) == sorted(OUTPUT_SOP_CLASSES)
    assert all(o.job_id == job.id for o in detail.outputs)
    assert {(d.output_id, d.destination, d.state) for d in detail.deliveries} == {
        (o.id, DESTINATION, DeliveryState.DELIVERED) for o in detail.outputs
    }
    acknowledged = {
        a.delivery_id
        for a in detail.delivery_attempts
        if a.status == "success" and a.dimse_status == 0
    }
    assert acknowledged == {d.id for d in detail.deliveries}

    # model provenance is part of the chain
    (model,) = result["segmentation"]["models"]
    assert model["name"] == "dicomnode-demo-liver" and model["version"]
    assert len(model["weights_sha256"]) == 64

    # Orthanc holds the outputs in the input study; the SEG references the chosen series
    by_kind = {o.kind: orthanc_instance(pacs, o.sop_instance_uid) for o in detail.outputs}
    for kind, ds in by_kind.items():
        assert ds.StudyInstanceUID == study.study_instance_uid
        assert ds.SOPClassUID == OUTPUT_SOP_CLASSES[kind]
    in_pacs = cfind_series(pacs, study.study_instance_uid)  # as a viewer would find them
    for kind, ds in by_kind.items():
        assert in_pacs.get(str(ds.SeriesInstanceUID)) == ds.Modality, (kind, in_pacs)
    assert {"SEG", "SR", "DOC"} <= set(in_pacs.values())
    seg = by_kind[OutputKind.SEG]
    (referenced,) = seg.ReferencedSeriesSequence
    assert referenced.SeriesInstanceUID == expected
    assert {r.ReferencedSOPInstanceUID for r in referenced.ReferencedInstanceSequence} == (
        study.series_sop_instance_uids(expected)
    )

    # every output says it comes from the demo model and is not for clinical use
    assert DEMO_NOTICE.search(str(seg.SeriesDescription))
    assert DEMO_NOTICE.search(str(seg.ContentDescription))
    notices = [DEMO_NOTICE.search(p) for p in algorithm_parameters(seg)]
    assert notices and all(notices)
    assert any(DEMO_NOTICE.search(text) for text in sr_texts(by_kind[OutputKind.SR]))
    report = pdf_text(by_kind[OutputKind.PDF], tmp_path)
    assert DEMO_NOTICE.search(" ".join(report.split())), report[:2000]
    assert DEMO_NOTICE.search(result["notice"])

    # volumes against the exact ground truth, within the demo model's measured accuracy
    volumes, truth = result["volumes_ml"], study.volumes_ml
    assert volumes["liver"] == pytest.approx(truth["liver"], rel=LIVER_VOLUME_TOLERANCE)
    assert volumes["metastasis"] == pytest.approx(
        truth["metastasis"], rel=METASTASIS_VOLUME_TOLERANCE
    )
    assert sum(volumes[name] for name in COUINAUD) + volumes["metastasis"] == pytest.approx(
        volumes["liver"], abs=0.5
    )
