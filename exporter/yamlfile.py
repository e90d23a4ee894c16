"""Reading the exporter's YAML files strictly: a key written twice in one mapping is an error.

PyYAML keeps the last of two equal keys silently; Go's strict unmarshalling (which the upstream
exporter and exporter-toolkit use) refuses them, and so do we, naming the line and the key.
"""

from __future__ import annotations

from typing import Any

import yaml


class YamlFileError(Exception):
    """The file cannot be read or is not acceptable YAML; the message never quotes the file's content."""


def load_yaml(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise YamlFileError(f"cannot read the file ({e.strerror})") from None
    except UnicodeDecodeError:
        raise YamlFileError("not UTF-8 text") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_duplicates(node, "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        # The parser's own message may quote the offending text (a secret, perhaps): only the line.
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise YamlFileError(f"not valid YAML{where}; fix the syntax") from None
    finally:
        loader.dispose()


def _check_duplicates(node: yaml.Node, path: str, seen_nodes: set[int]) -> None:
    # An alias shares its anchor's node: visit each node once (no blow-up, no endless loop).
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                where = f"{path}.{key.value}" if path else key.value
                if key.value in seen:
                    raise YamlFileError(
                        f"line {key.start_mark.line + 1}: duplicate key {where} (first set at line "
                        f"{seen[key.value]}); keep only one"
                    )
                seen[key.value] = key.start_mark.line + 1
                _check_duplicates(value, where, seen_nodes)
            else:
                _check_duplicates(value, path, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, f"{path}[{i}]", seen_nodes)
