"""Issue 28's publishers: the built-in off-Hub sources carry the publishers' real values and read strictly, a
Zenodo record and a GCS object's checksum are read from look-alike hosts through the same HTTP client, with
``MUSICGEN_SOURCES_ENDPOINT`` pointing the real URLs at them, and no Hub token ever reaches them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import blob

from core.hub.publishers import PublisherError, Publishers, goog_md5
from core.settings import Settings
from core.sources import Checksum, SourceError, load_sources, rewritten
from localhub import Fault, HubFile
from localhub.hosts import PublisherHosts

META = HubFile("FSDKaggle2018.meta.zip", blob("meta", 20_000))
DOC = HubFile("FSDKaggle2018.doc.zip", blob("doc", 3_000))
MIDI = HubFile("maestro-v3.0.0-midi.zip", blob("midi", 50_000))


@pytest.fixture
def hosts() -> PublisherHosts:
    with PublisherHosts({"/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip": MIDI},
                        {2552860: [META, DOC]}) as h:
        yield h


def _settings(tmp_path: Path, hosts: PublisherHosts) -> Settings:
    return Settings(root=tmp_path, endpoint="http://127.0.0.1:9", token="hf_secret_DoNotSend", retries=2,
                    read_timeout=5, sources_endpoint=hosts.url)


def test_the_builtin_sources_carry_the_publishers_values() -> None:
    sources = load_sources()
    assert sorted(sources) == ["facebook/demucs", "freesound/audio-tagging", "ionosphere/maestro", "magenta/nsynth",
                               "muso-ai/musicnet", "polyfloyd/fma"]
    fma = sources["polyfloyd/fma"]
    assert fma.chosen(None) == ["fma_metadata.zip", "fma_small.zip"]  # the default profile: small and metadata
    assert {p.name: str(p.checksum) for p in fma.parts}["fma_small.zip"] == \
        "sha1:ade154f733639d52e35e32f5593efe5be76c6d70"  # mdeff/fma's README
    demucs = sources["facebook/demucs"]
    assert [p.dest for p in demucs.parts if p.name in demucs.chosen(None)] == \
        ["hub/checkpoints/955717e8-8726e21a.th"]  # where torch.hub (and so demucs) looks
    assert all(p.checksum.value == p.name.split("-")[1][:8] for p in demucs.parts)  # torch.hub's rule
    assert sources["magenta/nsynth"].checks == "none" and sources["magenta/nsynth"].chosen(None) == \
        ["nsynth-test.jsonwav.tar.gz"]
    assert sources["ionosphere/maestro"].chosen(None) == ["maestro-v3.0.0-midi.zip"]
    assert sources["freesound/audio-tagging"].zenodo == 2552860 and sources["muso-ai/musicnet"].zenodo == 5120004
    assert Checksum.parse("sha256-prefix:8726e21a", "x").matches({"sha256": "8726e21a99" + "0" * 54})


@pytest.mark.parametrize(("text", "error"), [
    ('[[sources]]\nid = "a/b"\ntype = "model"\n[[sources.parts]]\nname = "w"\nurl = "https://h/w"\n',
     "has no checksum"),
    ('[[sources]]\nid = "a/b"\ntype = "model"\n[[sources.parts]]\nname = "w"\nurl = "ftp://h/w"\nchecksum = "md5:x"\n',
     "url must be"),
    ('[[sources]]\nid = "a/b"\ntype = "model"\n[[sources.parts]]\nname = "w"\nurl = "https://h/w"\n'
     'checksum = "md5:abc"\n', "checksum 'md5:abc'"),
    ('[[sources]]\nid = "a/b"\ntype = "model"\nchecks = "none"\n[[sources.parts]]\nname = "w"\n'
     'url = "https://h/w"\ndest = "../w"\n', "dest '../w'"),
    ('[[sources]]\nid = "a/b"\ntype = "dataset"\nchecks = "zenodo"\n', "needs zenodo = <record id>"),
    ("[[sources]\n", "catalog.toml"),
])
def test_a_users_catalog_with_a_bad_entry_is_one_line_naming_it(tmp_path: Path, text: str, error: str) -> None:
    (extra := tmp_path / "catalog.toml").write_text(text)
    with pytest.raises(SourceError, match=error.replace("(", r"\(").replace("[", r"\[")) as e:
        load_sources(extra)
    assert "\n" not in str(e.value)


def test_a_users_catalog_adds_and_overrides_sources(tmp_path: Path) -> None:
    (extra := tmp_path / "catalog.toml").write_text(
        '[[sources]]\nid = "lab/stems"\ntype = "dataset"\n[[sources.parts]]\nname = "s.tar"\n'
        'url = "https://lab.example/s.tar"\nchecksum = "sha256:' + "ab" * 32 + '"\nsize = 10\n')
    sources = load_sources(extra)
    assert "lab/stems" in sources and len(sources) == 7 and sources["lab/stems"].parts[0].size == 10


def test_urls_are_pointed_at_the_sources_endpoint_keeping_their_path() -> None:
    url = "https://os.unil.cloud.switch.ch/fma/fma_small.zip"
    assert rewritten(url, "") == url
    assert rewritten(url, "http://127.0.0.1:8000") == "http://127.0.0.1:8000/fma/fma_small.zip"
    assert rewritten(url, "https://mirror.lab/pub/") == "https://mirror.lab/pub/fma/fma_small.zip"


def test_a_zenodo_record_is_read_with_its_md5s_and_links(tmp_path: Path, hosts: PublisherHosts) -> None:
    files = Publishers(_settings(tmp_path, hosts)).zenodo(2552860)
    assert [(f.key, f.size, f.md5) for f in files] == [
        (f.path, f.size, hashlib.md5(f.data or b"").hexdigest()) for f in (META, DOC)]
    assert files[0].url == f"{hosts.url}/api/records/2552860/files/FSDKaggle2018.meta.zip/content"
    with pytest.raises(Exception, match="404"):
        Publishers(_settings(tmp_path, hosts)).zenodo(1)
    assert hosts.stats.requests["auth"] == 0  # the Hub's token never went there


def test_a_hostile_zenodo_record_is_refused_by_name(tmp_path: Path, hosts: PublisherHosts) -> None:
    hosts.records[7] = [HubFile("../escape.zip", b"x")]
    with pytest.raises(PublisherError, match=r"refusing file '\.\./escape\.zip'"):
        Publishers(_settings(tmp_path, hosts)).zenodo(7)


@pytest.mark.parametrize("split", [False, True])
def test_gcs_serves_the_md5_in_one_or_two_header_lines(tmp_path: Path, hosts: PublisherHosts, split: bool) -> None:
    hosts.split_hash = split
    url = "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip"
    head = Publishers(_settings(tmp_path, hosts)).head(url)
    assert head.size == MIDI.size and head.md5 == hashlib.md5(MIDI.data or b"").hexdigest()
    assert hosts.stats.requests["auth"] == 0


def test_a_transient_failure_is_retried_and_a_missing_object_said(tmp_path: Path, hosts: PublisherHosts) -> None:
    hosts.inject(Fault("status", "/api/records/*", status=503, at="api"))
    assert len(Publishers(_settings(tmp_path, hosts)).zenodo(2552860)) == 2
    assert hosts.stats.requests["api"] == 2  # a 503, then the answer
    url = "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/nope.zip"
    with pytest.raises(Exception, match="404"):
        Publishers(_settings(tmp_path, hosts)).head(url)


def test_goog_hash_lines() -> None:
    md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="  # the md5 of nothing, as GCS writes it
    assert goog_md5([f"crc32c=AAAAAA==,md5={md5}"]) == "d41d8cd98f00b204e9800998ecf8427e"
    assert goog_md5(["crc32c=AAAAAA==", f"md5={md5}"]) == "d41d8cd98f00b204e9800998ecf8427e"
    assert goog_md5(["crc32c=AAAAAA=="]) is None and goog_md5(["md5=not base64!"]) is None
