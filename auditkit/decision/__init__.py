"""Decision sheets (``auditkit explain``): one contested decision explained to the person it affects,
with the methods a signed audit certified for the system.

- :mod:`~auditkit.decision.record`: sheet.json, typed (torch-free).
- :mod:`~auditkit.decision.inputs`: the decisions asked for (images, a folder, a CSV log) and their
  checks; :mod:`~auditkit.decision.system`: the audit verified and its models loaded, once;
  :mod:`~auditkit.decision.figures`: the figures of one decision; :mod:`~auditkit.decision.words`:
  them in plain words; :mod:`~auditkit.decision.render`: sheet.html and sheet.pdf;
  :mod:`~auditkit.decision.sheets`: the sheets written, one folder each, with an index;
  :mod:`~auditkit.decision.dossier`: a sheet's folder written, signed, recorded in the history and
  verified with the audit it names (torch-free: the light verifier packages it, with this file,
  which therefore imports nothing).
"""
