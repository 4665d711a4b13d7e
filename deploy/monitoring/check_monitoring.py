#!/usr/bin/env python3
"""Checks of deploy/monitoring that promtool does not make; check.sh runs them.

  static                 the dashboard is well-formed JSON, its panels use the ${DS_PROMETHEUS}
                         input, and each rule's runbook_url names a heading of the docs
  dashboard-rules OUT    writes the dashboard's queries as recording rules to OUT, for
                         `promtool check rules` to parse them as PromQL
  names SOURCE...        every metric name in the rules, their tests and the dashboard is in
                         a real scrape (SOURCE: an http(s) URL of a node's /metrics, or a file)

Python 3 standard library only (no PyYAML): the rule files are read line by line, which their
layout allows.
"""
import json
import os
import re
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RULES = os.path.join(HERE, "prometheus", "dedupe-alerts.yaml")
TESTS = os.path.join(HERE, "prometheus", "dedupe-alerts.test.yaml")
DASHBOARD = os.path.join(HERE, "grafana", "dedupe-dashboard.json")
DATASOURCE = "${DS_PROMETHEUS}"

# Series Prometheus makes itself for every target, not scraped from a node.
PROMETHEUS_MADE = {"up"}
# Words of PromQL that look like metric names.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset", "inf", "nan", "atan2"}
# Grafana's variables, and what to put in their place for promtool.
GRAFANA_VALUES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


