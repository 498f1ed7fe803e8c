"""Score with unbabel-comet: the script :mod:`pipeline.comet` runs in COMET's own Python environment.

unbabel-comet requires transformers<5, numpy<2 and protobuf<5, so it cannot
live in mtpipe's environment. This file is run there as a plain script
(``python -I comet_worker.py REQUEST RESPONSE``) and imports nothing from
mtpipe: only the standard library and ``comet``.

REQUEST is JSON: ``{"model": hub id or checkpoint path, "batch_size": int,
"src": [...], "mt": [...], "ref": [...]}``. RESPONSE gets JSON:
``{"scores": [...], "checkpoint": path, "checkpoint_sha256": hex, "comet_version": str}``,
or ``{"error": kind, "message": text}`` with exit status 2. Kinds:
``not-installed``, ``model-not-found``, ``bad-checkpoint``.
"""

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path


def _fail(response: Path, kind: str, message: str) -> int:
    response.write_text(json.dumps({"error": kind, "message": message}), encoding="utf-8")
    return 2


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(request_path: str, response_path: str) -> int:
    response = Path(response_path)
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    try:
        import comet
    except ImportError as err:
        return _fail(response, "not-installed", f"unbabel-comet is not installed in {sys.executable} ({err})")
    model = request["model"]
    local = Path(model)
    if local.is_dir():
        checkpoint = local / "checkpoints" / "model.ckpt"
    elif local.is_file():
        checkpoint = local
    else:
        try:
            checkpoint = Path(comet.download_model(model))
        except Exception as err:  # comet raises KeyError, hub errors or OSError: all mean "not found"
            return _fail(response, "model-not-found", f"COMET model {model!r} is neither a local checkpoint "
                                                      f"nor downloadable ({type(err).__name__}: {err})")
    if not checkpoint.is_file():
        return _fail(response, "model-not-found", f"no COMET checkpoint at {checkpoint}")
    try:
        scorer = comet.load_from_checkpoint(str(checkpoint))
    except Exception as err:  # a damaged checkpoint, a missing hparams.yaml or encoder: one message
        return _fail(response, "bad-checkpoint", f"cannot load COMET checkpoint {checkpoint}: {err}")
    columns = zip(request["src"], request["mt"], request["ref"])  # noqa: B905 (COMET's Python may be 3.8/3.9)
    samples = [{"src": s, "mt": m, "ref": r} for s, m, r in columns]
    prediction = scorer.predict(samples, batch_size=request["batch_size"], gpus=0, progress_bar=False,
                                num_workers=0)
    result = {
        "scores": [float(score) for score in prediction.scores],
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": _sha256(checkpoint),
        "comet_version": metadata.version("unbabel-comet"),
    }
    response.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
