"""Diagnosis of vLLM start-up logs: phases, figures, failure class and fix.

    from sparkpilot.diagnosis import diagnose, diagnose_many, LiveDiagnosis, check_answer
    d = diagnose(log_text); d.outcome, d.failure, d.phases, d.figures; d.to_dict()  # CONTRACTS.md shape

Modules: lines (cleaning, prefixes, timestamps), phases (phase markers, figures), signatures
(knowledge/failures.yaml, garbage and hang checks), analyze (batch and live diagnosis), pasted and
pasted_net (host-tool output an owner pastes: nvidia-smi, ip, ibv_devinfo, ib_write_bw, nccl-tests, ...).
"""

from __future__ import annotations

from sparkpilot.diagnosis.analyze import Diagnosis, Event, LiveDiagnosis, diagnose, diagnose_many, merge
from sparkpilot.diagnosis.phases import PHASES
from sparkpilot.diagnosis.signatures import Failure, check_answer, garbage_reason, hang_failure

__all__ = [
           "PHASES",
           "Diagnosis",
           "Event",
           "Failure",
           "LiveDiagnosis",
           "check_answer",
           "diagnose",
           "diagnose_many",
           "garbage_reason",
           "hang_failure",
           "merge",
]
