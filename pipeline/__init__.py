"""The processing library: series selection, volume building, segmentation, quantification
and DICOM writers. It never imports :mod:`dicomnode` and runs on a folder of DICOM files with
no network.
"""
