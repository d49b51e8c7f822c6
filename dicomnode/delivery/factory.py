"""Turn destination configuration into Sender objects (called by the composition root)."""

from __future__ import annotations

from dicomnode.delivery.base import Sender
from dicomnode.delivery.config import (
    DeliveryConfig,
    DestinationConfig,
    DimseDestinationConfig,
    FolderDestinationConfig,
    StowDestinationConfig,
)
from dicomnode.delivery.dimse import CStoreSender
from dicomnode.delivery.folder import FolderSender
from dicomnode.delivery.stow import StowRsSender


def build_sender(config: DestinationConfig) -> Sender:
    """Build the sender for one destination.

    Parameters
    ----------
    config : DestinationConfig
        A ``dimse``, ``stow`` or ``folder`` destination.

    Returns
    -------
    Sender
        :class:`CStoreSender`, :class:`StowRsSender` or :class:`FolderSender`.
    """
    if isinstance(config, DimseDestinationConfig):
        return CStoreSender(config)
    if isinstance(config, StowDestinationConfig):
        return StowRsSender(config)
    if isinstance(config, FolderDestinationConfig):
        return FolderSender(config)
    raise TypeError(f"unknown destination configuration: {type(config).__name__}")


def build_senders(config: DeliveryConfig) -> list[Sender]:
    """Build one sender per configured destination, in configuration order."""
    return [build_sender(destination) for destination in config.destinations]


def build_return_sender(config: DeliveryConfig, calling_aet: str, host: str) -> Sender:
    """Build the C-STORE sender that returns results to the AE that sent a study.

    Parameters
    ----------
    config : DeliveryConfig
        Supplies ``return_to_sender_port`` and ``return_to_sender_calling_aet``.
    calling_aet : str
        The Calling AE Title of the association that brought the study; it becomes the
        Called AE Title.
    host : str
        The address that association came from.

    Returns
    -------
    Sender
        A :class:`CStoreSender` named ``return-to-sender:{calling_aet}``.
    """
    return CStoreSender(
        DimseDestinationConfig(
            name=f"return-to-sender:{calling_aet}",
            host=host,
            port=config.return_to_sender_port,
            called_aet=calling_aet,
            calling_aet=config.return_to_sender_calling_aet,
        )
    )
