"""`fkeras.ops.image`: Keras 3's `keras.ops.image` (image batches (N, H, W, C) for channels_last,
(N, C, H, W) for channels_first; a single unbatched image works too)."""

# ruff: noqa: A002
from fkeras.ops._dispatch import op


@op
def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Resize to `size` (height, width); interpolation 'nearest', 'bilinear', 'bicubic', 'lanczos3',
    'lanczos5', 'area'; optional crop/pad to keep the aspect ratio."""


@op
def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Apply projective transforms (N, 8) [a0..a2, b0..b2, c0, c1] mapping output to input points."""


@op
def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """Sample `inputs` at `coordinates` (ndim, *out_shape) with order 0 (nearest) or 1 (linear)."""


@op
def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """(N, H, W, C) -> (N, H', W', size_h * size_w * C) patches."""


@op
def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """(N, D, H, W, C) -> (N, D', H', W', sd * sh * sw * C) patches."""


@op
def rgb_to_grayscale(images, data_format=None):
    """Luma 0.2989 R + 0.587 G + 0.114 B, keeping a channel axis of size 1."""


@op
def rgb_to_hsv(images, data_format=None):
    """RGB in [0, 1] -> HSV in [0, 1] (float images)."""


@op
def hsv_to_rgb(images, data_format=None):
    """HSV in [0, 1] -> RGB in [0, 1] (float images)."""


@op
def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Zero-pad to (target_height, target_width) or by the given paddings."""


@op
def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Crop to (target_height, target_width) or by the given croppings."""


@op
def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Depthwise Gaussian blur (zero padding, output the input's size)."""


@op
def sobel_edges(images, data_format=None):
    """Sobel gradients: (..., C) -> (..., C, 2) holding [d/dy, d/dx] per channel ("same" zero padding)."""


@op
def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """Mean structural similarity per image (Gaussian window)."""


@op
def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Warp so `start_points` (N, 4, 2) map to `end_points`."""


@op
def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                      seed=None, data_format=None):
    """Random elastic deformation (smoothed random displacement field scaled by alpha)."""


@op
def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """Resample `spatial_dims` to `output_shape` with per-dim scale and translation (jax.image's rule)."""


__all__ = ["affine_transform", "crop_images", "elastic_transform", "extract_patches", "extract_patches_3d",
           "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images", "perspective_transform", "resize",
           "rgb_to_grayscale", "rgb_to_hsv", "scale_and_translate", "sobel_edges", "ssim"]
