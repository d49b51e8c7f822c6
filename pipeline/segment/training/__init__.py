"""Training of small nnU-Net v2 models for the demo and for tests (not used at inference).

Importing this package pulls in nnU-Net's training code; the inference engine never does.
"""
