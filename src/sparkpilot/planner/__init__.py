"""The planner: pure functions from a request and a model's facts to a Plan.

    from sparkpilot.planner import PlanRequest, plan
    p = plan(PlanRequest("openai/gpt-oss-120b", nodes=1), model_info)
"""

from __future__ import annotations

from sparkpilot.planner.fit import Plan, PlanRequest, choose_parallel, plan

__all__ = ["Plan", "PlanRequest", "choose_parallel", "plan"]
