"""Settings: one table, mirrored in config/default.toml, each with an env var and a flag."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from flows.cli import main
from pipeline.config import SETTINGS, Settings, load_settings
from pipeline.errors import ConfigError


def test_default_toml_lists_every_setting_with_its_default() -> None:
    with open(REPO / "config" / "default.toml", "rb") as handle:
        values = tomllib.load(handle)["backlinks"]
    assert values == {spec.name: spec.default for spec in SETTINGS}


def test_default_toml_explains_every_setting() -> None:
    text = (REPO / "config" / "default.toml").read_text()
    for spec in SETTINGS:
        first_words = " ".join(spec.help.split()[:4])
        assert first_words in " ".join(text.replace("#", " ").split()), spec.name


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[backlinks]\nworkers = 3\nmax_html_bytes = 100\ndata_dir = "f"\n')
    settings = load_settings(
        {"workers": 5, "db": None},
        config_file=str(config),
        environ={"BACKLINKS_WORKERS": "4", "BACKLINKS_MAX_HTML_BYTES": "200"},
    )
    assert (settings.workers, settings.max_html_bytes, settings.data_dir) == (5, 200, "f")
    assert load_settings(environ={}) == Settings.defaults()


def test_paths_are_absolute_and_db_defaults_into_the_data_folder(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": str(tmp_path / "d")}, environ={})
    assert settings.db_path == tmp_path / "d" / "graph.duckdb"
    assert load_settings({"db": "x.duckdb"}, environ={}).db_path.is_absolute()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BACKLINKS_WORKERS": "many"}, r"BACKLINKS_WORKERS: workers must be a whole number, got 'many'"),
        ({"BACKLINKS_WORKERS": "-1"}, "must be 0 or more"),
        ({"BACKLINKS_PSL_PRIVATE_DOMAINS": "perhaps"}, "must be true or false, got 'perhaps'"),
    ],
)
def test_bad_values_name_the_setting_and_the_value(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_unknown_setting_in_a_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[backlinks]\nworker = 2\n")
    with pytest.raises(ConfigError, match="unknown setting 'worker'; known settings: data_dir"):
        load_settings(config_file=str(config), environ={})


def test_every_setting_has_a_flag_and_its_env_var_in_run_help() -> None:
    result = CliRunner().invoke(main, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for spec in SETTINGS:
        assert spec.flag in result.output and spec.env_var in result.output, spec.name


def test_bad_setting_on_the_command_line_exits_2_with_a_clear_message() -> None:
    result = CliRunner().invoke(main, ["run", "--workers", "-3"])
    assert result.exit_code == 2
    assert "workers must be 0 or more, got -3" in result.output
