"""Every command is documented in the README, and the README's quick start is what CI runs."""

from pathlib import Path

from duban.cli import _load_commands
from duban.cli.common import app

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_command_is_in_the_readme():
    _load_commands()
    names = [command.name or command.callback.__name__.replace("_", "-") for command in app.registered_commands]
    for group in app.registered_groups:  # a command with subcommands, e.g. `duban outbox requeue`
        names += [group.name] + [f"{group.name} {c.name}" for c in group.typer_instance.registered_commands]
    missing = [name for name in names if f"duban {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_ci_runs_the_readme_test_command():
    test_command = 'pip install -e ".[test]" && python -m pytest'
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
