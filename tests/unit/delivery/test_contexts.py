"""Presentation contexts proposed for a batch, and splitting beyond 128 contexts."""

from __future__ import annotations

from pathlib import Path

from pydicom.uid import (
    UID,
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGLosslessSV1,
    RLELossless,
)

from dicomnode.delivery.dimse import (
    MAX_PRESENTATION_CONTEXTS,
    _association_groups,
    _Instance,
    _presentation_contexts,
)

SEG = UID("1.2.840.10008.5.1.4.1.1.66.4")


def instance(index: int, sop_class: str, syntax: str) -> _Instance:
    return _Instance(index, Path(f"{index}.dcm"), UID(sop_class), f"1.2.{index}", UID(syntax))


def test_native_files_share_one_context_with_le_fallbacks():
    contexts = _presentation_contexts(
        [
            instance(0, CTImageStorage, ImplicitVRLittleEndian),
            instance(1, CTImageStorage, DeflatedExplicitVRLittleEndian),
            instance(2, CTImageStorage, ExplicitVRLittleEndian),
        ]
    )
    assert len(contexts) == 1
    assert contexts[0].abstract_syntax == CTImageStorage
    assert contexts[0].transfer_syntax == [
        ImplicitVRLittleEndian,
        ExplicitVRLittleEndian,
        DeflatedExplicitVRLittleEndian,
    ]


def test_compressed_files_are_proposed_only_as_stored():
    contexts = _presentation_contexts(
        [
            instance(0, CTImageStorage, JPEGLosslessSV1),
            instance(1, CTImageStorage, RLELossless),
            instance(2, SEG, ExplicitVRLittleEndian),
            instance(3, CTImageStorage, JPEGLosslessSV1),
        ]
    )
    pairs = [(cx.abstract_syntax, cx.transfer_syntax) for cx in contexts]
    assert pairs == [
        (CTImageStorage, [JPEGLosslessSV1]),
        (CTImageStorage, [RLELossless]),
        (SEG, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]),
    ]


def test_one_association_unless_contexts_overflow():
    small = [instance(i, CTImageStorage, ExplicitVRLittleEndian) for i in range(500)]
    assert [len(g) for g in _association_groups(small)] == [500]

    many = [
        instance(i, f"1.2.3.{i % (MAX_PRESENTATION_CONTEXTS + 2)}", ExplicitVRLittleEndian)
        for i in range(300)
    ]
    groups = _association_groups(many)
    assert [i.index for g in groups for i in g] == list(range(300))
    assert all(len({i.context_key for i in g}) <= MAX_PRESENTATION_CONTEXTS for g in groups)
    assert len(groups) == 3
