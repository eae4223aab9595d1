"""Reading one radiograph file (PNG, JPEG or DICOM) as an 8-bit grayscale square.

Every dataset reaches the cache through :func:`load_image`, so PNG, JPEG and DICOM files end up on
the same 0..255 scale before the shared bilinear resize:

* 8-bit files are kept as stored; RGB(A) files become their luminance.
* 16-bit PNGs (PadChest, some ChestX-ray14 copies) are divided by the smallest bit depth that holds
  their largest value (10, 12, 14 or 16 bits), so 12-bit scans are not crushed into the dark end.
* DICOM (SIIM-ACR, VinDr-CXR) goes through its modality rescale (slope, intercept), then its VOI
  window when the header has one (the display the radiologist saw), else the stored bit depth as
  for PNGs; ``MONOCHROME1`` files (bright air) are inverted so bone is bright in every dataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from cxrbench.errors import ConfigError, DataError

_IMAGE_FIX = "re-download it or remove its row from the metadata CSV"
# Mode "I" is how older Pillow releases open 16-bit grayscale PNGs.
_WIDE_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
DICOM_SUFFIXES = (".dcm", ".dicom")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def scale_wide(values: np.ndarray, bits: int | None = None) -> np.ndarray:
    """Integers of more than 8 bits -> uint8, dividing by the bit depth's full scale.

    Args:
        values: Non-negative pixel values.
        bits: The stored bit depth; None: the smallest of 10/12/14/16 bits holding the maximum
            (values that fit in 8 bits are kept, since stretching would brighten them).
    """
    wide = np.clip(np.asarray(values, dtype=np.float64), 0, None)
    peak = float(wide.max()) if wide.size else 0.0
    if bits is None:
        if peak <= 255:
            return wide.astype(np.uint8)
        bits = next((b for b in (10, 12, 14, 16) if peak < 2**b), 16)
    return np.rint(np.clip(wide, 0, 2**bits - 1) * (255.0 / (2**bits - 1))).astype(np.uint8)


def _to_uint8(img: Image.Image) -> np.ndarray:
    if img.mode == "L":
        return np.asarray(img, dtype=np.uint8)
    if img.mode in _WIDE_GRAY_MODES:
        return scale_wide(np.clip(np.asarray(img).astype(np.int64), 0, 65535))
    return np.asarray(img.convert("L"), dtype=np.uint8)


def _first(value) -> float:
    # Window centre/width may be multi-valued (several presets); the first is the default one.
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def dicom_to_uint8(dataset) -> np.ndarray:
    """The pixels of a read pydicom dataset as uint8 (see the module docstring for the steps)."""
    pixels = np.asarray(dataset.pixel_array, dtype=np.float64)
    if pixels.ndim != 2:
        raise ValueError(f"expected one grayscale frame, got pixel array of shape {pixels.shape}")
    pixels = pixels * float(getattr(dataset, "RescaleSlope", 1) or 1) + float(getattr(dataset, "RescaleIntercept", 0) or 0)
    centre, width = getattr(dataset, "WindowCenter", None), getattr(dataset, "WindowWidth", None)
    if centre is not None and width is not None and _first(width) > 1:
        # DICOM PS3.3 C.11.2.1.2's linear VOI function, mapped onto 0..255.
        c, w = _first(centre), _first(width)
        out = np.rint(np.clip((pixels - (c - 0.5)) / (w - 1) + 0.5, 0, 1) * 255).astype(np.uint8)
    else:
        bits = int(getattr(dataset, "BitsStored", 8) or 8)
        out = scale_wide(pixels - min(0.0, float(pixels.min())), None if bits <= 8 else bits)
    if str(getattr(dataset, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out = 255 - out
    return out


def _read_dicom(path: Path) -> np.ndarray:
    try:
        import pydicom
    except ImportError as exc:  # the dependency is declared; an environment without it gets the fix
        raise DataError(f"reading {path} needs pydicom; pip install 'pydicom>=2.4'") from exc
    return dicom_to_uint8(pydicom.dcmread(path))


def read_pixels(path: Path) -> np.ndarray:
    """One file's pixels as an 8-bit grayscale array at its own resolution.

    Raises:
        DataError: The file is missing, truncated or not an image of its kind.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in DICOM_SUFFIXES:
            return _read_dicom(path)
        with Image.open(path) as img:
            # Decoding is lazy: load() is what notices truncated or damaged data.
            img.load()
            return _to_uint8(img)
    except FileNotFoundError as exc:
        raise DataError(f"image {path} does not exist; {_IMAGE_FIX}") from exc
    except DataError:
        raise
    except Exception as exc:  # pydicom and its decoders raise many kinds; each means a bad file
        raise DataError(f"corrupt image {path}: {_one_line(exc)}; {_IMAGE_FIX}") from exc


def load_image(path: Path, size: int) -> np.ndarray:
    """Read one X-ray as an 8-bit grayscale ``size`` x ``size`` array (bilinear, antialiased).

    Raises:
        ConfigError: ``size`` is not a positive integer.
        DataError: The file is missing, truncated or not an image.
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ConfigError(f"image size must be a positive integer, got {size!r}; fix train.input_size")
    pixels = read_pixels(path)
    if pixels.shape != (size, size):
        # PIL widens the bilinear kernel when shrinking, i.e. it antialiases.
        resized = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        pixels = np.asarray(resized, dtype=np.uint8)
    return np.ascontiguousarray(pixels)

