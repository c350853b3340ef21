"""`plot_image_gallery`, `plot_bounding_box_gallery`, `plot_segmentation_mask_gallery`: Keras 3.15's
matplotlib grids of images (with drawn boxes or masks), shown or saved to `path`."""

from __future__ import annotations

import functools
import math

import numpy as np

from fkeras import backend, ops
from fkeras.visualization.draw import _batched, _numpy, draw_bounding_boxes, draw_segmentation_masks, require


def _to_channels_last(images, data_format):
    return _numpy(images).transpose(0, 2, 3, 1) if data_format == "channels_first" else _numpy(images)


def plot_image_gallery(images, y_true=None, y_pred=None, label_map=None, rows=None, cols=None, value_range=(0, 255),
                       scale=2, path=None, show=None, transparent=True, dpi=60, legend_handles=None,
                       data_format=None):
    """Plot the first rows x cols images (N, H, W, C) in a grid (default: a square of ceil(sqrt(N)) rows),
    titled with `label_map[y_true[i]]`/`label_map[y_pred[i]]`; values mapped from `value_range` to
    [0, 255]. Saved to `path` (PNG, `dpi`) or shown (`show`, the default without a path)."""
    plt = require("matplotlib.pyplot", "keras.visualization.plot_image_gallery")
    if path is not None and show:
        raise ValueError("plot_gallery() expects either `path` to be set, or `show` to be true.")
    if (y_true is not None or y_pred is not None) and label_map is None:
        raise ValueError("If `y_true` or `y_pred` are provided, a `label_map` must also be provided.")
    show = show if show is not None else (path is None)
    data_format = data_format or backend.image_data_format()
    if len(ops.shape(images)) != 4:
        raise ValueError("`plot_images_gallery()` requires you to batch your `np.array` samples together.")
    batch_size = ops.shape(images)[0]
    rows = rows or int(math.ceil(math.sqrt(batch_size)))
    cols = cols or int(math.ceil(batch_size // rows))
    images = _to_channels_last(images, data_format)[:min(rows * cols, batch_size)]
    fig, axes = plt.subplots(nrows=rows, ncols=cols, figsize=(cols * scale, rows * scale), frameon=False,
                             layout="tight", squeeze=True, sharex="row", sharey="col")
    fig.subplots_adjust(wspace=0, hspace=0)
    if isinstance(axes, np.ndarray) and axes.ndim == 1:
        axes = np.expand_dims(axes, 0 if rows == 1 else -1)
    if legend_handles is not None:
        fig.legend(handles=legend_handles, loc="lower center")
    if value_range[0] != 0 or value_range[1] != 255:
        images = (images.astype("float32") - np.float32(value_range[0])) / (
            np.float32(value_range[1]) - np.float32(value_range[0])) * np.float32(255)
    y_true = None if y_true is None else _numpy(y_true)
    y_pred = None if y_pred is None else _numpy(y_pred)
    for row in range(rows):
        for col in range(cols):
            index = row * cols + col
            axis = axes[row, col] if isinstance(axes, np.ndarray) else axes
            axis.imshow(images[index].astype("uint8"))
            axis.margins(x=0, y=0)
            axis.axis("off")
            title = []
            if y_true is not None and index < len(y_true):
                title.append(f"Label: {label_map.get(y_true[index], 'Unknown')}")
            if y_pred is not None and index < len(y_pred):
                title.append(f"Pred: {label_map.get(y_pred[index], 'Unknown')}")
            if title:
                axis.set_title("  ".join(title), fontsize=8)
    if path is not None:
        plt.savefig(fname=path, pad_inches=0, bbox_inches="tight", transparent=transparent, dpi=dpi)
        plt.close()
    elif show:
        plt.show()
        plt.close()


def plot_bounding_box_gallery(images, bounding_box_format, y_true=None, y_pred=None, value_range=(0, 255),
                              true_color=(0, 188, 212), pred_color=(255, 235, 59), line_thickness=2, font_scale=1.0,
                              text_thickness=None, class_mapping=None, ground_truth_mapping=None,
                              prediction_mapping=None, legend=False, legend_handles=None, rows=None, cols=None,
                              data_format=None, **kwargs):
    """`plot_image_gallery` of `images` (N, H, W, C) with the `y_true` boxes drawn in `true_color` and the
    `y_pred` boxes in `pred_color` (each a bounding-boxes dict); `legend` adds Keras's two patches."""
    patches = require("matplotlib.patches", "keras.visualization.plot_bounding_box_gallery")
    prediction_mapping = prediction_mapping or class_mapping
    ground_truth_mapping = ground_truth_mapping or class_mapping
    data_format = data_format or backend.image_data_format()
    _batched(images)
    plotted = _to_channels_last(images, data_format)
    draw = functools.partial(draw_bounding_boxes, bounding_box_format=bounding_box_format,
                             line_thickness=line_thickness, text_thickness=text_thickness, font_scale=font_scale,
                             data_format="channels_last")
    if y_true is not None:
        plotted = draw(plotted, y_true, color=true_color, class_mapping=ground_truth_mapping)
    if y_pred is not None:
        plotted = draw(plotted, y_pred, color=pred_color, class_mapping=prediction_mapping)
    if legend:
        if legend_handles:
            raise ValueError("Only pass `legend` OR `legend_handles` to "
                             "`keras.visualization.plot_bounding_box_gallery()`.")
        legend_handles = [patches.Patch(color=np.array(true_color) / 255.0, label="Ground Truth"),
                          patches.Patch(color=np.array(pred_color) / 255.0, label="Prediction")]
    return plot_image_gallery(plotted, value_range=value_range, legend_handles=legend_handles, rows=rows, cols=cols,
                              data_format="channels_last", **kwargs)


def plot_segmentation_mask_gallery(images, num_classes, value_range=(0, 255), y_true=None, y_pred=None,
                                   color_mapping=None, blend=True, alpha=0.8, ignore_index=-1, data_format=None,
                                   **kwargs):
    """A gallery with one row per image: the image, then its `y_true` and/or `y_pred` masks (N, H, W, 1)
    drawn on it with `draw_segmentation_masks`."""
    data_format = data_format or backend.image_data_format()
    shape = _batched(images)
    images = _to_channels_last(images, data_format)
    draw = functools.partial(draw_segmentation_masks, num_classes=num_classes, color_mapping=color_mapping,
                             alpha=alpha, ignore_index=ignore_index, blend=blend, data_format="channels_last")
    columns = [images]
    for masks in (y_true, y_pred):
        if masks is not None:
            columns.append(draw(images, _to_channels_last(masks, data_format).astype("int32")))
    gallery = np.stack([col[i] for i in range(shape[0]) for col in columns], axis=0)
    return plot_image_gallery(gallery, value_range=value_range, rows=shape[0], cols=len(columns),
                              data_format="channels_last", **kwargs)
