from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import EngineConfig, load_config
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
[[corpora]]
name = "article"
source = "src.txt"
src_lang = "en"
references = { "pt-BR" = "ref.pt.txt" }

[[systems]]
name = "greedy"
model = "bergamot-en-pt"
"""


def write(tmp_path: Path, text: str, name: str = "job.toml") -> Path:
    path = tmp_path / "sub" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_job_is_valid_and_paths_resolve_against_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    corpus = config.corpora[0]
    assert corpus.source == (tmp_path / "sub" / "src.txt").resolve()
    assert corpus.references == {"pt-BR": ((tmp_path / "sub" / "ref.pt.txt").resolve(),)}
    assert corpus.tgt_langs == ("pt-BR",)
    assert corpus.segment is False
    assert config.systems[0].beam == 1
    assert config.output_dir == (tmp_path / "sub" / "runs" / "job").resolve()
    assert config.name == "job"


def test_main_job_config_parses() -> None:
    config = load_config(ROOT / "configs" / "article-en-pt.toml")
    assert [s.model for s in config.systems] == ["bergamot-en-pt"]
    assert config.corpora[0].segment is True
    assert config.corpora[0].tgt_langs == ("pt-BR",)
    assert config.corpora[0].source == ROOT / "corpora" / "automated-translation-article.en.txt"


def test_output_dir_and_tgt_langs_and_language_normalisation(tmp_path: Path) -> None:
    text = """
[output]
dir = "out/here"
[[corpora]]
name = "c"
source = "s.txt"
src_lang = "eng"
tgt_langs = ["por_Latn", "zh_Hans"]
[[systems]]
name = "s"
model = "m"
beam = 4
"""
    config = load_config(write(tmp_path, text))
    assert config.output_dir == (tmp_path / "sub" / "out" / "here").resolve()
    assert config.corpora[0].src_lang == "en"
    assert config.corpora[0].tgt_langs == ("pt-Latn", "zh-Hans")
    assert config.systems[0].beam == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(MINIMAL.replace("src_lang", "scr_lang"),
                     "unknown key 'scr_lang'; did you mean 'src_lang'?", id="typo-corpus"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nbeem = 4'),
                     "unknown key 'beem'; did you mean 'beam'?", id="typo-system"),
        pytest.param(MINIMAL + '\n[outptu]\ndir = "x"\n',
                     "unknown key 'outptu'; did you mean 'output'?", id="typo-top"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nbeam = "4"'),
                     "beam must be a whole number from 1 to 256, got '4'", id="bad-type"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nbeam = 0'),
                     "beam must be a whole number from 1 to 256, got 0", id="bad-beam"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nbeam = 9223372036854775807'),
                     "system 'greedy': beam must be a whole number from 1 to 256, got 9223372036854775807",
                     id="huge-beam"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nmax_length = 1e12'),
                     "max_length must be a whole number from 1 to 16384, got 1000000000000.0", id="float-max-length"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nmax_length = 1000000000000'),
                     "max_length must be a whole number from 1 to 16384, got 1000000000000", id="huge-max-length"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\ntgt_langs = ["pt", 3]'),
                     "[[systems]] #1: tgt_langs must be a list of language codes in quotes, got ['pt', 3]",
                     id="system-tgt-langs-not-strings"),
        pytest.param(MINIMAL.replace('references = { "pt-BR" = "ref.pt.txt" }', "tgt_langs = [1]"),
                     "[[corpora]] #1: tgt_langs must be a list of language codes in quotes, got [1]",
                     id="corpus-tgt-langs-not-strings"),
        pytest.param(MINIMAL + "\n[ray]\ngpus_per_actor = nan\n",
                     "gpus_per_actor must be a number of at least 0, got nan", id="ray-gpus-nan"),
        pytest.param('engine = "spark"\n' + MINIMAL, "engine 'spark' is not one of local, ray", id="bad-engine"),
        pytest.param('engine = "ray"\n' + MINIMAL + "\n[ray]\nactor = 2\n",
                     "unknown key 'actor'; did you mean 'actors'?", id="ray-typo"),
        pytest.param(MINIMAL + "\n[ray]\nactors = 0\n",
                     "actors must be a whole number from 1 to 100000, got 0", id="ray-actors"),
        pytest.param(MINIMAL + "\n[ray]\ngpus_per_actor = true\n",
                     "gpus_per_actor must be a number, got True", id="ray-gpus-bool"),
        pytest.param(MINIMAL + "\n[ray]\ncpus_per_actor = 0\n",
                     "an actor needs at least some CPU or GPU", id="ray-nothing"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\nworkers = 0'),
                     "workers must be a whole number from 1 to 1024, got 0", id="bad-workers"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "bergamot-native"\nworkers = 2'),
                     "the native engine takes threads", id="native-workers"),
        pytest.param(MINIMAL.replace('model = "bergamot-en-pt"', 'model = "m"\ndevice = "tpu"'),
                     "device 'tpu' is not one of cpu, cuda, auto", id="bad-device"),
        pytest.param(MINIMAL.replace('"en"', '"klingon"'), "unknown language code 'klingon'", id="bad-language"),
        pytest.param(MINIMAL.replace('name = "greedy"\n', ""), "missing key 'name'", id="missing-key"),
        pytest.param(MINIMAL.split("[[systems]]")[0], "missing key 'systems'", id="no-systems"),
        pytest.param(MINIMAL.replace('references = { "pt-BR" = "ref.pt.txt" }', ""),
                     "no target language", id="no-target"),
        pytest.param(MINIMAL + '\n[[systems]]\nname = "greedy"\nmodel = "x"\n',
                     "two systems are named 'greedy'", id="duplicate-system"),
        pytest.param(MINIMAL + '\n[[corpora]]\nname = "article"\nsource = "x"\nsrc_lang = "en"\ntgt_langs = ["de"]\n',
                     "two corpora are named 'article'", id="duplicate-corpus"),
        pytest.param("[[corpora]\n", "invalid TOML", id="bad-toml"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)
    assert "job.toml" in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found: .*nope.toml"):
        load_config(tmp_path / "nope.toml")


def test_engine_defaults_to_local_and_reads_the_ray_table(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).engine == EngineConfig()
    text = 'engine = "ray"\n' + MINIMAL + '\n[ray]\naddress = "10.0.0.5:6379"\nactors = 4\ngpus_per_actor = 0.5\n'
    engine = load_config(write(tmp_path, text)).engine
    assert engine == EngineConfig(name="ray", address="10.0.0.5:6379", actors=4, cpus_per_actor=1.0, gpus_per_actor=0.5)
    # The command line's options win; what they leave out stays.
    assert engine.with_options(name="local") == EngineConfig(name="local", address="10.0.0.5:6379", actors=4,
                                                             gpus_per_actor=0.5)
    assert engine.with_options(address="127.0.0.1:1", actors=2).address == "127.0.0.1:1"
