"""How a model is made: LFW and its split, P x K sampling, losses, the dlib teacher, the training loop, the
evaluation protocol and metrics, and fitting the calibrators that the bundle carries."""