def fail(message):
    print("check_monitoring: " + message, file=sys.stderr)
    sys.exit(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rule_exprs(text):
    """The expr of every rule: `expr: ...` on one line, or a block (`expr: |`) under it."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:- )?expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        indent, value = len(m.group(1)), m.group(2).strip()
        if value[:1] in ("|", ">"):
            block = []
            while i < len(lines) and (not lines[i].strip()
                                      or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i])
                i += 1
            out.append("\n".join(block).strip())
        else:
            out.append(value.strip("'\""))
    return out


def rule_annotations(text, key):
    return re.findall(r'^\s*' + re.escape(key) + r':\s*"?([^"\n]+)"?\s*$', text, re.M)


def test_series_names(text):
    return set(re.findall(r"""^\s*- series:\s*['"]?([a-zA-Z_:][a-zA-Z0-9_:]*)""", text, re.M))


def promql_names(expr):
    """The metric names an expression reads: identifiers that are not functions, keywords,
    label names (in braces or in by/on/... lists), durations or Grafana variables."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?\w+\}?", " ", s)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        token = m.group(0)
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # a duration's unit or a number's exponent
        if s[m.end():].lstrip().startswith("("):
            continue  # a function, or an aggregation written before its argument
        if token.lower() in KEYWORDS:
            continue
        names.add(token)
    return names


def dashboard():
    try:
        return json.loads(read(DASHBOARD))
    except ValueError as e:
        fail(f"{DASHBOARD} is not well-formed JSON: {e}")


def panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def dashboard_queries(dash):
    """(where, PromQL) of every panel target, and the variables' label_values() metrics."""
    out = []
    for p in panels(dash):
        for t in p.get("targets", []):
            out.append((f"panel {p.get('id')} ({p.get('title')}) target {t.get('refId')}",
                        t.get("expr", "")))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.match(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", q)
        if m:
            out.append((f"variable {v.get('name')}", m.group(1)))
    return out


def slug(heading):
    """The anchor GitHub gives a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def check_static():
    dash = dashboard()
    problems = []
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
               for i in dash.get("__inputs", [])):
        problems.append("the dashboard has no DS_PROMETHEUS datasource input")
    ids = [p.get("id") for p in panels(dash)]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {sorted(ids)}")
    for p in panels(dash):
        if p.get("type") == "row":
            continue
        where = f"panel {p.get('id')} ({p.get('title')})"
        if (p.get("datasource") or {}).get("uid") != DATASOURCE:
            problems.append(f"{where}: datasource is not {DATASOURCE}")
        if not p.get("targets"):
            problems.append(f"{where}: no query")
        for t in p.get("targets", []):
            if (t.get("datasource") or {}).get("uid") != DATASOURCE:
                problems.append(f"{where} target {t.get('refId')}: datasource is not {DATASOURCE}")
            if not t.get("expr", "").strip():
                problems.append(f"{where} target {t.get('refId')}: empty expr")

    rules = read(RULES)
    anchors = {}
    for url in rule_annotations(rules, "runbook_url"):
        path, _, anchor = url.partition("#")
        doc = os.path.join(ROOT, path)
        if not os.path.isfile(doc):
            problems.append(f"runbook_url {url}: no file {path}")
            continue
        if doc not in anchors:
            anchors[doc] = {slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", read(doc), re.M)}
        if anchor not in anchors[doc]:
            problems.append(f"runbook_url {url}: {path} has no heading with the anchor #{anchor}")
    alerts = re.findall(r"^\s*- alert:\s*(\S+)", rules, re.M)
    if len(rule_annotations(rules, "runbook_url")) != len(alerts):
        problems.append("not every alert has a runbook_url")
    if problems:
        fail("\n  ".join(["static checks failed:"] + problems))
    print(f"static checks: the dashboard's {len(ids)} panels and the {len(alerts)} alerts' runbooks are in order")


def write_dashboard_rules(out):
    rules = []
    for i, (where, expr) in enumerate(dashboard_queries(dashboard())):
        if where.startswith("variable"):
            continue
        for var, value in GRAFANA_VALUES.items():
            expr = expr.replace("$" + var, value).replace("${" + var + "}", value)
        expr = re.sub(r"\$\{?\w+\}?", ".*", expr)  # $job, $instance, ... (all in =~ matchers)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    # JSON is YAML: promtool reads it as a rule file.
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"groups": [{"name": "dedupe-dashboard-queries", "rules": rules}]}, f, indent=2)
    print(f"dashboard queries: {len(rules)} written as recording rules to {out}")


def scrape(source):
    if re.match(r"^https?://", source):
        with urllib.request.urlopen(source, timeout=10) as r:
            return r.read().decode("utf-8")
    return read(source)


def exported_names(text):
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def check_names(sources, wait_seconds):
    wanted = {}  # name -> where it is used
    for expr in rule_exprs(read(RULES)):
        for n in promql_names(expr):
            wanted.setdefault(n, set()).add("dedupe-alerts.yaml")
    for n in test_series_names(read(TESTS)):
        wanted.setdefault(n, set()).add("dedupe-alerts.test.yaml")
    for where, expr in dashboard_queries(dashboard()):
        for n in promql_names(expr):
            wanted.setdefault(n, set()).add("dedupe-dashboard.json")
    if not wanted:
        fail("found no metric name in the rules or the dashboard: the extraction is broken")
    for n in PROMETHEUS_MADE:
        wanted.pop(n, None)

    # Some meters appear only once the node has served calls or run a maintenance pass
    # (per-namespace gauges, request histograms): scrape again until they do.
    deadline = time.monotonic() + wait_seconds
    while True:
        exported, errors = set(), []
        for source in sources:
            try:
                exported |= exported_names(scrape(source))
            except Exception as e:  # noqa: BLE001 - a node not up yet is retried
                errors.append(f"{source}: {e}")
        missing = sorted(set(wanted) - exported)
        if not missing and not errors:
            break
        if time.monotonic() >= deadline:
            lines = [f"{n} (used in {', '.join(sorted(wanted[n]))})" for n in missing] + errors
            fail("\n  ".join([f"names not exported by {', '.join(sources)}:"] + lines))
        time.sleep(2)
    print(f"metric names: all {len(wanted)} used by the rules, their tests and the dashboard"
          f" are exported ({len(sources)} scrapes)")


def main(argv):
    if not argv:
        fail(__doc__)
    command, args = argv[0], argv[1:]
    if command == "static" and not args:
        check_static()
    elif command == "dashboard-rules" and len(args) == 1:
        write_dashboard_rules(args[0])
    elif command == "names" and args:
        wait = 0
        if args[0] == "--wait":
            wait, args = float(args[1]), args[2:]
        if not args:
            fail("names: give at least one scrape (URL or file)")
        check_names(args, wait)
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
