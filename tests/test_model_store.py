"""The model store verifies what it loads: a sha256 per file, recorded at conversion, checked on load.

The real Bergamot en->pt model is converted once into a temporary store
(``MTPIPE_MODEL_STORE``); each test damages a copy of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import ModelError
from pipeline.models import manifest as manifest_module
from pipeline.models.bergamot.store import STORE_ENV, ensure_model, import_bergamot
from pipeline.models.manifest import MANIFEST

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (folder,) = import_bergamot(tmp_path_factory.mktemp("store"), ["en-pt"])
    return folder


@pytest.fixture
def store(converted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private store holding a copy of the converted en->pt folder, set as MTPIPE_MODEL_STORE."""
    shutil.copytree(converted, tmp_path / "store" / converted.name)
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    return tmp_path / "store"


def _translate(capsys: pytest.CaptureFixture[str], tmp_path: Path, model: str = "bergamot-en-pt"
               ) -> tuple[int, str, str]:
    source = tmp_path / "in.txt"
    source.write_text("Hello world.\n", encoding="utf-8")
    code = main(["-q", "translate", "--src", "en", "--tgt", "pt", "--model", model, "--no-cache", str(source)])
    out, err = capsys.readouterr()
    return code, out, err


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # in the middle of the tensors, past the header
    path.write_bytes(bytes(data))


