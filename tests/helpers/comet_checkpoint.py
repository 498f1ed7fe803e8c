"""Build a tiny COMET checkpoint with random weights; run in COMET's own Python (tests/helpers/comet.py does).

Usage: python comet_checkpoint.py FOLDER

FOLDER gets COMET's layout: ``hparams.yaml``, ``checkpoints/model.ckpt`` and
the encoder it names (``encoder/``: a 2-layer XLM-RoBERTa of width 32 with a
Unigram tokenizer of 60 pieces trained here on a few hundred lines). It is a
real ``RegressionMetric``, as ``Unbabel/wmt22-comet-da`` is, only tiny.
Imports nothing from mtpipe: COMET's environment does not have it.
"""

import random
import sys
from pathlib import Path

import pytorch_lightning
import torch
import yaml
from comet.models import RegressionMetric
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

WORDS = ("the a cat dog house green red runs sleeps big small o gato cão casa verde vermelho corre dorme "
         "grande pequeno der die Hund Katze Haus").split()


def main(folder: Path) -> None:
    encoder = (folder / "encoder").resolve()
    encoder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(300)]
    # A fast tokenizer trained with `tokenizers`: converting a SentencePiece model needs a newer
    # protobuf than COMET allows.
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(lines, trainers.UnigramTrainer(vocab_size=60, special_tokens=specials,
                                                                 unk_token="<unk>"))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer.save(str(encoder / "tokenizer.json"))
    fast = XLMRobertaTokenizerFast(tokenizer_file=str(encoder / "tokenizer.json"))
    fast.save_pretrained(encoder)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=130, pad_token_id=fast.pad_token_id)
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(encoder)
    model = RegressionMetric(pretrained_model=str(encoder), hidden_sizes=[16], load_pretrained_weights=True)
    (folder / "checkpoints").mkdir(exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                "pytorch-lightning_version": pytorch_lightning.__version__}, folder / "checkpoints" / "model.ckpt")
    hparams = dict(model.hparams, class_identifier="regression_metric")
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
