"""Sums up schemathesis NDJSON reports for .ci/schemathesis.sh: requests sent, answers by
status class, and every 5xx with its operation (no request may make the server fail).

Usage: python3 .ci/schemathesis-summary.py REPORT.ndjson...; exit status 1 if any answer
was a 5xx, so the figures and the verdict come from the same count.
"""

import collections
import json
import sys


def summarise(path):
    requests = 0
    by_class = collections.Counter()
    by_op = collections.defaultdict(collections.Counter)
    server_errors = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            label = recorder["label"]
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response")
                if response is None:
                    continue
                status = response["status_code"]
                requests += 1
                by_class[f"{status // 100}xx"] += 1
                by_op[label][status] += 1
                if status >= 500:
                    server_errors.append((label, status, interaction["request"]["uri"]))
    return requests, by_class, by_op, server_errors


def main(paths):
    total = 0
    all_errors = []
    operations = set()
    for path in paths:
        requests, by_class, by_op, server_errors = summarise(path)
        total += requests
        all_errors += server_errors
        operations |= set(by_op)
        classes = ", ".join(f"{k} {v}" for k, v in sorted(by_class.items()))
        print(f"{path}: {requests} requests over {len(by_op)} operations ({classes})")
    for label, status, uri in all_errors:
        print(f"5xx: {label} answered {status}: {uri}")
    print(f"total: {total} requests, {len(operations)} operations, {len(all_errors)} answers 5xx")
    return 1 if all_errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
