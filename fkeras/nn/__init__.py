"""`fkeras.nn`: pure layers. Each holds hyperparameters only and has `init` and `apply`.

    model = nn.Sequential([nn.Input((28, 28, 1)), nn.Conv2D(8, 3, activation="relu"), nn.Flatten(), nn.Dense(10)])
    variables = model.init(jax.random.key(0))                 # Variables(params, state)
    y, new_state = model.apply(variables, x, training=True, rng=key)
"""

from fkeras.nn import activations, constraints, dtype_policies, initializers, regularizers
from fkeras.nn.base import (
    Layer, Variables, as_spec, as_variables, clear_session, count_params, fold_name, unique_name,
)
from fkeras.nn.containers import Sequential, deserialize, serialize
from fkeras.nn.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from fkeras.nn.conv import (
    Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D, DepthwiseConv1D, DepthwiseConv2D,
    SeparableConv1D, SeparableConv2D, SeparableConvolution1D, SeparableConvolution2D,
)
from fkeras.nn.core import (
    Activation, Dense, Dropout, Embedding, Flatten, GaussianNoise, Identity, Input, InputLayer, Masking, Rescaling,
    SpatialDropout1D, SpatialDropout2D,
)
from fkeras.nn.dtype_policies import DTypePolicy
from fkeras.nn.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from fkeras.nn.normalization import BatchNormalization, LayerNormalization, UnitNormalization
from fkeras.nn.pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
    GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D,
)
from fkeras.nn.reshaping import (
    Cropping1D, Cropping2D, Permute, RepeatVector, Reshape, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D,
)
from fkeras.nn.recurrent import GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells
from fkeras.nn.wrappers import SpectralNormalization, TimeDistributed
from fkeras.nn.attention import AdditiveAttention, Attention, EinsumDense, GroupQueryAttention, MultiHeadAttention
from fkeras.nn.normalization_more import GroupNormalization, RMSNormalization
from fkeras.nn.activation_more import PReLU
from fkeras.nn.regularization_more import ActivityRegularization, AlphaDropout, GaussianDropout, SpatialDropout3D
from fkeras.nn.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose, Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose
from fkeras.nn.reshaping_more import AdaptiveAveragePooling1D, AdaptiveAveragePooling2D, AdaptiveAveragePooling3D, AdaptiveMaxPooling1D, AdaptiveMaxPooling2D, AdaptiveMaxPooling3D, Cropping3D, UpSampling3D
from fkeras.nn.merging_more import Dot
from fkeras.nn.embedding_more import ReversibleEmbedding
from fkeras.nn.preprocessing import CategoryEncoding, Discretization, HashedCrossing, Hashing, IntegerLookup, Normalization, StringLookup, TextVectorization
from fkeras.nn.conv_recurrent import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from fkeras.nn.image_preprocessing import AugMix, AutoContrast, CenterCrop, ContrastLimitedAdaptiveHistogramEqualization, CutMix, Equalization, MaxNumBoundingBoxes, MelSpectrogram, MixUp, Pipeline, RandAugment, RandomBrightness, RandomColorDegeneration, RandomColorJitter, RandomContrast, RandomCrop, RandomElasticTransform, RandomErasing, RandomFlip, RandomGaussianBlur, RandomGrayscale, RandomHue, RandomInvert, RandomPerspective, RandomPosterization, RandomRotation, RandomSaturation, RandomSharpness, RandomShear, RandomTranslation, RandomZoom, Resizing, Solarization, STFTSpectrogram
from fkeras.nn.jax_layer import FlaxLayer, JaxLayer
from fkeras.nn.torch_module import TorchModuleWrapper
from fkeras.nn.tfsm import TFSMLayer
