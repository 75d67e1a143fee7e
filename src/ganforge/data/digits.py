"""`digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images).

It ships inside scikit-learn, so it needs no download and no data folder:
the data set for demos, smoke tests and offline machines.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.data.base import ImageData
from ganforge.data.registry import register_data_source
from ganforge.data.transforms import check_image_options, conform


@register_data_source("digits", "scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes)")
def load_digits(*, image_size: int | None = None, channels: int | None = None) -> ImageData:
    check_image_options(image_size, channels)
    # Imported here: scikit-learn takes a moment to import and only this source needs it.
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Pixel values are integers 0..16; stretch them to the full 0..255 range.
    levels = np.asarray(bunch.images, dtype=np.float64)
    images = np.floor(levels * 255.0 / 16.0 + 0.5).astype(np.uint8)
    data = ImageData(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(np.asarray(bunch.target, dtype=np.int64)),
        class_names=[str(d) for d in range(10)],
        name="digits",
        origin="sklearn.datasets.load_digits (bundled with scikit-learn)",
    )
    return conform(data, image_size, channels)
