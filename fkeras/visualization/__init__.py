"""`fkeras.visualization` (Keras 3.15's `keras.visualization`): draw bounding boxes (OpenCV, as Keras does) and
segmentation masks on batches of images, and plot image galleries (matplotlib). Both packages are optional:
`pip install "fkeras[visualization]"`."""

from fkeras.visualization.draw import draw_bounding_boxes, draw_segmentation_masks
from fkeras.visualization.gallery import plot_bounding_box_gallery, plot_image_gallery, plot_segmentation_mask_gallery

__all__ = ["draw_bounding_boxes", "draw_segmentation_masks", "plot_bounding_box_gallery", "plot_image_gallery",
           "plot_segmentation_mask_gallery"]
