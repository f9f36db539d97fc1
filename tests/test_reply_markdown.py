"""workbench.chat.reply_markdown.neutralise: a model's reply as Markdown that loads nothing.

Edge cases with the exact Markdown expected (each written to make the renderer fetch an image, or
to keep code intact), then properties over hypothesis-drawn replies: only backslashes are added,
each before a character they escape; applying it twice changes nothing; Streamlit's own clean-up
of a Markdown body leaves the result as it is; code in a fence or a code span keeps every
character. Whether the renderer really loads nothing is checked in a browser, against the real
renderer, by test_browser_chat_remote_image.py."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.string_util import clean_text

from tests.reply_corpus import BODIES, PREFIXES, corpus
from workbench.chat.reply_markdown import neutralise

IMG = "http://127.0.0.1:9/x?q=secret"

# reply -> what it is shown as
CASES = {
    "an inline image keeps its text": (f"![]({IMG})", f"!\\[]({IMG})"),
    "an image with alt text and a title": (f'![chart]({IMG} "t")', f'!\\[chart]({IMG} "t")'),
    "a reference image; the definition is text too": (
        f"![a][r]\n\n[r]: {IMG}",
        f"!\\[a][r]\n\n\\[r]: {IMG}",
    ),
    "a shortcut reference image": (f"![r]\n\n[r]: {IMG}", f"!\\[r]\n\n\\[r]: {IMG}"),
    "a footnote definition": (f"[^1]: note ![]({IMG})", f"\\[^1]: note !\\[]({IMG})"),
    "raw HTML": (f"<img src={IMG}>", f"\\<img src={IMG}>"),
    "an autolink": (f"<{IMG}>", f"\\<{IMG}>"),
    "an image inside a link": (f"[![i]({IMG})](http://x)", f"[!\\[i]({IMG})](http://x)"),
    "an escaped bang is still escaped": (f"\\![]({IMG})", f"\\![]({IMG})"),
    "an escaped backslash before an image": (f"\\\\![]({IMG})", f"\\\\!\\[]({IMG})"),
    "a fence keeps an image literally": (
        "```md\n![x](y) <b> $x$\n```",
        "```md\n![x](y) <b> $x$\n```",
    ),
    "a tilde fence too, and what follows is text": (
        f"~~~\n![x](y)\n~~~\n![]({IMG})",
        f"~~~\n![x](y)\n~~~\n!\\[]({IMG})",
    ),
    "a code span keeps an image literally": ("Use `![x](y)` here", "Use `![x](y)` here"),
    "a fence in a list item": (
        "1. Run:\n\n   ```html\n   <img src=x>\n   ```",
        "1. Run:\n\n   ```html\n   <img src=x>\n   ```",
    ),
    "a fence in a quote": ("> ```\n> ![x](y)\n> ```", "> ```\n> ![x](y)\n> ```"),
    "a list item's fence closed inside it leaves text after": (
        f"- ```\n  ```\n  ![]({IMG})",
        f"- ```\n  ```\n  !\\[]({IMG})",
    ),
    "an HTML block cannot hide a fence's end": (
        f"<div>\n```\n\n![]({IMG})\n```",
        f"\\<div>\n```\n\n![]({IMG})\n```",
    ),
    "a table splits backticks into cells": (
        f"| a | b |\n|---|---|\n| `x| ![]({IMG})|` |",
        f"| a | b |\n|---|---|\n| \\`x| !\\[]({IMG})|\\` |",
    ),
    "a code span in a table cell is kept": (
        "| a | `b<c>` |\n|---|---|\n| x | y |",
        "| a | `b<c>` |\n|---|---|\n| x | y |",
    ),
    "a link destination takes a backtick first": (
        f'[a](x` "t") ![]({IMG}) `',
        f'[a](x\\` "t") !\\[]({IMG}) \\`',
    ),
    "a link title takes a backtick first": (
        f'[a](x "`") ![]({IMG}) `',
        f'[a](x "\\`") !\\[]({IMG}) \\`',
    ),
    "a bare link takes a backtick first": (
        f"see http://a.b/`x ![]({IMG}) `",
        f"see http://a.b/\\`x !\\[]({IMG}) \\`",
    ),
    "a directive cannot take a backtick in its attribute": (
        f':x{{a="`"}} ![]({IMG})',
        f'\\:x{{a="\\`"}} !\\[]({IMG})',
    ),
    "...so backticks around it pair as code": (
        f':x{{a="`"}} ![]({IMG}) `',
        f'\\:x{{a="`"}} ![]({IMG}) `',
    ),
    "a container directive cannot open": (
        f":::x\n![]({IMG})\n:::",
        f"\\:\\:\\:x\n!\\[]({IMG})\n\\:\\::",
    ),
    "a line starting HTML inside a code span": (
        f"`a\n<div>\n![]({IMG}) `",
        f"`a\n\\<div>\n![]({IMG}) `",
    ),
    "math is text": ("Prices: $5 and $10, $$x$$", "Prices: \\$5 and \\$10, \\$\\$x\\$\\$"),
    "an unclosed code span's backtick is escaped": ("a ` b", "a \\` b"),
    "plain prose is unchanged": (
        "**Bold**, _it_, ~~gone~~, [a link](https://example.org), 3 < 4 and 5 > 2.",
        "**Bold**, _it_, ~~gone~~, [a link](https://example.org), 3 \\< 4 and 5 > 2.",
    ),
    "a realistic reply is shown as written": (
        "**Steps**\n\n1. Install:\n\n   ```bash\n   pip install x  # <3 ![a](b)\n   ```\n"
        "2. Use `List<int>` and [the docs](https://docs.example.org).",
        "**Steps**\n\n1. Install:\n\n   ```bash\n   pip install x  # <3 ![a](b)\n   ```\n"
        "2. Use `List<int>` and [the docs](https://docs.example.org).",
    ),
    "a table and a list are unchanged": (
        "| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- one\n- two\n  1. nested",
        "| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- one\n- two\n  1. nested",
    ),
}


@pytest.mark.parametrize(("reply", "shown"), CASES.values(), ids=CASES.keys())
def test_edge_cases(reply: str, shown: str) -> None:
    assert neutralise(reply) == shown


def test_streamlit_s_dedent_and_strip_happen_first() -> None:
    """st.markdown dedents and strips its body: read what the renderer reads."""
    assert neutralise("\n    ```\n    ![x](y)\n    ```\n") == "```\n![x](y)\n```"


def test_a_reply_built_to_be_slow_to_read_is_escaped_everywhere() -> None:
    """Reading is bounded: a reply that would take too long is escaped as text, code included."""
    nested = "\n".join("  " * depth + "- `x<y>`" for depth in range(400))
    shown = neutralise(nested)
    assert "`" not in shown.replace("\\`", "")
    assert "<" not in shown.replace("\\<", "")


# --- properties ----------------------------------------------------------------------------------

lines = st.builds(
    lambda prefix, bodies: prefix + " ".join(bodies),
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(BODIES), min_size=1, max_size=3),
)
replies = st.one_of(
    st.lists(lines, min_size=1, max_size=12).map("\n".join),
    st.text(alphabet=string.printable, max_size=300),
    st.text(max_size=200),
)


def inserted(before: str, after: str) -> list[str]:
    """The characters ``after`` has that ``before`` has not, if ``after`` is ``before`` with
    characters inserted (each as "x+c": inserted x, before character c); else fails."""
    added: list[str] = []
    i = 0
    for j, c in enumerate(after):
        if i < len(before) and before[i] == c:
            i += 1
        else:
            added.append(c + (after[j + 1] if j + 1 < len(after) else ""))
    assert i == len(before), "characters were changed or dropped, not only added"
    return added


@settings(max_examples=400, deadline=None)
@given(replies)
def test_only_backslashes_are_added_each_escaping_punctuation(reply: str) -> None:
    before = clean_text(reply.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd"))
    for added in inserted(before, neutralise(reply)):
        assert added[0] == "\\" and added[1:] in string.punctuation, added


@settings(max_examples=400, deadline=None)
@given(replies)
def test_neutralising_twice_changes_nothing(reply: str) -> None:
    once = neutralise(reply)
    assert neutralise(once) == once


@settings(max_examples=400, deadline=None)
@given(replies)
def test_streamlit_sends_the_result_as_it_is(reply: str) -> None:
    shown = neutralise(reply)
    assert clean_text(shown) == shown


code_lines = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda text: text.strip() and not text.lstrip(" ").startswith(("```", "~~~")))


@settings(max_examples=300, deadline=None)
@given(st.lists(code_lines, min_size=1, max_size=8), st.lists(lines, max_size=6))
def test_a_fence_keeps_every_character(code: list[str], after: list[str]) -> None:
    block = "```text\n" + "\n".join(code) + "\n```"
    reply = block + "\n\n" + "\n".join(after)
    assert neutralise(reply).startswith(block)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1))
def test_a_code_span_keeps_every_character(inside: str) -> None:
    inside = inside.replace("`", "").strip() or "x"
    reply = f"Run `{inside}` then."
    assert f"`{inside}`" in neutralise(reply)


def test_a_corpus_of_hostile_replies_keeps_its_properties() -> None:
    """The corpus the browser test renders: every image's ``![`` is escaped or inside what was
    kept as code, and the result is stable."""
    for reply in corpus(seed=7, size=300, image_base="http://127.0.0.1:9"):
        shown = neutralise(reply)
        assert neutralise(shown) == shown
        assert clean_text(shown) == shown
