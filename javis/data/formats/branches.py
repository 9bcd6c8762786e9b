"""The active branch of a chat app's message tree, and the answers the user did not continue from.

Chat apps keep a conversation as a tree: a regenerated answer is a sibling of the first, an edited
question a sibling of the original. `walk(nodes, current)` follows `parent` links from the message
the app shows last (`current`) up to the root, and returns that path as turns:

- a node whose `text` is None is not a turn (hidden system prompts, empty parts, tool traffic,
  reasoning): it is counted in `Branch.skipped` by its `skip` reason;
- consecutive turns of one role become one turn (an answer split around a tool call);
- trailing user turns that got no answer are dropped (`skipped["unanswered"]`);
- a node on the path with an `error` (content javis cannot read) rejects the whole conversation.

At each node of the path whose parent has other children (a branch point), `Branch.points` records
which child was taken. When the taken child is an answer, every sibling answer with a different
text is an `Alternative`: the taken answer is chosen, the sibling rejected (a regeneration, or a
second model's answer). Sibling user messages (edits) make no pair: the abandoned branch is only
counted (`Branch.other_branches`). Identical siblings make no pair.

Raises BranchError for a tree that cannot be walked: `current` not in the tree, a cycle, a parent
that is missing (the start of the conversation is lost: never import half of it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


class BranchError(ValueError):
    """A conversation tree that cannot be walked; the message starts with its reason key."""


@dataclass
class Node:
    """One message of a tree (role None: a node without a message, e.g. ChatGPT's root)."""

    id: str
    parent: str | None
    role: str | None
    text: str | None  # the turn's content; None: not a turn (see `skip`)
    skip: str | None = None  # why it is not a turn: hidden, empty, tool, reasoning, ...
    error: str | None = None  # content javis cannot read: rejects the conversation when on the path
    model: str | None = None
    created: float | str | None = None
    order: int = 0  # position among its siblings (the app's children order, else file order)

    def __post_init__(self) -> None:  # an export's values as they come: odd types made harmless
        self.id = str(self.id)
        self.parent = as_id(self.parent)
        self.role = self.role if isinstance(self.role, str) else None
        self.model = self.model if isinstance(self.model, str) and self.model else None
        if not isinstance(self.text, str):
            self.text = None
        if not isinstance(self.order, int):
            self.order = 0


def as_id(value: object) -> str | None:
    """A message id as an export holds it: None for none, else a string (an id of another type,
    e.g. an object, can name no message: walking to it reports the tree broken)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"<not an id: {type(value).__name__}>"


@dataclass
class Turn:
    role: str
    content: str
    ids: list[str]  # the message ids merged into this turn
    models: list[str] = field(default_factory=list)


@dataclass
class Alternative:
    """A sibling answer the user did not continue from."""

    at: int  # index in Branch.turns of the chosen answer
    chosen_id: str
    chosen: str
    rejected_id: str
    rejected: str
    model: str | None


@dataclass
class Branch:
    path: list[str]  # node ids, root first, to `current`
    turns: list[Turn]
    alternatives: list[Alternative]
    points: list[dict]  # {"at": parent id, "taken": child id, "others": [sibling ids]}
    skipped: Counter[str]  # messages on the path that are not turns, by reason
    messages: int  # nodes holding a message in the whole tree
    other_branches: int  # messages not on the path


def walk(nodes: dict[str, Node], current: object) -> Branch:
    """The path to `current` as turns, its branch points and sibling answers. Raises BranchError."""
    current = as_id(current)
    if current is None or current not in nodes:
        raise BranchError(
            f"broken_tree (the current message {current!r} is not among the conversation's "
            f"{len(nodes)} messages)"
        )
    path: list[str] = []
    seen: set[str] = set()
    at: str | None = current
    while at is not None:
        if at not in nodes:
            raise BranchError(
                f"broken_tree (message {path[-1]} names the parent {at}, which is not in the "
                "conversation: its start is missing)"
            )
        if at in seen:
            raise BranchError(f"broken_tree (a cycle: message {at} is its own ancestor)")
        seen.add(at)
        path.append(at)
        at = nodes[at].parent
    path.reverse()
    for nid in path:
        if nodes[nid].error:
            raise BranchError(str(nodes[nid].error))
    children: dict[str, list[Node]] = defaultdict(list)
    for node in nodes.values():
        if node.parent is not None:
            children[node.parent].append(node)
    for kids in children.values():
        kids.sort(key=lambda n: n.order)

    turns: list[Turn] = []
    skipped: Counter[str] = Counter()
    turn_of: dict[int, int] = {}  # path index -> turn index (for visible nodes)
    for i, nid in enumerate(path):
        node = nodes[nid]
        if node.role is None:
            continue
        if node.text is None:
            skipped[node.skip or "empty"] += 1
            continue
        assert node.role is not None
        if turns and turns[-1].role == node.role and node.role != "system":
            turns[-1].content += "\n\n" + node.text
            turns[-1].ids.append(nid)
        else:
            turns.append(Turn(node.role, node.text, [nid]))
        if node.model and node.model not in turns[-1].models:
            turns[-1].models.append(node.model)
        turn_of[i] = len(turns) - 1
    while turns and turns[-1].role != "assistant":
        last = turns.pop()
        skipped["unanswered"] += len(last.ids)

    alternatives: list[Alternative] = []
    points: list[dict] = []
    for i in range(1, len(path)):
        nid, parent = path[i], path[i - 1]
        others = [c for c in children[parent] if c.id != nid]
        if not others:
            continue
        points.append({"at": parent, "taken": nid, "others": [c.id for c in others]})
        j = next((k for k in range(i, len(path)) if k in turn_of), None)
        if j is None or nodes[path[j]].role != "assistant":
            continue  # an edited question: the abandoned branch is dropped, no pair
        t = turn_of[j]
        if t >= len(turns) or turns[t].ids[0] != path[j]:
            continue  # the answer merged into an earlier turn: no clean prompt for a pair
        chosen = nodes[path[j]]
        assert chosen.text is not None
        texts = {chosen.text.strip()}
        for other in others:
            answer = first_turn(other, children, len(nodes))
            if answer is None or answer.role != "assistant" or answer.text is None:
                continue
            if answer.text.strip() in texts:
                continue  # identical siblings make no pair
            texts.add(answer.text.strip())
            alternatives.append(
                Alternative(t, chosen.id, chosen.text, answer.id, answer.text, answer.model)
            )
    on_path = sum(1 for nid in path if nodes[nid].role is not None)
    messages = sum(1 for n in nodes.values() if n.role is not None)
    return Branch(path, turns, alternatives, points, skipped, messages, messages - on_path)


def first_turn(node: Node, children: dict[str, list[Node]], limit: int) -> Node | None:
    """The first visible message at or below `node`, following first children past skipped ones."""
    at: Node | None = node
    for _ in range(limit):
        if at is None:
            return None
        if at.text is not None and at.role is not None and not at.error:
            return at
        kids = children.get(at.id)
        at = kids[0] if kids else None
    return None


def linear(messages: list[Node]) -> tuple[dict[str, Node], str | None]:
    """A list of messages in order as a tree (each the parent of the next) and its last id."""
    nodes: dict[str, Node] = {}
    previous: str | None = None
    for n in messages:
        n.parent = previous
        nodes[n.id] = n
        previous = n.id
    return nodes, previous
