"""deploy/Dockerfile read as the builder reads it, and deploy/compose.yaml as Compose does:
enough of both for the offline checks (test_deploy_files.py) and for running the image's
command line outside a container (test_container.py)."""

import json
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "compose.yaml"
# The environment of the python:*-slim base images that the Dockerfile builds on.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"}

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Stage:
    """What a build stage leaves in its image: the settings later stages inherit, and
    the instructions of the stage itself."""

    name: str
    base: str
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    user: str = "0"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    healthcheck: tuple[str, ...] = ()
    healthcheck_options: dict[str, str] = field(default_factory=dict)
    expose: tuple[str, ...] = ()
    copies: tuple[tuple[tuple[str, ...], str], ...] = ()
    runs: tuple[str, ...] = ()

    @property
    def command(self) -> list[str]:
        return [*self.entrypoint, *self.cmd]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: dict[str, Stage]
    # Instruction keywords whose arguments are not JSON arrays (the shell form).
    shell_form: set[str]

    @property
    def default_stage(self) -> Stage:
        """What `docker build` without --target builds: the last stage."""
        return list(self.stages.values())[-1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of every instruction: continuation lines joined, comment lines
    dropped (also inside a continuation, as the builder does)."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    assert not pending, "a continuation line ends the file"
    return out


def substitute(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        assert name in variables, f"${name} is not defined"
        return variables[name]

    return _VARIABLE.sub(value, text)


def parse_dockerfile(text: str | None = None) -> Dockerfile:
    text = DOCKERFILE.read_text() if text is None else text
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    shell_form: set[str] = set()
    stage: Stage | None = None
    args: dict[str, str] = {}
    for keyword, rest in instructions(text):
        if keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK", "RUN") and not rest.endswith("]"):
            shell_form.add(keyword)
        if stage is None and keyword == "ARG":
            name, _, default = rest.partition("=")
            global_args[name] = default
            continue
        if keyword == "FROM":
            if stage is not None:
                stages[stage.name] = stage
            words = substitute(rest, global_args).split()
            assert len(words) == 3, f"FROM {rest}: every stage is named (FROM IMAGE AS NAME)"
            assert words[1].upper() == "AS", rest
            base, name = words[0], words[2]
            inherited = stages.get(base)
            if inherited is None:
                stage = Stage(name=name, base=base, env=dict(BASE_ENV))
            else:
                stage = replace(inherited, name=name, base=base, copies=(), runs=())
            args = {}
            continue
        assert stage is not None, f"{keyword} before FROM"
        variables = {**global_args, **args, **stage.env}
        match keyword:
            case "ARG":
                name, _, default = rest.partition("=")
                args[name] = default
            case "ENV":
                env = dict(stage.env)
                for name, value in _pairs(rest):
                    env[name] = substitute(value, {**variables, **env})
                stage = replace(stage, env=env)
            case "LABEL":
                stage = replace(stage, labels={**stage.labels, **dict(_pairs(rest))})
            case "USER":
                stage = replace(stage, user=substitute(rest, variables))
            case "EXPOSE":
                stage = replace(stage, expose=(*stage.expose, *rest.split()))
            case "ENTRYPOINT":
                # Setting ENTRYPOINT resets an inherited CMD (Dockerfile reference, CMD).
                stage = replace(stage, entrypoint=tuple(json.loads(rest)), cmd=())
            case "CMD":
                stage = replace(stage, cmd=tuple(json.loads(rest)))
            case "HEALTHCHECK":
                options, _, command = rest.partition("CMD ")
                parsed = dict(o.removeprefix("--").split("=") for o in options.split())
                stage = replace(
                    stage, healthcheck=tuple(json.loads(command)), healthcheck_options=parsed
                )
            case "COPY":
                words = [w for w in shlex.split(rest) if not w.startswith("--")]
                stage = replace(stage, copies=(*stage.copies, (tuple(words[:-1]), words[-1])))
            case "RUN":
                stage = replace(stage, runs=(*stage.runs, substitute(rest, variables)))
            case _:  # WORKDIR, LABEL, ...: nothing the checks read
                pass
    assert stage is not None, "no FROM"
    stages[stage.name] = stage
    return Dockerfile(global_args, stages, shell_form)


def _pairs(text: str) -> list[tuple[str, str]]:
    """The NAME=VALUE words of an ENV or LABEL instruction."""
    pairs = []
    for word in shlex.split(text):
        name, sep, value = word.partition("=")
        assert sep, f"{word}: the NAME=VALUE form only"
        pairs.append((name, value))
    return pairs


# --- .dockerignore ----------------------------------------------------------------------------


def _pattern(glob: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out = ""
    i = 0
    while i < len(glob):
        if glob.startswith("**", i):
            out += ".*"
            i += 2
            if glob.startswith("/", i):
                out += "/?"
                i += 1
            continue
        char = glob[i]
        out += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
        i += 1
    return re.compile(out)


def ignored(path: str, rules: list[str]) -> bool:
    """Whether the builder leaves ``path`` (relative to the context) out: the last rule
    matching the path or one of its parent directories decides; `!` rules re-include."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = _pattern(rule.removeprefix("!").strip("/"))
        if any(pattern.fullmatch(c) for c in candidates):
            verdict = not negated
    return verdict


def dockerignore_rules() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# --- compose ----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())  # `<<` merge keys resolved
    assert isinstance(document, dict)
    return document


@dataclass(frozen=True)
class Mount:
    source: str  # a named volume, or a host path relative to deploy/
    target: str
    read_only: bool

    @property
    def host_path(self) -> Path | None:
        if self.source.startswith((".", "/")):
            return (DEPLOY / self.source).resolve()
        return None


def mounts(service: dict[str, Any]) -> list[Mount]:
    out = []
    for entry in service.get("volumes", []):
        assert isinstance(entry, str), entry  # the short syntax, SOURCE:TARGET[:ro]
        source, target, *mode = entry.split(":")
        out.append(Mount(source, target, mode == ["ro"]))
    return out


def mounted_file(service: dict[str, Any], path: str) -> Path:
    """The host file a service sees at ``path`` (a bind mount of it or of a parent)."""
    for mount in mounts(service):
        if mount.host_path is not None and (
            path == mount.target or path.startswith(mount.target.rstrip("/") + "/")
        ):
            return mount.host_path / Path(path).relative_to(mount.target)
    raise AssertionError(f"nothing mounted at {path}")
