"""Settings: where values come from (defaults < environment < overrides), range checks whose
message names the variable, and what `describe()` shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ConfigError


def test_defaults_then_environment_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).top_k == 5
    assert Settings.from_env({"BOT_TOP_K": "7"}).top_k == 7
    assert Settings.from_env({"BOT_TOP_K": "7"}, top_k=9).top_k == 9
    assert Settings.from_env({"BOT_TOP_K": "7"}, top_k=None).top_k == 7  # an unset CLI flag
    monkeypatch.setenv("BOT_TOP_K", "8")
    assert Settings.from_env().top_k == 8  # os.environ when no mapping is given
    assert Settings.from_env({}).top_k == 5  # a given mapping replaces os.environ
    assert Settings().top_k == 5  # the class alone never reads the environment


def test_values_are_typed_and_empty_means_unset() -> None:
    settings = Settings.from_env(
        {
            "BOT_DATA_DIR": "~/newsbot",
            "BOT_REFUSAL_THRESHOLD": "0.55",
            "BOT_CHROMA_HOST": "",
            "BOT_PORT": "",
            "BOT_LLM_TEMPERATURE": "0.2",
        }
    )
    assert settings.data_dir == Path.home() / "newsbot"
    assert settings.refusal_threshold == 0.55
    assert settings.chroma_host == "" and settings.port == 7860
    assert settings.llm_temperature == 0.2


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"BOT_REFUSAL_THRESHOLD": "1.7"},
            "BOT_REFUSAL_THRESHOLD must be between 0 and 1 (got 1.7).",
        ),
        (
            {"BOT_REFUSAL_THRESHOLD": "-0.1"},
            "BOT_REFUSAL_THRESHOLD must be between 0 and 1 (got -0.1).",
        ),
        ({"BOT_PORT": "70000"}, "BOT_PORT must be between 1 and 65535 (got 70000)."),
        ({"BOT_CHROMA_PORT": "0"}, "BOT_CHROMA_PORT must be between 1 and 65535 (got 0)."),
        ({"BOT_TOP_K": "0"}, "BOT_TOP_K must be at least 1 (got 0)."),
        ({"BOT_TOP_K": "many"}, "BOT_TOP_K must be a whole number, at least 1 (got many)."),
        ({"BOT_BATCH_SIZE": "2.5"}, "BOT_BATCH_SIZE must be a whole number, at least 1 (got 2.5)."),
        ({"BOT_MAX_QUEUE": "-3"}, "BOT_MAX_QUEUE must be at least 1 (got -3)."),
        ({"BOT_LLM_TIMEOUT_S": "0"}, "BOT_LLM_TIMEOUT_S must be more than 0 (got 0)."),
        (
            {"BOT_LLM_TIMEOUT_S": "nan"},
            "BOT_LLM_TIMEOUT_S must be a number, more than 0 (got nan).",
        ),
        ({"BOT_LLM_TEMPERATURE": "-1"}, "BOT_LLM_TEMPERATURE must be at least 0 (got -1)."),
        (
            {"BOT_LLM_BASE_URL": "http://localhost:11434/v1"},
            "BOT_LLM_BASE_URL is set but BOT_LLM_MODEL is not: name the model to use.",
        ),
        (  # every problem is reported at once
            {"BOT_TOP_K": "0", "BOT_PORT": "-1"},
            "BOT_TOP_K must be at least 1 (got 0). BOT_PORT must be between 1 and 65535 (got -1).",
        ),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(environ)
    assert str(raised.value) == message


def test_overrides_and_replace_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^BOT_CANDIDATES must be at least 1 \(got 0\)\.$"):
        Settings.from_env({}, candidates=0)
    settings = Settings.from_env({})
    with pytest.raises(ConfigError, match=r"^BOT_PORT must be between 1 and 65535 \(got 0\)\.$"):
        settings.replace(port=0)
    assert settings.replace(port=8080).port == 8080 and settings.port == 7860


def test_an_unknown_setting_is_named() -> None:
    with pytest.raises(ConfigError, match="Unknown setting 'topk'; the settings are: data_dir, "):
        Settings.from_env({}, topk=3)
    with pytest.raises(ConfigError, match="Unknown setting 'topk'"):
        Settings.from_env({}).replace(topk=3)


def test_settings_cannot_be_changed_in_place() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ValueError, match="frozen"):
        settings.top_k = 3  # type: ignore[misc]


def test_every_setting_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and field.description.endswith("."), name


def test_describe_masks_secrets() -> None:
    shown = Settings.from_env(
        {"BOT_LLM_API_KEY": "sk-very-secret-key", "BOT_API_KEY": "short", "BOT_TOP_K": "7"}
    ).describe()
    assert shown["llm_api_key"] == "****ey"
    assert shown["api_key"] == "****"
    assert shown["ui_password"] == ""
    assert shown["top_k"] == "7" and shown["data_dir"] == "data"
    assert list(shown) == list(Settings.model_fields)
