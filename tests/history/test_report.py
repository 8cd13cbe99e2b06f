"""The history's input to the report (``report_data``) and the re-audit's "Since the last audit"."""

from __future__ import annotations

import base64
import json
import re

from auditkit.history import HistoryStore, report_data
from auditkit.results import AuditDocument


def test_report_data_compares_with_the_newest_earlier_audit(recorded) -> None:
    current = AuditDocument.from_json((recorded.out / "results.json").read_bytes())
    with HistoryStore.open(recorded.db) as store:
        data = report_data(store, "history-tiny", current)
        assert report_data(store, "another-policy", current) is None
    assert data is not None
    json.dumps(data)  # plain JSON types only: the report takes it without importing the history
    assert data["previous"]["id"] == 2
    assert [a["id"] for a in data["audits"]] == [1, 2, None]  # oldest first, the current audit last
    assert data["audits"][-1]["verdict"] == current.verdict
    assert data["audits"][-1]["policy_sha256"] == current.policy.sha256 == data["previous"]["policy_sha256"]
    assert set(data["audits"][0]["scores"]["explainers"]) == {"saliency", "random"}
    assert set(data["audits"][0]["scores"]["explainers"]["saliency"]) == {"mege", "reco", "mu_fidelity"}
    changes = {(c["explainer"], c["metric"]): c for c in data["changes"]}
    assert len(changes) == 1 + 2 * 5  # accuracy, and five scores of each explainer
    # audit #2 reused #1's work, and the current results are #2's: nothing changed (a score undefined
    # in both, e.g. ReCo without S≠ pairs, has no change and no significance)
    assert changes[(None, "accuracy")]["change"] == 0.0
    for c in changes.values():
        assert (c["change"], c["significant"]) in ((0.0, False), (None, None))


def test_the_second_report_has_since_the_last_audit(recorded) -> None:
    html = (recorded.out / "report.html").read_text(encoding="utf-8")
    assert '<section id="since-last"' in html
    assert "This audit is compared with audit #1 of the same policy" in html
    assert "The policy file is the same (same SHA-256)." in html
    section = html.split('<section id="since-last"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr>") == 1 + 1 + 2 * 5  # header, accuracy, 5 scores x 2 explainers
    assert re.search(r"None of the \d+ scores with intervals changed significantly", section)
    (uri,) = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', section)
    assert base64.b64decode(uri).startswith(b"\x89PNG\r\n\x1a\n")
