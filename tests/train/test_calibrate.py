import numpy as np
from sklearn.isotonic import IsotonicRegression

from facerec.model.calibration import IsotonicCalibrator
from facerec.train.calibrate import fit_isotonic


def test_calibrator_is_monotonic_bounded_and_matches_sklearn():
    rng = np.random.RandomState(0)
    scores = np.concatenate([rng.normal(0.6, 0.15, 500), rng.normal(0.2, 0.15, 500)])
    labels = np.array([1] * 500 + [0] * 500)
    calibrator = fit_isotonic(scores, labels)
    grid = np.linspace(-1.5, 1.5, 1001)
    p = calibrator(grid)
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    reference = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0, y_max=1).fit(scores, labels)
    np.testing.assert_allclose(p, reference.predict(grid), atol=1e-12)
    restored = IsotonicCalibrator.from_dict(calibrator.to_dict())
    np.testing.assert_array_equal(restored(grid), p)
    assert calibrator(calibrator.threshold_for(0.5)) >= 0.5
