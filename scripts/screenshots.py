"""Screenshots of the dashboard's main pages, taken from a real node.

Starts ``dicomnode serve`` (the demo's configuration plus a dashboard port and a fixed
session key), sends a synthetic study as the allowed ``DEMOSENDER`` and one association
from an unknown AE (rejected), waits until the real pipeline has processed the study and
its results are delivered, adds an operator, then opens the overview, the job list, the
job page and the configuration page in headless Chromium (``/usr/bin/chromium``, no
download) and writes ``docs/screenshots/{overview,jobs,job,config}.png``.

Usage: ``python scripts/screenshots.py [--work FOLDER] [--out docs/screenshots]``
(about two minutes on two CPU cores).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

import yaml
from PIL import Image
from playwright.sync_api import sync_playwright
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dicomnode.audit.log import AuditLog
from dicomnode.demo import (
    free_port,
    prepare_work_folder,
    send_study,
    start_node,
    stop_node,
    wait_for_job,
    wait_for_node,
    write_node_config,
)
from dicomnode.web.roles import Role
from dicomnode.web.users import UserStore
from pipeline.synth.study import write_study

CHROMIUM = "/usr/bin/chromium"
OPERATOR = ("operator", "screenshot-password")
PAGES = {"overview": "/", "jobs": "/jobs", "job": "/jobs/{job_id}", "config": "/config"}
MAX_BYTES = 300 * 1024
"""Largest PNG accepted for the repository, in bytes."""
MAX_HEIGHT_PX = 2600
"""Long pages are cut at this height, in CSS pixels."""


def _rejected_association(port: int) -> None:
    """An association from an AE that is not in the allow-list (shows as a rejection)."""
    ae = AE(ae_title="UNKNOWNPACS")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="DICOMNODE")
    if assoc.is_established:
        assoc.release()
        raise RuntimeError("the unknown AE was accepted; the allow-list is not in force")


def _quantize(path: Path, colours: int = 64) -> None:
    """Rewrite a PNG with an adaptive palette (lossless enough for page screenshots)."""
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def _shoot(base_url: str, job_id: int, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base_url}/login")
        page.fill("input[name=username]", OPERATOR[0])
        page.fill("input[name=password]", OPERATOR[1])
        page.click("button[type=submit]")
        page.wait_for_selector("#service-status")
        for name, path in PAGES.items():
            page.goto(base_url + path.format(job_id=job_id))
            page.wait_for_load_state("networkidle")
            target = out / f"{name}.png"
            height = min(MAX_HEIGHT_PX, int(page.evaluate("document.body.scrollHeight")))
            page.screenshot(path=str(target), full_page=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": height})
            if target.stat().st_size > MAX_BYTES:  # long page: fewer colours
                _quantize(target)
            if target.stat().st_size > MAX_BYTES:  # still too big: keep the first screen
                page.screenshot(path=str(target), full_page=False)
            written.append(target)
        browser.close()
    return written


def main() -> int:
    """Run the node, take the screenshots, stop the node."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("data/screenshots-node"))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    paths = prepare_work_folder(args.work)
    port, web_port = free_port(), free_port(8080)
    write_node_config(paths, port)
    config = yaml.safe_load(paths.config.read_text())
    config["web"] = {"port": web_port, "session_secret": secrets.token_urlsafe(24)}
    paths.config.write_text(yaml.safe_dump(config, sort_keys=False))
    truth = write_study(paths.study, 0, "small", volumes=False)
    node = start_node(paths)
    try:
        wait_for_node(node, paths, port, timeout_s=120)
        files = sorted((paths.study / "dicom").rglob("*.dcm"))
        send_study(files, port)
        _rejected_association(port)
        audit = AuditLog.from_url(f"sqlite:///{paths.audit_db}")
        detail = wait_for_job(audit, truth.study_instance_uid, node, paths, timeout_s=600,
                              on_progress=lambda message: print(message, flush=True))
        UserStore(audit.engine).add(OPERATOR[0], Role.OPERATOR, OPERATOR[1],
                                    by_user="scripts/screenshots.py")
        written = _shoot(f"http://127.0.0.1:{web_port}", detail.job.id, args.out)
        audit.dispose()
    finally:
        stop_node(node)
    for path in written:
        print(f"{path}: {path.stat().st_size} bytes")
    return 0 if all(path.stat().st_size <= MAX_BYTES for path in written) else 1


if __name__ == "__main__":
    sys.exit(main())
