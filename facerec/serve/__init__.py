"""How a model answers: decoding uploads, detection and alignment, the recognizer over an index, settings,
and re-embedding stored faces. Imports nothing from :mod:`facerec.train`."""
