"""What an audit will cost before it runs, and whether its evidence will be measurable.

:func:`make_plan` (``auditkit plan``, :func:`auditkit.plan`) counts the model evaluations of every
phase from the policy (:mod:`.counts`), measures this device's rates on the policy's own model
(:mod:`.calibrate`) and estimates each phase's seconds (:mod:`.plan`); :mod:`.measurable` says how
many S= and S≠ pairs to expect. ``auditkit run`` logs the plan before the first fold trains and
records it in results.json (``plan``) beside the time the engine measured for each stage.
"""

from auditkit.cost.calibrate import CalibrationError, Rates
from auditkit.cost.plan import Plan, PlanError, make_plan, plan_for

__all__ = ["CalibrationError", "Plan", "PlanError", "Rates", "make_plan", "plan_for"]
