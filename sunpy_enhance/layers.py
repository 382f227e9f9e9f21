"""
Keras layers shared by the package's networks (Enhance and the denoising U-Net).
"""
import keras
from keras import layers, ops

__all__ = ["ReflectionPadding2D"]


@keras.saving.register_keras_serializable(package="sunpy_enhance")
class ReflectionPadding2D(layers.Layer):
    """
    Pad the two spatial axes by mirroring the image about its edge pixels (no edge repetition).

    Parameters
    ----------
    padding : int
        Pixels added on each side.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = 2 * self.padding
        return (b, None if h is None else h + grow, None if w is None else w + grow, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
