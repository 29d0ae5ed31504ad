import numpy as np
import pytest

from facerec.model.calibration import IsotonicCalibrator


def test_calibrator_rejects_invalid_curves():
    with pytest.raises(ValueError):
        IsotonicCalibrator(np.array([0.0, 1.0]), np.array([0.8, 0.2]))
    with pytest.raises(ValueError):
        IsotonicCalibrator(np.array([0.0, 1.0]), np.array([0.0, 1.5]))
