"""Pipeline (layers applied in turn, Keras's preprocessing pipeline) and MaxNumBoundingBoxes."""

from __future__ import annotations

from fkeras import ops
from fkeras.nn.containers import Sequential, deserialize, serialize
from fkeras.nn.image_preprocessing._base import ImageLayer


def _pure(layer):
    """An nn layer: itself, a facade layer's pure counterpart (`nn_layer`), or a serialized layer's."""
    if isinstance(layer, dict):
        return deserialize(layer)
    return getattr(layer, "nn_layer", layer)


class Pipeline(Sequential):
    """Apply `layers` in turn (Keras's `Pipeline`: a preprocessing chain that, unlike a Sequential model,
    is a plain layer). Each child gets its own key folded from the pipeline's by the child's name."""

    def __init__(self, layers, name=None, **kwargs):
        if not isinstance(layers, (list, tuple)):
            raise TypeError(f"Pipeline: expected `layers` as a list of layers, got {type(layers).__name__}.")
        super().__init__([_pure(layer) for layer in layers], name=name, **kwargs)

    def get_config(self):
        return {"layers": [serialize(layer) for layer in self.layers], "name": self.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError("`Pipeline` config must contain a `layers` key mapping to a list of serialized layers. "
                             f"Received config with layers={layers}.")
        return cls(**config)


class MaxNumBoundingBoxes(ImageLayer):
    """Pad or trim bounding boxes to `max_number` per image (boxes and labels padded with `fill_value`);
    images and segmentation masks pass through unchanged."""

    random = False
    train_only = False
    cast_input = False

    def __init__(self, max_number, fill_value=-1, **kwargs):
        super().__init__(**kwargs)
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)

    def transform_images(self, images, transformation=None):
        return images

    def transform_bounding_boxes(self, bounding_boxes, transformation=None, training=True):
        boxes, labels = bounding_boxes["boxes"][:, :self.max_number], bounding_boxes["labels"][:, :self.max_number]
        extra = max(self.max_number - int(boxes.shape[1]), 0)
        boxes = ops.pad(boxes, [[0, 0], [0, extra], [0, 0]], constant_values=self.fill_value)
        labels = ops.pad(labels, [[0, 0], [0, extra]], constant_values=self.fill_value)
        return dict(bounding_boxes, boxes=boxes, labels=labels)

    def get_config(self):
        return super().get_config() | {"max_number": self.max_number}
