"""Image-based SIRT dosimetry: registration of the SPECT/PET's CT to the planning CT, masks in
emission space, lung shunt and T/N from MAA images, voxel dose by local deposition, dose-volume
figures, and the RT Dose object.

Every module works on SimpleITK images or numpy arrays in (z, y, x) order; none reads files.
Reconstruction is not done here: the node receives reconstructed SPECT and PET images.
"""
