"""A module of the user's kind, for completion (tests/calls/test-completion.sh)."""


def greet(name: str, punct: str = "!", loud: bool = False):
    """Greets name."""
    text = f"hello {name}{punct}"
    return text.upper() if loud else text
