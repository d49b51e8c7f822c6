"""Segmentation: nnU-Net v2 models, composition and cascades, post-processing, confidence.

Entry points: :class:`pipeline.segment.config.SegmentationConfig` and
:class:`pipeline.segment.engine.SegmentationEngine`. Results of the bundled demo model are
marked "Demo model — not for clinical use".
"""
