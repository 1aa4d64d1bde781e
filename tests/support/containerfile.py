"""The project's ``Containerfile``, read into stages of instructions (enough of the Dockerfile
syntax for ours: comments, ``\\`` continuations, ``ARG`` defaults in ``FROM``, JSON and shell
forms), so that tests check the image definition without building it."""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.repository import REPOSITORY

CONTAINERFILE = REPOSITORY / "Containerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str  # as written, continuations joined

    def words(self) -> list[str]:
        """The JSON (exec) form's list, or the shell form split like a shell would."""
        if self.arguments.startswith("["):
            words: list[str] = json.loads(self.arguments)
            return words
        return shlex.split(self.arguments)

    def pairs(self) -> dict[str, str]:
        """``KEY=value`` pairs (ENV, LABEL, ARG)."""
        return dict(word.split("=", 1) for word in self.words() if "=" in word)


@dataclass
class Stage:
    image: str  # ARG defaults substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        return {k: v for i in self.all("ENV") for k, v in i.pairs().items()}

    def labels(self) -> dict[str, str]:
        """With the stage's ARG defaults substituted."""
        args = {k: v for i in self.all("ARG") for k, v in i.pairs().items()}
        return {k: substitute(v, args) for i in self.all("LABEL") for k, v in i.pairs().items()}


def stages(path: Path = CONTAINERFILE) -> list[Stage]:
    """The build stages in order; the ARGs before the first FROM feed the FROM lines."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for instruction in instructions(path.read_text()):
        if instruction.keyword == "FROM":
            words = instruction.words()
            image = substitute(words[0], args)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(image, name))
        elif result:
            result[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            args.update(instruction.pairs())
        else:
            raise ValueError(f"{path}: {instruction.keyword} before the first FROM")
    return result


def substitute(text: str, args: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` replaced by the ARG's value (a KeyError names an unknown one)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], text)


def instructions(text: str) -> list[Instruction]:
    found: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += " " + stripped
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return found
