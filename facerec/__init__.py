"""facerec: train a face encoder, publish it as a bundle, serve open-set recognition with it.

Three wings over two shared floors:

* :mod:`facerec.model` — what a model bundle is: encoder, preprocessing, calibration, runtime (imported by both).
* :mod:`facerec.train` — how a bundle is made: data, sampling, losses, teacher, training, evaluation, fitting.
* :mod:`facerec.serve` — how a bundle answers: detection, recognizer, settings, reindex.
* :mod:`facerec.index` and :mod:`facerec.storage` — where faces and files live.

Serving never imports :mod:`facerec.train` (tested).
"""
