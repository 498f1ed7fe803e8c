"""Tokens/s of the ctranslate2 backend (float32 and int8) against the transformers backend (float32).

Usage: python benchmarks/ct2.py [--lines 500] [--max-length 48] [--rounds 3] [--threads 1] [--workers 2]
                                [--output ct2.json]

The model is built here, not downloaded: a MarianMT checkpoint of OPUS-MT "base" size
(6 + 6 layers, d_model 512, 8 heads, FFN 2048, 32,000 target entries, about 75 M
parameters) with random weights, and a SentencePiece model trained on the FLORES-200
devtest lines of six languages (``tests.helpers.tinymodels.train_spm``), its vocabulary
padded to 32,000 entries (the filler entries are never produced by the tokenizer, but
the output layer and its softmax are the size of a real OPUS-MT model's). It is written
once to ``benchmarks/results/ct2-model/``, and converted to CTranslate2 (float32, int8)
into a model store there as the backend does it, before any timing.

Why a fixed output length: random weights almost never produce ``</s>``, so every segment
runs to its length limit, and that limit would otherwise be 3 x the source + 10 tokens:
the systems would decode far longer outputs than a trained model does. Every system gets
the same ``max_length`` (default 48 new tokens per segment), and what is counted is the
tokens each system actually generated (up to and without ``</s>``, read from its output
ids), so tokens/s compares the same decoding work whatever a system happens to emit.

The first ``--lines`` FLORES en devtest lines (500) are translated by (a) the transformers
backend, float32, (b) the ctranslate2 backend, float32, (c) the ctranslate2 backend, int8;
greedy, through the same :class:`pipeline.translate.Translator` batching (2048-token
batches), with the same layout: ``--workers`` batches at once (2: one per core), each on
``--threads`` threads (1), the defaults of both backends on this machine. Each system
runs in a child process of its own; rounds are interleaved (a, b, c, a, b, c, ...) so that a
noisy neighbour hits them all, and each system keeps its best round. The first 16 lines are
translated once before the clock starts (model load). Prints tokens/s and the ratios to
(a), and how many lines (b) and (c) translate exactly as (a) does; writes JSON to
benchmarks/results/ct2.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import RESULTS, SOURCE, WARMUP_LINES, machine, read_lines, write_json  # noqa: E402

MODEL = RESULTS / "ct2-model"
STORE = RESULTS / "ct2-store"
VOCAB = 32_000
SYSTEMS = {
    "a_transformers_float32": {"backend": "transformers"},
    "b_ct2_float32": {"backend": "ctranslate2"},
    "c_ct2_int8": {"backend": "ctranslate2", "quantize": "int8"},
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500, help="FLORES en devtest lines to translate")
    parser.add_argument("--max-length", type=int, default=48, help="new tokens per segment (the same for all)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each system keeps its best")
    parser.add_argument("--threads", type=int, default=1, help="threads per batch (torch / CTranslate2 intra)")
    parser.add_argument("--workers", type=int, default=2, help="batches decoded at once (CTranslate2 inter)")
    parser.add_argument("--output", default="ct2.json", help="JSON file name under benchmarks/results/")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def build_model(out: Path) -> Path:
    """A random-weight MarianMT of OPUS-MT base size, with a SentencePiece vocabulary padded to 32k."""
    if (out / "config.json").exists():
        return out
    import warnings

    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    from tests.helpers.tinymodels import corpus_lines

    work = out.parent / f"{out.name}-spm"
    work.mkdir(parents=True, exist_ok=True)
    # All 1012 lines of each FLORES language: pieces of a realistic grain for English.
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus_lines(per_language=1012)),
                                   model_prefix=str(work / "spm"), vocab_size=16_000, character_coverage=0.9995,
                                   hard_vocab_limit=False, minloglevel=2)
    model_file = work / "spm.model"
    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    pieces = ["</s>", "<unk>"]
    pieces += [processor.id_to_piece(i) for i in range(processor.get_piece_size())
               if processor.id_to_piece(i) not in ("<unk>", "<s>", "</s>")]
    pieces += [f"<filler_{i}>" for i in range(VOCAB - 1 - len(pieces))]
    pieces.append("<pad>")
    (work / "vocab.json").write_text(json.dumps({piece: i for i, piece in enumerate(pieces)}), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
        tokenizer = MarianTokenizer(str(model_file), str(model_file), str(work / "vocab.json"),
                                    source_lang="en", target_lang="pt")
    pad = len(pieces) - 1
    config = MarianConfig(vocab_size=len(pieces), pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                          d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                          decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
                          max_position_embeddings=512, share_encoder_decoder_embeddings=True)
    torch.manual_seed(0)
    model = MarianMTModel(config)
    model.generation_config.bad_words_ids = [[pad]]
    model.generation_config.max_length = 512
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def child(name: str, args: argparse.Namespace) -> dict:
    """Run one system in this process: warm up, translate the lines, count the generated tokens."""
    import logging

    from transformers.utils import logging as hf_logging

    from pipeline.backends import get_backend
    from pipeline.config import SystemConfig

    logging.disable(logging.WARNING)  # every segment stops at max_length: that is the point
    hf_logging.disable_progress_bar()
    system = SystemConfig(name=name, model=str(MODEL), max_length=args.max_length, threads=args.threads,
                          workers=args.workers, **SYSTEMS[name])
    translator = get_backend(system.backend).translator(system)
    lines = read_lines(SOURCE, args.lines)
    start = time.perf_counter()
    translator.translate(lines[:WARMUP_LINES], "en", "pt")
    warmup = time.perf_counter() - start
    generator = getattr(translator, "_pipeline", translator).generator
    eos = translator.info.tokenizer.eos_token_id
    counted = {"tokens": 0}
    decode = generator.decode

    def counting(batch: list, rows: list[list[int]], direction: object) -> list:
        # The tokens this system generated for each segment: up to its limit, without </s>.
        for item, row in zip(batch, rows, strict=True):
            new = row[1 : 1 + generator.max_new_tokens(len(item.ids))]
            counted["tokens"] += new.index(eos) if eos in new else len(new)
        return decode(batch, rows, direction)

    generator.decode = counting
    start = time.perf_counter()
    outputs = translator.translate(lines, "en", "pt")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tokens": counted["tokens"], "warmup_seconds": warmup, "outputs": outputs}


def run_child(name: str, args: argparse.Namespace) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--lines", str(args.lines),
            "--max-length", str(args.max_length), "--threads", str(args.threads), "--workers", str(args.workers)]
    env = {**os.environ, "MTPIPE_MODEL_STORE": str(STORE), "MTPIPE_CACHE": str(RESULTS / "ct2-unused.sqlite3")}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args), ensure_ascii=False))
        return 0
    started = time.perf_counter()
    build_model(MODEL)
    # Convert both ways once, before timing (a child would otherwise convert in its warm-up).
    os.environ["MTPIPE_MODEL_STORE"] = str(STORE)
    from pipeline.backends.ct2_store import converted
    from pipeline.models import open_model

    info = open_model(str(MODEL))
    for quantization in ("float32", "int8"):
        converted(info, quantization)
    best: dict[str, dict] = {}
    rates: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    for round_number in range(args.rounds):
        for name in SYSTEMS:
            result = run_child(name, args)
            rate = result["tokens"] / result["seconds"]
            rates[name].append(rate)
            print(f"round {round_number + 1} {name}: {result['tokens']} tokens in {result['seconds']:.1f} s "
                  f"= {rate:.0f} tokens/s", file=sys.stderr)
            if name not in best or rate > best[name]["tokens_per_second"]:
                best[name] = {**result, "tokens_per_second": rate}
    base = best["a_transformers_float32"]
    print(f"\n{args.lines} FLORES en lines, greedy, max_length {args.max_length}, {args.workers} workers x "
          f"{args.threads} threads, best of {args.rounds} interleaved rounds\n")
    print("| system | tokens | seconds | tokens/s | x transformers | lines as (a) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, result in best.items():
        same = sum(x == y for x, y in zip(result["outputs"], base["outputs"], strict=True))
        result["ratio"] = result["tokens_per_second"] / base["tokens_per_second"]
        result["identical_lines"] = same
        print(f"| {name} | {result['tokens']} | {result['seconds']:.1f} | {result['tokens_per_second']:.0f} | "
              f"{result['ratio']:.2f} | {same}/{len(base['outputs'])} |")
    data = {"lines": args.lines, "max_length": args.max_length, "threads": args.threads, "workers": args.workers,
            "rounds": args.rounds, "machine": machine(),
            "systems": {name: {k: v for k, v in result.items() if k != "outputs"} for name, result in best.items()},
            "total_seconds": time.perf_counter() - started}
    for name in list(SYSTEMS)[1:]:
        # Within a round the systems ran minutes apart: the spread shows how noisy the machine was.
        ratios = [rate / base_rate for rate, base_rate in zip(rates[name], rates["a_transformers_float32"],
                                                               strict=True)]
        data["systems"][name]["ratios_per_round"] = ratios
        print(f"{name} / a, round by round: {', '.join(f'{ratio:.2f}' for ratio in ratios)}")
    print(f"\nJSON: {write_json(args.output, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
