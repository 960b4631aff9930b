"""``mediawatch match``: the JSON contract and the readable explanation."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

CONFIG = """
[[clusters]]
name = "Hezbollah"
terms = ["Hezbollah", "حزب الله"]

[[clusters]]
name = "Kataib Hezbollah"
terms = ["Kata'ib Hezbollah"]

[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry", "وزارة الداخلية"]
context = ["Iraq", "العراق"]

[[clusters]]
name = "PMF"
terms = ["PMF"]
exclude = ["Pakistan"]
"""


def test_json_lists_matching_clusters_and_terms(cli, write_config) -> None:
    path = write_config(CONFIG)
    result = cli(
        "--config", str(path), "match", "Kataib Hezbollah and حزب الله", "--format", "json"
    )
    assert result.code == 0, result
    assert json.loads(result.out) == {
        "clusters": [
            {"name": "Hezbollah", "terms": ["حزب الله"]},
            {"name": "Kataib Hezbollah", "terms": ["Kata'ib Hezbollah"]},
        ]
    }


def test_json_with_nothing_found(cli, write_config) -> None:
    path = write_config(CONFIG)
    result = cli("--config", str(path), "match", "weather is fine", "--format", "json")
    assert json.loads(result.out) == {"clusters": []}


def test_text_explains_where_and_why(cli, write_config) -> None:
    path = write_config(CONFIG)
    text = "France's Interior Ministry said the PMF in Pakistan and Kata'ib Hezbollah..."
    result = cli("--config", str(path), "match", text)
    assert result.code == 0, result
    out = result.out
    assert "MATCH Kataib Hezbollah" in out
    assert "no    Interior Ministry: no context term" in out
    assert "no    PMF: excluded by 'Pakistan'" in out
    assert 'inside "Kata\'ib Hezbollah", not counted' in out
    assert "'Interior Ministry' as 'Interior Ministry' at text 9-26" in out


def test_reads_stdin_with_dash(cli, write_config, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(CONFIG)
    monkeypatch.setattr(sys, "stdin", io.StringIO("قالت وزارة الداخلية في العراق"))
    result = cli("--config", str(path), "match", "-", "--format", "json")
    assert json.loads(result.out)["clusters"] == [
        {"name": "Interior Ministry", "terms": ["وزارة الداخلية"]}
    ]


def test_bad_format_is_a_usage_error(cli, write_config) -> None:
    path = write_config(CONFIG)
    assert cli("--config", str(path), "match", "x", "--format", "xml").code == 2


@pytest.mark.slow
def test_python_dash_m_pipe(write_config) -> None:
    path = write_config(CONFIG)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mediawatch",
            "--config",
            str(path),
            "match",
            "-",
            "--format",
            "json",
        ],
        input="Hezbollah’s leader",
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["clusters"][0]["name"] == "Hezbollah"
