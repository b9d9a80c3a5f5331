#!/usr/bin/env python3
"""Pairwise precision, recall and F1 of a resolution map against ground truth.

usage: pairwise_eval.py [--restrict-to MAP0.csv] TRUTH.csv MAP.csv [MAP.csv ...]
TRUTH: source,record_key,person_id   MAP: source,record_key,profile_id (custos resolve
--map-out). A pair of records is predicted linked when both have the same non-empty
profile id, truly linked when they have the same person. Counted without listing
pairs: sum over groups of n*(n-1)/2. Records missing from a map count as singletons.
Prints one JSON line per map. --restrict-to keeps only the records MAP0 gives a profile
(those that carry something to link by): a restricted figure, to print beside the full
one, never instead of it."""
import csv, json, sys
from collections import Counter

def pairs(counter):
    return sum(n * (n - 1) // 2 for n in counter.values())

args = sys.argv[1:]
only = None
if args and args[0] == "--restrict-to":
    with open(args[1], newline="", encoding="utf-8") as f:
        only = {(r["source"], r["record_key"]) for r in csv.DictReader(f) if r["profile_id"]}
    args = args[2:]
sys.argv[1:] = args
truth = {}
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        if only is None or (row["source"], row["record_key"]) in only:
            truth[(row["source"], row["record_key"])] = row["person_id"]
true_pairs = pairs(Counter(truth.values()))

for path in sys.argv[2:]:
    pred = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["profile_id"] and (only is None or (row["source"], row["record_key"]) in only):
                pred[(row["source"], row["record_key"])] = row["profile_id"]
    pred_groups = Counter(pred.values())
    both = Counter((pred[k], truth[k]) for k in pred if k in truth)
    tp = pairs(both)
    pp = pairs(pred_groups)
    precision = tp / pp if pp else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # The same profiles cut apart wherever they join different persons: precision 1,
    # the same true pairs. For a map that links every record sharing an identifier,
    # this is the most any resolver using those identifiers alone can reach.
    split_f1 = 2 * recall / (1 + recall) if recall else 0.0
    missing = sum(1 for k in truth if k not in pred)
    print(json.dumps({"map": path, "records": len(truth), "unresolved": missing,
                      "profiles": len(pred_groups), "persons": len(set(truth.values())),
                      "true_pairs": true_pairs, "predicted_pairs": pp, "true_positive_pairs": tp,
                      "precision": round(precision, 4), "recall": round(recall, 4),
                      "f1": round(f1, 4), "split_f1": round(split_f1, 4)}))
