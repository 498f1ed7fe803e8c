"""The Bergamot tiny transformer as a transformers seq2seq model.

One embedding matrix serves the source, the target and the output layer; it
lives in the encoder (``model.encoder.embed_tokens``) and the decoder and
output layer borrow it, so checkpoints hold a single copy and no tying
machinery is involved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationConfig, GenerationMixin, LogitsProcessorList, PreTrainedModel
from transformers.modeling_outputs import Seq2SeqLMOutput, Seq2SeqModelOutput
from transformers.utils import ModelOutput

from pipeline.models.bergamot.cache import BergamotCache
from pipeline.models.bergamot.configuration import BergamotConfig
from pipeline.models.bergamot.generation import FAST_CONFIG_KEYS, FAST_KWARGS, SourceLengthLimit, length_limits
from pipeline.models.bergamot.greedy import decode_plain
from pipeline.models.bergamot.shortlist_layer import shortlist_blocked, shortlist_columns
from pipeline.models.bergamot.stacks import BergamotDecoder, BergamotEncoder, BergamotEncoderOutput

__all__ = ["BergamotEncoderOutput", "BergamotModelOutput", "BergamotModel", "BergamotForConditionalGeneration"]


@dataclass
class BergamotModelOutput(Seq2SeqModelOutput):
    """Decoder output plus the encoder's shortlist, for the output layer."""

    shortlist: torch.LongTensor | None = None


class BergamotPreTrainedModel(PreTrainedModel):
    """Weights initialisation and loading for the Bergamot models."""

    config_class = BergamotConfig
    config: BergamotConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["EncoderLayer", "DecoderLayer"]


class BergamotModel(BergamotPreTrainedModel):
    """Encoder and decoder, without the output layer."""

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__(config)
        self.encoder = BergamotEncoder(config)
        self.decoder = BergamotDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.encoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        encoder_outputs: BergamotEncoderOutput | tuple | None = None,
        cache: BergamotCache | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BergamotModelOutput:
        """Encode (unless ``encoder_outputs`` is given) and decode ``decoder_input_ids``.

        ``kwargs`` takes what ``generate()`` passes along and this model does not
        use (e.g. ``decoder_attention_mask``: with no self-attention the decoder
        has nothing to mask).
        """
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, output_attentions, output_hidden_states)
        elif not isinstance(encoder_outputs, BergamotEncoderOutput):
            encoder_outputs = BergamotEncoderOutput(*encoder_outputs)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and cache is None:
            cache = BergamotCache(self.config.decoder_layers)
        hidden, states, attentions = self.decoder(
            decoder_input_ids,
            self.encoder.embed_tokens,
            encoder_outputs.last_hidden_state,
            attention_mask,
            cache if use_cache else None,
            bool(output_attentions),
            bool(output_hidden_states),
        )
        return BergamotModelOutput(
            last_hidden_state=hidden,
            cache=cache if use_cache else None,
            decoder_hidden_states=states,
            cross_attentions=attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
            shortlist=encoder_outputs.shortlist,
        )


