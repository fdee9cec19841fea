"""pgcli against `zicht serve`: an analyst's interactive terminal with completion.

pgcli fills its completions when it connects, in a background thread, with catalog queries of its
own (search path, schemas, tables and their columns, views, foreign keys, data types, databases,
functions with their argument types as `proargtypes::regtype[]`). Each of those refreshers runs
here as pgcli runs it, on pgcli's own `PGExecute` and `PGCompleter`; then what the analyst sees:
completions after `basis.`, `\\d` of a table and of a saved-query view through pgspecial (pgcli's
backslash commands), `\\df`, a query and its error. Run by run.sh.
"""

import pgcli
from pgcli.completion_refresher import CompletionRefresher
from pgcli.pgcompleter import PGCompleter
from pgcli.pgexecute import PGExecute
from pgspecial.main import PGSpecial
from prompt_toolkit.document import Document

from common import AGGREGATE, HOST, PASSWORD, PORT, SAVED_QUERY, THEMES, USER, check, expect, finish, version

version("pgcli", pgcli.__version__)
executor = PGExecute(database="zicht", user=USER, password=PASSWORD, host=HOST, port=PORT)
special = PGSpecial()
completer = PGCompleter(smart_completion=True, pgspecial=special, settings={})


@check("connect")
def _():
    expect(executor.server_version, "no server version")
    return f"server_version={executor.server_version}"


# Every refresher of pgcli's completion, in pgcli's order (casing writes a file only when asked to).
for name, refresh in CompletionRefresher.refreshers.items():
    check(f"refresh-{name}")(lambda refresh=refresh: refresh(completer, executor))


def completions(text):
    return {c.text for c in completer.get_completions(Document(text), None)}


@check("complete-schemas")
def _():
    found = completions("SELECT * FROM ")
    missing = [s for s in ["basis", "regio", *THEMES] if s not in found]
    expect(not missing, f"missing schemas {missing}")
    return f"{len(found)} completions"


@check("complete-tables-and-columns")
def _():
    tables = completions("SELECT * FROM basis.")
    expect("persoon" in tables and "woning" in tables, f"tables {sorted(tables)[:10]}")
    columns = {c.text for c in completer.get_completions(Document("SELECT  FROM basis.persoon", cursor_position=7), None)}
    expect("persoon_id" in columns and "bu_code" in columns, f"columns {sorted(columns)[:10]}")
    return f"{len(tables)} relations in basis, persoon_id among the columns"


@check("complete-functions")
def _():
    # The deviation UDFs (deviation_index, deviation_class) as well as PostgreSQL's own.
    # pgcli completes a function with its named arguments: "deviation_index(\n num := , ...".
    found = {text.split("(")[0] for text in completions("SELECT deviation_")}
    expect("deviation_index" in found and "deviation_class" in found, f"completions {sorted(found)[:10]}")
    return ", ".join(sorted(found)[:3]) + " with their named arguments"


def special_command(command):
    """The result sets of a backslash command, as pgcli shows them: (title, rows, headers, status)."""
    results = list(executor.run(command, pgspecial=special))
    for title, rows, headers, status, *_ in results:
        yield title, list(rows) if rows is not None else [], headers, status


@check("describe-table")
def _():
    results = list(special_command("\\d basis.persoon"))
    rows = results[0][1]
    types = {row[0]: row[1] for row in rows}
    expect(types.get("persoon_id") == "bigint", f"persoon_id {types.get('persoon_id')}")
    return f"{len(rows)} columns"


@check("describe-view")
def _():
    results = list(special_command("\\d+ drugs.verdachten_inwoners"))
    expect(results and results[0][1], "no columns")
    footer = " ".join(str(r[3]) for r in results)
    expect("View definition" in footer, f"no view definition in {footer[:200]}")
    return f"{len(results[0][1])} columns with the view's definition"


@check("view-definition")
def _():
    definition = executor.view_definition("drugs.verdachten_inwoners")
    expect("SELECT" in definition.upper(), definition[:100])
    return definition.split("\n")[0][:60]


@check("list-functions")
def _():
    rows = list(special_command("\\df deviation_*"))[0][1]
    expect(rows, "no functions")
    return f"{len(rows)} functions"


@check("query")
def _():
    title, cur, headers, status, *_ = next(executor.run(AGGREGATE))
    rows = list(cur)
    expect(len(rows) > 10 and all(n is None or n % 5 == 0 for _, n in rows), f"{len(rows)} rows")
    return f"{len(rows)} gemeenten, counts in multiples of 5"


@check("saved-query")
def _():
    title, cur, headers, status, *_ = next(executor.run(SAVED_QUERY))
    row = list(cur)[0]
    expect(row[0] == "GM0014", str(row))
    return f"klasse={row[2]}"


@check("error-row-level-refused")
def _():
    try:
        next(executor.run("SELECT * FROM basis.persoon"))
    except Exception as error:  # pgcli lets psycopg's error through
        expect(getattr(error, "sqlstate", None) == "42501", f"{type(error).__name__}: {error}")
        return "42501"
    raise AssertionError("SELECT * FROM basis.persoon returned rows")


executor.conn.close()
finish()
