"""The TLS context of the listening port (DICOM TLS, PS3.15 Annex B)."""

from __future__ import annotations

import ssl

from dicomnode.scp.config import ScpTlsConfig


def server_ssl_context(config: ScpTlsConfig) -> ssl.SSLContext | None:
    """Build the server-side TLS context, or ``None`` when TLS is off.

    Parameters
    ----------
    config : ScpTlsConfig
        Certificate, key and client-certificate settings.

    Returns
    -------
    ssl.SSLContext or None
        A TLS 1.2+ server context; it requires a client certificate chaining to
        ``ca_file`` when ``require_client_cert`` is set.

    Raises
    ------
    OSError, ssl.SSLError
        If a certificate or key file cannot be read.
    """
    if not config.enabled or config.cert_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(
        certfile=str(config.cert_file),
        keyfile=str(config.key_file) if config.key_file is not None else None,
    )
    if config.ca_file is not None:
        context.load_verify_locations(cafile=str(config.ca_file))
    context.verify_mode = ssl.CERT_REQUIRED if config.require_client_cert else ssl.CERT_NONE
    if config.ca_file is not None and not config.require_client_cert:
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