class BergamotForConditionalGeneration(BergamotPreTrainedModel, GenerationMixin):
    """The translation model: :class:`BergamotModel` plus the (shortlisted) output layer.

    ``fast_greedy`` (default ``True``): plain greedy ``generate()`` calls run
    :func:`~pipeline.models.bergamot.greedy.greedy_decode`, which gives the same
    tokens at batch size 1, about twice as fast; set it to ``False`` to
    always use transformers' loop (benchmarks compare the two).
    """

    fast_greedy = True

    def __init__(self, config: BergamotConfig) -> None:
        super().__init__(config)
        self.model = BergamotModel(config)
        self.logits_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, BergamotForConditionalGeneration):
            nn.init.zeros_(module.logits_bias)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def logits(self, hidden: torch.Tensor, shortlist: torch.Tensor | None) -> torch.Tensor:
        """Output layer; with a shortlist only each row's own ids get a score, the rest are ``-inf``.

        ``hidden`` is ``[rows, steps, dim]`` and ``shortlist`` ``[rows, k]`` (see
        :class:`~pipeline.models.bergamot.shortlist_layer.ShortlistLayer`). The
        result always spans the full vocabulary, so logits processors see
        ordinary token ids.
        """
        weight = self.model.encoder.embed_tokens.weight
        if shortlist is None:
            return F.linear(hidden, weight, self.logits_bias)
        ids = shortlist_columns(shortlist)
        selected = F.linear(hidden, weight.index_select(0, ids), self.logits_bias.index_select(0, ids))
        selected = selected.masked_fill(shortlist_blocked(shortlist)[:, None, :], -math.inf)
        full = hidden.new_full((*hidden.shape[:-1], weight.shape[0]), -math.inf)
        return full.index_copy_(-1, ids, selected)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        encoder_outputs: BergamotEncoderOutput | tuple | None = None,
        cache: BergamotCache | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput | tuple:
        """Logits for the next target token(s); with ``labels``, also the cross-entropy loss.

        Training (``labels``) uses the full vocabulary: a shortlist would give
        ``-inf`` to reference tokens outside it.
        """
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None:
                decoder_input_ids = labels.new_full(labels.shape, self.config.decoder_start_token_id)
                decoder_input_ids[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, self.config.pad_token_id)
        outputs = self.model(
            input_ids,
            attention_mask,
            decoder_input_ids,
            encoder_outputs,
            cache,
            use_cache,
            output_attentions,
            output_hidden_states,
        )
        logits = self.logits(outputs.last_hidden_state, None if labels is not None else outputs.shortlist)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        result = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )
        return result.to_tuple() if return_dict is False else result

    def _prepare_cache_for_generation(
        self, generation_config: GenerationConfig, model_kwargs: dict, *args, **kwargs
    ) -> None:
        # generate() would build an EncoderDecoderCache of DynamicLayers from the
        # config; this model needs SSRU states instead (as T5Gemma also overrides it).
        if model_kwargs.get("cache") is not None or generation_config.use_cache is False:
            return super()._prepare_cache_for_generation(generation_config, model_kwargs, *args, **kwargs)
        model_kwargs["cache"] = BergamotCache(self.config.decoder_layers)
        return None

    def generate(
        self,
        inputs: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | None = None,
        **kwargs,
    ) -> torch.LongTensor | ModelOutput:
        """``GenerationMixin.generate`` plus Marian's length limit, per sentence.

        Each sentence may produce ``ceil(config.max_length_factor x source
        tokens)`` tokens before ``</s>`` is forced (see
        :func:`~pipeline.models.bergamot.generation.length_limits`). Without an
        explicit ``max_length``/``max_new_tokens``/``generation_config``, the
        batch's largest limit also bounds the loop.
        """
        input_ids = inputs if inputs is not None else kwargs.get("input_ids")
        if self._can_decode_fast(input_ids, generation_config, logits_processor, kwargs):
            return self._decode_fast(input_ids, kwargs)
        if input_ids is not None and self.config.max_length_factor > 0:
            mask = kwargs.get("attention_mask")
            limits = length_limits(torch.ones_like(input_ids) if mask is None else mask, self.config.max_length_factor)
            logits_processor = LogitsProcessorList(logits_processor or [])
            logits_processor.append(SourceLengthLimit(limits, self.config.eos_token_id))
            if generation_config is None and not {"max_length", "max_new_tokens"} & kwargs.keys():
                kwargs["max_new_tokens"] = int(limits.max()) + 1
        return super().generate(inputs, generation_config, logits_processor, **kwargs)

    def _can_decode_fast(
        self,
        input_ids: torch.Tensor | None,
        generation_config: GenerationConfig | None,
        logits_processor: LogitsProcessorList | None,
        kwargs: dict,
    ) -> bool:
        # Only plain greedy search on a padded batch, with nothing transformers
        # would add to it (processors, streamers, scores, other decoding settings).
        if not self.fast_greedy or input_ids is None or generation_config is not None or logits_processor:
            return False
        if not kwargs.keys() <= FAST_KWARGS or kwargs.get("num_beams", 1) != 1 or kwargs.get("do_sample", False):
            return False
        if kwargs.get("use_cache") is False or input_ids.dim() != 2 or input_ids.shape[0] == 0:
            return False
        config = self.generation_config
        if not config.to_diff_dict().keys() <= FAST_CONFIG_KEYS:
            return False
        if config.num_beams not in (None, 1) or config.forced_eos_token_id is not None:
            return False
        return kwargs.get("max_new_tokens") is not None or self.config.max_length_factor > 0

    def _decode_fast(self, input_ids: torch.Tensor, kwargs: dict) -> torch.LongTensor:
        return decode_plain(self, input_ids, kwargs)
