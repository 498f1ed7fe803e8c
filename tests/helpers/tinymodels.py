"""Tiny real models for tests: one per family, built on the spot.

Each builder trains a small SentencePiece model on a few hundred lines of the
FLORES devtest (the repository's copy) and the project's article, wraps it in the family's real
tokenizer class, pairs it with a randomly initialised model of the family's
real architecture (a few thousand parameters), and saves both with
``save_pretrained`` so that tests load them back through the Auto classes,
exactly as a downloaded checkpoint would be.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import sentencepiece as spm
import torch

REPO = Path(__file__).resolve().parents[2]
FLORES = REPO / "corpora" / "flores200-devtest"
CORPORA = REPO / "corpora"

# Positions the tiny models can take: small, so that the long-segment guard is
# easy to reach in tests.
MAX_POSITIONS = 64

# Tiny transformer sizes shared by the BART-like families. Weights drawn wider
# than the usual 0.02 make a random model's output depend on its input, so that
# tests can tell segments apart.
_TINY = {"d_model": 16, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
         "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 32, "init_std": 1.0}  # fmt: skip

MARIAN_TARGETS = [">>por<<", ">>pt_br<<", ">>deu<<", ">>zho_Hans<<", ">>zho_Hant<<", ">>srp_Cyrl<<", ">>srp_Latn<<"]
MADLAD_CODES = ["en", "pt", "de", "zh", "zh_Latn", "sr", "sr_Latn"]


def corpus_lines(per_language: int = 80) -> list[str]:
    """A few hundred lines: English, Portuguese, German, French, Spanish and a little Chinese.

    FLORES devtest lines (``corpora/flores200-devtest``) and the project's article.
    """
    # Few Chinese lines: their many distinct characters would not fit a tiny vocabulary.
    lines: list[str] = []
    for name in ("eng_Latn", "por_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "zho_Hans"):
        count = 15 if name == "zho_Hans" else per_language
        lines += (FLORES / f"{name}.devtest").read_text(encoding="utf-8").splitlines()[:count]
    for path in sorted(CORPORA.glob("automated-translation-article.*.txt")):
        count = 8 if "zh" in path.name else per_language
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:count]
    return lines


def train_spm(prefix: Path, *, vocab_size: int = 400, model_type: str = "unigram",
              user_defined_symbols: Sequence[str] = (), **options: object) -> Path:
    """Train a SentencePiece model on :func:`corpus_lines`; returns the ``.model`` file."""
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_lines()),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=0.98,
        hard_vocab_limit=False,
        user_defined_symbols=list(user_defined_symbols),
        minloglevel=2,
        num_threads=1,
        **options,
    )
    return Path(f"{prefix}.model")


def _save(model: torch.nn.Module, tokenizer: object, out: Path, **generation: object) -> Path:
    for key, value in generation.items():
        setattr(model.generation_config, key, value)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_marian(out: Path, *, target_codes: Sequence[str] = (), source_lang: str | None = "en",
                 target_lang: str | None = "de") -> Path:
    """A MarianMT checkpoint (``MarianTokenizer`` with source.spm/target.spm/vocab.json).

    Args:
        out: the folder to write.
        target_codes: ``>>xxx<<`` tokens of a multi-target model (``>>por<<``); none for one pair.
        source_lang: the tokenizer's ``source_lang`` (``None`` to leave it unset).
        target_lang: the tokenizer's ``target_lang``.
    """
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    model_file = train_spm(work / "spm")
    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    # Marian's vocab.json: </s> and <unk> first, language tokens, the pieces, <pad> last.
    pieces = ["</s>", "<unk>", *target_codes]
    pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())
               if processor.id_to_piece(i) not in ("<unk>", "<s>", "</s>")]
    pieces.append("<pad>")
    vocab_file = work / "vocab.json"
    vocab_file.write_text(json.dumps({piece: i for i, piece in enumerate(pieces)}), encoding="utf-8")
    kwargs = {k: v for k, v in (("source_lang", source_lang), ("target_lang", target_lang)) if v}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
        tokenizer = MarianTokenizer(str(model_file), str(model_file), str(vocab_file), **kwargs)
    pad = len(pieces) - 1
    config = MarianConfig(vocab_size=len(pieces), pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                          max_position_embeddings=MAX_POSITIONS, **_TINY)
    torch.manual_seed(0)
    model = MarianMTModel(config)
    return _save(model, tokenizer, out, max_length=MAX_POSITIONS, bad_words_ids=[[pad]])


def build_nllb(out: Path) -> Path:
    """An NLLB checkpoint (``NllbTokenizer`` with its 202 language codes, ``M2M100ForConditionalGeneration``)."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    train_spm(work / "sentencepiece.bpe", model_type="bpe")
    (work / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "NllbTokenizer"}))
    # Converted from SentencePiece, the tokenizer would only have the model's own
    # pieces: a real checkpoint's tokenizer.json lists the codes as added tokens.
    tokenizer = NllbTokenizer.from_pretrained(str(work), extra_special_tokens=FAIRSEQ_LANGUAGE_CODES)
    config = M2M100Config(vocab_size=len(tokenizer), pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, max_position_embeddings=MAX_POSITIONS, scale_embedding=True,
                          **_TINY)
    torch.manual_seed(0)
    model = M2M100ForConditionalGeneration(config)
    return _save(model, tokenizer, out, max_length=MAX_POSITIONS)


