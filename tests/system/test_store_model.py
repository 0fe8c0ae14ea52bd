"""Random put/get/del/ls sessions through the shell agree with a Python
dict: the shell's storage commands, the client library and the server,
end to end, one boot per session."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import crash_reply, without_logs

KEYS = ["a", "bb", "key3", "k" * 32]
VALUES = st.text(alphabet="xyz 0123456789", min_size=1, max_size=40).map(str.strip).filter(bool)
OPS = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), VALUES),
    st.tuples(st.just("get"), st.sampled_from(KEYS), st.just("")),
    st.tuples(st.just("del"), st.sampled_from(KEYS), st.just("")),
    st.tuples(st.just("ls"), st.just(""), st.just("")),
    st.tuples(st.just("crash"), st.just("storage"), st.just("")),
)


@settings(max_examples=4, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=5, max_size=14))
def test_shell_storage_agrees_with_a_dict(boot, ops):
    lines = [" ".join(p for p in op if p) for op in ops]
    r = boot(lines + ["poweroff"])
    assert r.rc == 0
    model: dict[str, str] = {}
    seen: dict[str, int] = {}
    for line, (cmd, key, value) in zip(lines, ops):
        seen[line] = seen.get(line, 0) + 1
        out = without_logs(r.after(line, seen[line]))  # a restart's lines land anywhere
        if cmd == "put":
            model[key] = value  # the rest of the line, inner spaces kept
            assert out == "ok\n", line
        elif cmd == "get":
            assert out == (f"{model[key]}\n" if key in model else "not found\n"), line
        elif cmd == "del":
            assert out == ("ok\n" if model.pop(key, None) is not None else "not found\n"), line
        elif cmd == "ls":
            *keys, count = out.splitlines()
            assert sorted(keys) == sorted(model) and count == f"({len(model)} keys)", line
        else:  # a storage restart loses nothing acknowledged
            # (A crash while the last one's back-off runs finds storage
            # stopped: restarted at once.)
            assert out.endswith((crash_reply("storage"),
                                 "crash: storage restarted by the supervisor\n")), line
