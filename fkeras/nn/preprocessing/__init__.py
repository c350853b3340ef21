"""Keras's non-image preprocessing layers as pure nn layers.

Numeric statistics are state leaves (`Normalization`'s mean/variance/count); bin boundaries and
vocabularies are hyperparameters of the layer (strings cannot live in a JAX pytree), so the stateful
Keras methods (`adapt`, `set_vocabulary`, `load_assets`, ...) are written pure and listed in each
class's `updates`: `method(variables, *args) -> (layer, variables, input spec or None)`. The facade
(`fkeras.layers.X`) calls them and keeps the new layer and variables, as Keras's in-place methods do.
"""

from fkeras.nn.preprocessing.category_encoding import CategoryEncoding
from fkeras.nn.preprocessing.discretization import Discretization
from fkeras.nn.preprocessing.hashing import HashedCrossing, Hashing
from fkeras.nn.preprocessing.lookup import IntegerLookup, StringLookup
from fkeras.nn.preprocessing.normalization import Normalization
from fkeras.nn.preprocessing.text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup", "Normalization",
           "StringLookup", "TextVectorization"]
