"""data2vec (facebook/data2vec-audio-base), an X-ARES baseline: 768-d frames every 20 ms.

::

    pip install -e ".[data2vec]"
    pytest --xares-encoder=pytest_xares.example_encoders.data2vec -n 4

data2vec-audio has wav2vec 2.0's convolutional front end (400-sample receptive field, 320-sample
stride) and input normalisation, so it is encoded exactly as in ``wav2vec2.py``: cut into balanced chunks of
at most 10 s on the model's frame grid, each normalised on its own, the last hidden layer kept. ``XARES_DATA2VEC_MODEL=/path/to/model`` or ``Data2VecEncoder("/path/to/model")`` loads a
saved copy; ``Data2VecEncoder(Data2VecAudioModel(config))`` wraps a model you built.
"""

from __future__ import annotations

from transformers import Data2VecAudioModel

from pytest_xares.example_encoders.wav2vec2 import Wav2Vec2Encoder  # first: says how to install transformers


class Data2VecEncoder(Wav2Vec2Encoder):
    """The last hidden layer of data2vec-audio base, one 768-d frame per 20 ms of 16 kHz audio.

    ``hidden_states`` gives its 13 layers (``num_hidden_layers + 1``): layer 0 is the transformer's
    input (the projected convolutional features plus the convolutional position embedding,
    layer-normalised), layer ``i`` the output of transformer layer ``i``, the last the output.
    """

    output_dim = 768
    source_env = "XARES_DATA2VEC_MODEL"
    default_source = "facebook/data2vec-audio-base"
    model_class = Data2VecAudioModel
