"""What a model is: the encoder, its preprocessing, calibration, the bundle that carries them, and the runtimes.

Shared by training (which writes bundles) and serving (which reads them); imports nothing from either.
"""