def test_the_manifest_records_every_file_with_its_size_and_sha256(converted: Path) -> None:
    recorded = json.loads((converted / MANIFEST).read_text(encoding="utf-8"))
    files = {p.name for p in converted.iterdir()} - {MANIFEST}
    assert set(recorded["files"]) == files >= {"model.safetensors", "tokenizer.json", "config.json"}
    for name, entry in recorded["files"].items():
        data = (converted / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_good_store_loads_and_translates(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _translate(capsys, tmp_path)
    assert code == 0, err
    assert out == "Olá, mundo.\n"


def test_a_same_size_corruption_is_refused_by_name_with_the_fix(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors import safe_open

    weights = store / "bergamot-en-pt" / "model.safetensors"
    size = weights.stat().st_size
    _flip_a_byte(weights)
    assert weights.stat().st_size == size
    # The damage is invisible to the file format: its header is intact and every tensor reads.
    with safe_open(str(weights), "pt") as handle:
        assert all(handle.get_tensor(name) is not None for name in handle.keys())

    code, out, err = _translate(capsys, tmp_path)
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"error: model file is corrupted: {weights} (its sha256 differs from the one in {MANIFEST})",
        f"hint: delete {store / 'bergamot-en-pt'} and run `mtpipe models import bergamot`",
    ]


def test_a_missing_file_is_named(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (store / "bergamot-en-pt" / "tokenizer.json").unlink()
    code, _, err = _translate(capsys, tmp_path)
    assert code == 1
    assert err.splitlines() == [
        f"error: model file missing: {store / 'bergamot-en-pt' / 'tokenizer.json'}",
        f"hint: delete {store / 'bergamot-en-pt'} and run `mtpipe models import bergamot`",
    ]


@pytest.mark.parametrize(
    "damage, message",
    [
        pytest.param(lambda f: (f / "special_tokens_map.json").write_text("{}"),
                     "unexpected file in model folder: {f}/special_tokens_map.json (not in mtpipe-manifest.json)",
                     id="extra-file"),
        pytest.param(lambda f: (f / "config.json").write_text((f / "config.json").read_text() + " "),
                     "model file is corrupted: {f}/config.json has 641 bytes, mtpipe-manifest.json records 640",
                     id="other-size"),
        pytest.param(lambda f: (f / MANIFEST).write_text("{not json"),
                     "model file is corrupted: {f}/mtpipe-manifest.json (Expecting property name", id="manifest"),
    ],
)
def test_other_damage_is_named(store: Path, damage, message: str) -> None:
    folder = store / "bergamot-en-pt"
    damage(folder)
    with pytest.raises(ModelError) as err:
        ensure_model("en-pt")
    assert err.value.message.startswith(message.format(f=folder))


def test_a_folder_passed_by_path_is_verified_too(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "my-model"
    shutil.copytree(store / "bergamot-en-pt", copy)
    _flip_a_byte(copy / "tokenizer.json")
    code, _, err = _translate(capsys, tmp_path, model=str(copy))
    assert code == 1
    assert err.splitlines()[0] == (f"error: model file is corrupted: {copy / 'tokenizer.json'} "
                                   f"(its sha256 differs from the one in {MANIFEST})")


def test_a_store_from_before_manifests_is_converted_again(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = store / "bergamot-en-pt"
    (folder / MANIFEST).unlink()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with caplog.at_level(logging.INFO, logger="pipeline.models.bergamot.store"):
        assert ensure_model("en-pt") == folder
    assert f"{folder} was converted by an older mtpipe and has no checksums: converting it again" in caplog.messages
    assert (folder / MANIFEST).is_file()
    # The conversion is deterministic: the same files, now with their checksums.
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != MANIFEST} == before
    ensure_model("en-pt")  # and it verifies


def test_following_the_hint_repairs_the_store(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = store / "bergamot-en-pt"
    good = (folder / "model.safetensors").read_bytes()
    _flip_a_byte(folder / "model.safetensors")
    with pytest.raises(ModelError) as err:
        ensure_model("en-pt")
    assert err.value.hint == f"delete {folder} and run `mtpipe models import bergamot`"
    shutil.rmtree(folder)
    assert main(["-q", "models", "import", "bergamot"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(folder), str(store / "bergamot-pt-en")]
    assert (folder / "model.safetensors").read_bytes() == good
    ensure_model("en-pt")


def test_import_converts_a_damaged_folder_again(store: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = store / "bergamot-en-pt"
    good = (folder / "model.safetensors").read_bytes()
    _flip_a_byte(folder / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="pipeline.models.bergamot.store"):
        import_bergamot(store, ["en-pt"])
    assert any("model.safetensors (its sha256 differs" in m and "converting it again" in m for m in caplog.messages)
    assert (folder / "model.safetensors").read_bytes() == good


def test_verification_is_cached_until_a_file_changes(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Files just written count as settled here; in use, a file changed in the last 2 s is always hashed.
    monkeypatch.setattr(manifest_module, "_SETTLED_NS", -10**18)
    hashed: list[str] = []
    real = manifest_module.sha256_file
    monkeypatch.setattr(manifest_module, "sha256_file", lambda path: hashed.append(path.name) or real(path))

    ensure_model("en-pt")
    assert "model.safetensors" in hashed
    hashed.clear()
    ensure_model("en-pt")
    assert hashed == []  # nothing changed: no file read again

    weights = store / "bergamot-en-pt" / "model.safetensors"
    _flip_a_byte(weights)
    with pytest.raises(ModelError, match="model file is corrupted: .*model.safetensors"):
        ensure_model("en-pt")
    assert hashed == ["model.safetensors"]


def test_a_file_changed_just_now_is_hashed_every_time(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = manifest_module.sha256_file
    monkeypatch.setattr(manifest_module, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    ensure_model("en-pt")
    ensure_model("en-pt")  # the copy's files are seconds old: not trusted from the cache yet
    assert hashed.count("model.safetensors") == 2


def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a new process starts with: nothing verified in memory.
    monkeypatch.setattr(manifest_module, "_verified", {})
    monkeypatch.setattr(manifest_module, "_digests", {})


def _hash_counter(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []
    real = manifest_module.sha256_file
    monkeypatch.setattr(manifest_module, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    return hashed


def test_a_later_process_trusts_the_record_of_unchanged_files(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_module, "_SETTLED_NS", -10**18)  # files just written count as settled
    hashed = _hash_counter(monkeypatch)
    folder = store / "bergamot-en-pt"
    ensure_model("en-pt")
    listed = set(json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"])
    assert set(hashed) == listed
    recorded = json.loads((folder / manifest_module.VERIFIED).read_text(encoding="utf-8"))
    assert set(recorded["files"]) == listed

    _new_process(monkeypatch)
    hashed.clear()
    ensure_model("en-pt")
    assert hashed == []  # every file as recorded: none read

    _new_process(monkeypatch)
    weights = folder / "model.safetensors"
    _flip_a_byte(weights)  # same size; a write changes the ctime, whatever the mtime says
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, int(recorded["files"]["model.safetensors"][1])))
    with pytest.raises(ModelError, match="model file is corrupted: .*model.safetensors"):
        ensure_model("en-pt")
    assert hashed == ["model.safetensors"]


def test_the_record_of_another_manifest_is_ignored(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_module, "_SETTLED_NS", -10**18)
    folder = store / "bergamot-en-pt"
    ensure_model("en-pt")
    record = folder / manifest_module.VERIFIED
    data = json.loads(record.read_text(encoding="utf-8"))
    data["manifest_sha256"] = "0" * 64
    record.write_text(json.dumps(data), encoding="utf-8")
    _new_process(monkeypatch)
    hashed = _hash_counter(monkeypatch)
    ensure_model("en-pt")
    assert "model.safetensors" in hashed


def test_a_damaged_record_only_costs_a_hash(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = store / "bergamot-en-pt"
    (folder / manifest_module.VERIFIED).write_text("{not json", encoding="utf-8")
    hashed = _hash_counter(monkeypatch)
    assert ensure_model("en-pt") == folder
    assert "model.safetensors" in hashed


def test_the_model_identity_takes_the_verified_hashes_and_ignores_the_record(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cache import model_identity
    from pipeline.translate import Translator

    monkeypatch.setattr(manifest_module, "_SETTLED_NS", -10**18)
    translator = Translator("bergamot-en-pt")
    translator.check_direction("en", "pt-BR")  # verifies the folder
    folder = store / "bergamot-en-pt"
    assert (folder / manifest_module.VERIFIED).exists()
    read: list[str] = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: read.append(self.name) or real_open(self, *a, **k))
    identity = model_identity(translator)
    assert "model.safetensors" not in read  # its hash comes from the manifest just verified
    # The same identity as hashing every file of the model (the record left out) gives.
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != manifest_module.VERIFIED):
        digest.update(f"{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    assert identity == f"bergamot-en-pt@{digest.hexdigest()}"