def build_m2m100(out: Path) -> Path:
    """An M2M100 checkpoint (``M2M100Tokenizer`` with vocab.json + spm, ``__pt__`` language tokens)."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    model_file = train_spm(work / "spm")
    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    # fairseq's dictionary order: <s> <pad> </s> <unk>, then the pieces.
    pieces = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())
               if processor.id_to_piece(i) not in pieces]
    vocab_file = work / "vocab.json"
    vocab_file.write_text(json.dumps({piece: i for i, piece in enumerate(pieces)}), encoding="utf-8")
    tokenizer = M2M100Tokenizer(str(vocab_file), str(model_file))
    # The language tokens and 8 "made-up words" come after the vocabulary, outside len(tokenizer).
    vocab_size = len(tokenizer.encoder) + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words
    config = M2M100Config(vocab_size=vocab_size, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, max_position_embeddings=MAX_POSITIONS, scale_embedding=True,
                          **_TINY)
    torch.manual_seed(0)
    model = M2M100ForConditionalGeneration(config)
    return _save(model, tokenizer, out, max_length=MAX_POSITIONS)


def build_mbart50(out: Path) -> Path:
    """An mBART-50 checkpoint (``MBart50Tokenizer``, ``MBartForConditionalGeneration``)."""
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    train_spm(work / "sentencepiece.bpe")
    (work / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "MBart50Tokenizer"}))
    tokenizer = MBart50Tokenizer.from_pretrained(str(work))
    config = MBartConfig(vocab_size=len(tokenizer), pad_token_id=1, bos_token_id=0, eos_token_id=2,
                         decoder_start_token_id=2, max_position_embeddings=MAX_POSITIONS, **_TINY)
    torch.manual_seed(0)
    model = MBartForConditionalGeneration(config)
    return _save(model, tokenizer, out, max_length=MAX_POSITIONS)


def _t5(out: Path, user_defined_symbols: Sequence[str], task_prefixes: bool) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    # T5's SentencePiece layout: <pad>=0, </s>=1, <unk>=2.
    train_spm(work / "spiece", user_defined_symbols=user_defined_symbols,
              pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    (work / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer", "extra_ids": 0}))
    tokenizer = T5Tokenizer.from_pretrained(str(work))
    params = {}
    if task_prefixes:
        params = {f"translation_en_to_{code}": {"prefix": f"translate English to {name}: "}
                  for code, name in (("de", "German"), ("fr", "French"), ("ro", "Romanian"))}
    # initializer_factor is T5's init_std: widened for the same reason as _TINY's.
    config = T5Config(vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1,
                      num_heads=2, initializer_factor=5.0, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                      task_specific_params=params or None)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    return _save(model, tokenizer, out)


def build_t5(out: Path) -> Path:
    """A T5 checkpoint with the original task prefixes (``translate English to German: ``)."""
    return _t5(out, (), task_prefixes=True)


def build_madlad(out: Path, codes: Sequence[str] = MADLAD_CODES) -> Path:
    """A MADLAD-400-like T5 checkpoint: ``<2pt>`` target tokens in the SentencePiece vocabulary."""
    return _t5(out, [f"<2{code}>" for code in codes], task_prefixes=False)


def build_marian_multi(out: Path) -> Path:
    """A multi-target Marian checkpoint (``eng`` into ``>>por<<``, ``>>pt_br<<``, ``>>zho_Hans<<``...)."""
    return build_marian(out, target_codes=MARIAN_TARGETS, source_lang="eng", target_lang="mul")


def build_bergamot(out: Path, *, first_num: int = 8, candidates: int = 6) -> Path:
    """A Bergamot checkpoint (SSRU decoder, ``tokenizer.json``) with a random lexical shortlist.

    The shortlist is small (``first_num`` ids always allowed, ``candidates``
    random target ids per source id), so that it decides much of what a random
    model can produce: a sentence whose vocabulary leaked in from its batch
    neighbours translates differently.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers

    from pipeline.models.bergamot import register_auto

    register_auto()  # before the imports below: it imports them itself
    from pipeline.models.bergamot.configuration import BergamotConfig
    from pipeline.models.bergamot.modeling import BergamotForConditionalGeneration
    from pipeline.models.bergamot.tokenization import BergamotTokenizer

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    # Bergamot's vocabulary layout: </s>=0 (also the pad), <unk>=1, no BOS; its
    # tokenizer.json is the SentencePiece unigram model as a tokenizers Unigram.
    processor = spm.SentencePieceProcessor(
        model_file=str(train_spm(work / "spm", eos_id=0, unk_id=1, bos_id=-1, pad_id=-1)))
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    backend = Tokenizer(models.Unigram(pieces, unk_id=1, byte_fallback=False))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    backend.add_special_tokens([AddedToken("</s>", special=True), AddedToken("<unk>", special=True)])
    backend.save(str(work / "tokenizer.json"))
    tokenizer = BergamotTokenizer(tokenizer_file=str(work / "tokenizer.json"), eos_token="</s>", unk_token="<unk>",
                                  pad_token="</s>", add_eos_token=True, split_special_tokens=True)
    vocab = len(tokenizer)
    generator = torch.Generator().manual_seed(0)
    targets = torch.randint(first_num, vocab, (vocab, candidates), generator=generator).sort(dim=1).values
    config = BergamotConfig(vocab_size=vocab, d_model=16, encoder_layers=1, decoder_layers=1, attention_heads=2,
                            ffn_dim=32, shortlist_first_num=first_num, shortlist_size=vocab * candidates,
                            architectures=["BergamotForConditionalGeneration"])
    torch.manual_seed(0)
    model = BergamotForConditionalGeneration(config)
    with torch.no_grad():
        # Wide weights (layer norms and the output bias as they are): outputs that depend on the input.
        for name, parameter in model.named_parameters():
            if "norm" not in name and name != "logits_bias":
                parameter.normal_(0.0, 1.0)
        shortlist = model.model.encoder.shortlist
        shortlist.offsets.copy_(torch.arange(vocab + 1) * candidates)
        shortlist.targets.copy_(targets.flatten().to(torch.int32))
    return _save(model, tokenizer, out, decoder_start_token_id=0, eos_token_id=0, pad_token_id=0,
                 suppress_tokens=[1])


BUILDERS = {
    "bergamot": build_bergamot,
    "marian": build_marian,
    "marian-multi": build_marian_multi,
    "nllb": build_nllb,
    "m2m100": build_m2m100,
    "mbart": build_mbart50,
    "t5": build_t5,
    "madlad": build_madlad,
}
